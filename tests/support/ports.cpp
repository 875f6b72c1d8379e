#include "tests/support/ports.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <string>

namespace orch::testing {
namespace {

// Whether 127.0.0.1:`port` can be bound now (0: any; *port gets the one).
bool Bindable(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(*port));
  socklen_t len = sizeof(addr);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
            getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  if (ok) *port = ntohs(addr.sin_port);
  close(fd);
  return ok;
}

// The low end of the kernel's ephemeral range: outgoing connections take
// their local port from [low, high], so a port picked there can be taken
// by any client socket between the pick and the server's bind.
int EphemeralLow() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768, high = 60999;
  if (!(in >> low >> high)) low = 32768;
  return low;
}

// Ports given out are also claimed across processes: every test process
// (ctest -j runs several, each picking from the same range) takes an
// open-file-description lock on the bytes [port, port + count) of one
// shared file, held until the process exits. A port another test process
// picked stays its own until that process ends, even while nothing is
// bound to it (the pick, then the master's bind a moment later, or a
// restart on the same port), so no test can take it in between.
// A forked child opens its own description: what it claims is its own.
int ClaimFile() {
  static int fd = -1;
  static pid_t opened_by = 0;
  if (opened_by != getpid()) {
    opened_by = getpid();
    const char* tmp = getenv("TMPDIR");
    std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/orch-test-ports.lock";
    fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd >= 0) fchmod(fd, 0666);  // tests run as other users too
  }
  return fd;
}

// ClaimLoopbackPorts with PickMutex held.
bool Claim(int first, int count) {
  int fd = ClaimFile();
  if (fd < 0) return true;  // no shared file (unwritable /tmp): nothing to check against
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = first;
  lock.l_len = count;
  return fcntl(fd, F_OFD_SETLK, &lock) == 0;
}

}  // namespace

namespace {
std::mutex& PickMutex() {
  static std::mutex mu;
  return mu;
}
std::set<int>& Given() {
  static std::set<int> given;
  return given;
}
std::mt19937& Rng() {
  static std::mt19937 rng(std::random_device{}());
  return rng;
}
}  // namespace

int FreeLoopbackPort() {
  // Below the ephemeral range and clear of orch's own defaults (4646-4650,
  // service ports 12000-12999, the scheduler's dynamic ports 20000+): only
  // another test's pick could collide, and the claim rules that out. Never
  // the same port twice in one process.
  const int first = 13000, last = std::min(EphemeralLow(), 20000) - 1;
  std::lock_guard lock(PickMutex());
  if (last > first) {
    std::uniform_int_distribution<int> pick(first, last);
    for (int attempt = 0; attempt < 500; ++attempt) {
      int port = pick(Rng());
      if (Given().count(port) || !Bindable(&port) || !Claim(port, 1)) continue;
      Given().insert(port);
      return port;
    }
  }
  int port = 0;  // the range is full (or absent): any free port
  return Bindable(&port) ? port : 0;
}

int FreeLoopbackPortRange(int count) {
  const int first = 13000, last = std::min(EphemeralLow(), 20000) - 1;
  std::lock_guard lock(PickMutex());
  if (count <= 0 || last - first + 1 < count) return 0;
  std::uniform_int_distribution<int> pick(first, last - count + 1);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int start = pick(Rng());
    bool ok = true;
    for (int p = start; p < start + count && ok; ++p) {
      int port = p;
      ok = !Given().count(p) && Bindable(&port);
    }
    if (!ok || !Claim(start, count)) continue;
    for (int p = start; p < start + count; ++p) Given().insert(p);
    return start;
  }
  return 0;
}

bool ClaimLoopbackPorts(int first, int count) {
  std::lock_guard lock(PickMutex());
  return Claim(first, count);
}

}  // namespace orch::testing
