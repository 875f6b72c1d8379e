#include "tests/support/ports.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <random>
#include <set>

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
  // another test's pick can collide, and the bind check plus a random
  // choice make that rare. Never the same port twice in one process.
  const int first = 13000, last = std::min(EphemeralLow(), 20000) - 1;
  std::lock_guard lock(PickMutex());
  if (last > first) {
    std::uniform_int_distribution<int> pick(first, last);
    for (int attempt = 0; attempt < 500; ++attempt) {
      int port = pick(Rng());
      if (Given().count(port) || !Bindable(&port)) continue;
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
    if (!ok) continue;
    for (int p = start; p < start + count; ++p) Given().insert(p);
    return start;
  }
  return 0;
}

}  // namespace orch::testing
