// orch-test-udp-echo PORT: answers every UDP datagram on PORT with
// "echo: " and the datagram. Linked statically, so a container of the
// busybox test image runs it from a bind mount.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("bind");
    return 1;
  }
  std::printf("listening on udp %s\n", argv[1]);
  std::fflush(stdout);
  char buf[2048];
  for (;;) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd, buf + 6, sizeof buf - 6, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) continue;
    std::memcpy(buf, "echo: ", 6);
    sendto(fd, buf, static_cast<size_t>(n) + 6, 0, reinterpret_cast<sockaddr*>(&from), len);
  }
}
