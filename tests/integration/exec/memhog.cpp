// exec_memhog: allocates and touches memory, 4 MiB at a time, until the
// kernel stops it (the exec integration tests run it under a memory limit)
// or 4 GiB are reached; then sleeps so a missing limit shows as "still
// running" rather than as an exit.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main() {
  constexpr size_t kChunk = 4 << 20;
  for (int i = 0; i < 1024; ++i) {
    char* p = static_cast<char*>(malloc(kChunk));
    if (p == nullptr) return 3;
    memset(p, i & 0xff, kChunk);
    if (i % 8 == 0) {
      printf("allocated %d MiB\n", (i + 1) * 4);
      fflush(stdout);
    }
  }
  sleep(600);
  return 0;
}
