// The TCP proxy on loopback against in-process backends (plain blocking
// sockets, one thread per connection): balancing, retry on connect failure,
// drain of removed endpoints, back-pressure, half-close, idle timeout.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "agent/lb/proxy.h"
#include "tests/support/ports.h"

namespace orch::agent::lb {
namespace {

using namespace std::chrono_literals;

bool WaitFor(const std::function<bool()>& f, std::chrono::milliseconds timeout = 10s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return f();
}

void SetRecvTimeout(int fd, std::chrono::milliseconds t) {
  timeval tv{static_cast<time_t>(t.count() / 1000), static_cast<suseconds_t>((t.count() % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

int Connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  SetRecvTimeout(fd, 10s);
  return fd;
}

bool SendAll(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads until `n` bytes arrived, EOF, or the receive timeout.
std::string RecvN(int fd, std::size_t n) {
  std::string out;
  char buf[4096];
  while (out.size() < n) {
    ssize_t r = recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (r <= 0) break;
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

// Reads until EOF; `eof` says whether EOF (not a timeout or error) ended it.
std::string RecvAll(int fd, bool* eof) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t r = recv(fd, buf, sizeof buf, 0);
    if (r == 0) {
      *eof = true;
      return out;
    }
    if (r < 0) {
      *eof = false;
      return out;
    }
    out.append(buf, static_cast<std::size_t>(r));
  }
}

// A backend: greets each connection with "<id>\n", then runs `serve`
// (default: echo until EOF, then "bye" and close).
class Backend {
 public:
  using Serve = std::function<void(int fd)>;
  explicit Backend(std::string id, Serve serve = nullptr) : id_(std::move(id)), serve_(std::move(serve)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 128);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~Backend() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    accept_thread_.join();
    std::lock_guard lk(mu_);
    for (int c : conns_) shutdown(c, SHUT_RDWR);
    for (auto& t : threads_) t.join();
    for (int c : conns_) close(c);
  }
  uint16_t port() const { return port_; }
  Endpoint endpoint(int weight = 1) const { return Endpoint{id_, "127.0.0.1", port_, weight}; }
  int accepted() const { return accepted_; }

 private:
  void AcceptLoop() {
    while (!stop_) {
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (stop_) return;
        continue;
      }
      accepted_++;
      std::lock_guard lk(mu_);
      conns_.push_back(c);
      threads_.emplace_back([this, c] {
        SendAll(c, id_ + "\n");
        if (serve_) {
          serve_(c);
          return;
        }
        char buf[4096];
        for (;;) {
          ssize_t n = recv(c, buf, sizeof buf, 0);
          if (n <= 0) break;
          if (!SendAll(c, std::string(buf, static_cast<std::size_t>(n)))) return;
        }
        SendAll(c, "bye");
        shutdown(c, SHUT_WR);
      });
    }
  }

  std::string id_;
  Serve serve_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<int> conns_;
  std::vector<std::thread> threads_;
};

class ProxyTest : public ::testing::Test {
 protected:
  void StartProxy(ProxyOptions o = {}) {
    o.bind = "127.0.0.1";
    if (o.io_threads == 0) o.io_threads = 2;
    auto p = Proxy::Start(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    proxy_ = std::move(p).value();
  }
  uint16_t Serve(StrategyKind k, std::vector<Endpoint> eps) {
    Status st = proxy_->Update({ServiceConfig{"web", 0, k, std::move(eps)}});
    EXPECT_TRUE(st.ok()) << st.ToString();
    return proxy_->ListenPort("web");
  }
  // Opens a connection through the proxy and returns the backend's id.
  std::string Hello(uint16_t port, int* fd_out = nullptr) {
    int fd = Connect(port);
    if (fd < 0) return "connect failed";
    std::string line;
    char c;
    while (recv(fd, &c, 1, 0) == 1 && c != '\n') line += c;
    if (fd_out) {
      *fd_out = fd;
    } else {
      close(fd);
    }
    return line;
  }

  std::unique_ptr<Proxy> proxy_;
};

TEST_F(ProxyTest, RoundRobinSpreadsConnectionsInOrder) {
  Backend a("a"), b("b"), c("c");
  StartProxy();
  uint16_t port = Serve(StrategyKind::kRoundRobin, {a.endpoint(), b.endpoint(), c.endpoint()});
  ASSERT_NE(port, 0);
  std::string seq;
  for (int i = 0; i < 9; ++i) seq += Hello(port);
  EXPECT_EQ(seq, "abcabcabc");
}

TEST_F(ProxyTest, WeightedFollowsTheSmoothSequence) {
  Backend a("a"), b("b"), c("c");
  StartProxy();
  uint16_t port = Serve(StrategyKind::kWeighted, {a.endpoint(5), b.endpoint(1), c.endpoint(1)});
  std::string seq;
  for (int i = 0; i < 7; ++i) seq += Hello(port);
  EXPECT_EQ(seq, "aabacaa");
}

TEST_F(ProxyTest, LeastConnectionsAvoidsTheBusyBackend) {
  Backend a("a"), b("b");
  StartProxy();
  uint16_t port = Serve(StrategyKind::kLeastConnections, {a.endpoint(), b.endpoint()});
  int held = -1;
  EXPECT_EQ(Hello(port, &held), "a");  // stays open
  ASSERT_TRUE(WaitFor([&] { return proxy_->ActiveConnections("web", "a") == 1; }));
  std::string seq;
  for (int i = 0; i < 4; ++i) {
    seq += Hello(port);
    // Each short connection is over before the next one starts.
    ASSERT_TRUE(WaitFor([&] { return proxy_->ActiveConnections("web", "b") == 0; }));
  }
  EXPECT_EQ(seq, "bbbb");
  close(held);
  ASSERT_TRUE(WaitFor([&] { return proxy_->ActiveConnections("web", "a") == 0; }));
}

TEST_F(ProxyTest, ConnectFailureTriesTheNextEndpointWithoutClientError) {
  Backend b("b"), c("c");
  uint16_t dead = static_cast<uint16_t>(orch::testing::FreeLoopbackPort());  // nobody listens
  StartProxy();
  uint16_t port = Serve(StrategyKind::kRoundRobin,
                        {Endpoint{"dead", "127.0.0.1", dead, 1}, b.endpoint(), c.endpoint()});
  std::map<std::string, int> got;
  for (int i = 0; i < 30; ++i) got[Hello(port)]++;
  EXPECT_EQ(got.size(), 2u) << "every connection must reach b or c";
  EXPECT_GT(got["b"], 0);
  EXPECT_GT(got["c"], 0);
  EXPECT_GE(proxy_->Stats().connect_failures, 1u);
  EXPECT_EQ(proxy_->Stats().rejected, 0u);
}

TEST_F(ProxyTest, CountsByServiceAndByEndpoint) {
  // Backends that say their name, then only read until the client goes,
  // and end their side too.
  auto drain = [](int fd) {
    char buf[64];
    while (recv(fd, buf, sizeof buf, 0) > 0) {
    }
    shutdown(fd, SHUT_WR);
  };
  Backend b("b", drain), c("c", drain);
  uint16_t dead = static_cast<uint16_t>(orch::testing::FreeLoopbackPort());  // nobody listens
  StartProxy();
  uint16_t port = Serve(StrategyKind::kRoundRobin,
                        {Endpoint{"dead", "127.0.0.1", dead, 1}, b.endpoint(), c.endpoint()});
  for (int i = 0; i < 10; ++i) {
    int fd = -1;
    ASSERT_NE(Hello(port, &fd), "connect failed");
    SendAll(fd, "ping\n");
    close(fd);
  }
  ASSERT_TRUE(WaitFor([&] {
    auto all = proxy_->PerService();
    return all.size() == 1 && all[0].counts.connected == 10 && all[0].counts.active == 0 &&
           all[0].bytes_to_endpoints == 50;
  })) << "connected "
      << proxy_->PerService()[0].counts.connected << ", active "
      << proxy_->PerService()[0].counts.active << ", bytes to endpoints "
      << proxy_->PerService()[0].bytes_to_endpoints;
  ServiceStats s = proxy_->PerService()[0];
  EXPECT_EQ(s.name, "web");
  EXPECT_EQ(s.counts.accepted, 10u);
  EXPECT_GE(s.counts.connect_failures, 1u);
  EXPECT_EQ(s.counts.rejected, 0u);
  EXPECT_EQ(s.bytes_to_clients, 20u);  // "b\n" or "c\n" each time
  EXPECT_EQ(s.bytes_to_endpoints, 50u);
  std::map<std::string, EndpointStats> by;
  for (const auto& e : s.endpoints) by[e.address] = e;
  ASSERT_EQ(by.size(), 3u);
  const std::string dead_addr = "127.0.0.1:" + std::to_string(dead);
  const std::string b_addr = "127.0.0.1:" + std::to_string(b.endpoint().port);
  const std::string c_addr = "127.0.0.1:" + std::to_string(c.endpoint().port);
  EXPECT_EQ(by[dead_addr].connections, 0u);
  EXPECT_EQ(by[dead_addr].connect_failures, s.counts.connect_failures);
  EXPECT_GT(by[b_addr].connections, 0u);
  EXPECT_GT(by[c_addr].connections, 0u);
  EXPECT_EQ(by[b_addr].connections + by[c_addr].connections, 10u);
  EXPECT_EQ(proxy_->Stats().connected, 10u);  // the proxy's totals are the sum
  // An endpoint gone from the service takes its counts along.
  Serve(StrategyKind::kRoundRobin, {b.endpoint()});
  s = proxy_->PerService()[0];
  ASSERT_EQ(s.endpoints.size(), 1u);
  EXPECT_EQ(s.endpoints[0].address, b_addr);
  EXPECT_EQ(s.endpoints[0].connections, by[b_addr].connections);
}

TEST_F(ProxyTest, ConnectTimeoutMovesOnToTheNextEndpoint) {
  // A listener that never accepts, its queue full: further connects hang.
  int stuck = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(stuck, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(stuck, 0), 0);
  socklen_t len = sizeof a;
  getsockname(stuck, reinterpret_cast<sockaddr*>(&a), &len);
  uint16_t stuck_port = ntohs(a.sin_port);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    int f = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    connect(f, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fillers.push_back(f);
  }
  Backend b("b");
  ProxyOptions o;
  o.connect_timeout = 200ms;
  StartProxy(o);
  uint16_t port = Serve(StrategyKind::kRoundRobin, {Endpoint{"stuck", "127.0.0.1", stuck_port, 1}, b.endpoint()});
  // The first pick is the stuck endpoint; the client still gets b.
  EXPECT_EQ(Hello(port), "b");
  EXPECT_GE(proxy_->Stats().connect_failures, 1u);
  for (int f : fillers) close(f);
  close(stuck);
}

TEST_F(ProxyTest, NoEndpointClosesTheClient) {
  uint16_t dead = static_cast<uint16_t>(orch::testing::FreeLoopbackPort());
  StartProxy();
  uint16_t port = Serve(StrategyKind::kRoundRobin, {Endpoint{"dead", "127.0.0.1", dead, 1}});
  int fd = Connect(port);
  ASSERT_GE(fd, 0);
  bool eof = false;
  EXPECT_EQ(RecvAll(fd, &eof), "");
  EXPECT_TRUE(eof) << "the client must be closed, not left hanging";
  close(fd);
  EXPECT_TRUE(WaitFor([&] { return proxy_->Stats().rejected == 1; }));
}

TEST_F(ProxyTest, RemovedEndpointDrainsOpenConnectionsAndGetsNoNewOnes) {
  Backend a("a"), b("b");
  StartProxy();
  uint16_t port = Serve(StrategyKind::kRoundRobin, {a.endpoint()});
  int fd = -1;
  ASSERT_EQ(Hello(port, &fd), "a");
  // a leaves, b arrives.
  ASSERT_TRUE(proxy_->Update({ServiceConfig{"web", port, StrategyKind::kRoundRobin, {b.endpoint()}}}).ok());
  EXPECT_EQ(proxy_->ListenPort("web"), port);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Hello(port), "b");
  // The open connection to a still works both ways.
  ASSERT_TRUE(SendAll(fd, "still here"));
  EXPECT_EQ(RecvN(fd, 10), "still here");
  EXPECT_EQ(a.accepted(), 1);
  close(fd);
}

TEST_F(ProxyTest, RemovedServiceStopsListeningButOpenConnectionsFinish) {
  Backend a("a");
  StartProxy();
  uint16_t port = Serve(StrategyKind::kRoundRobin, {a.endpoint()});
  int fd = -1;
  ASSERT_EQ(Hello(port, &fd), "a");
  ASSERT_TRUE(proxy_->Update({}).ok());
  EXPECT_EQ(proxy_->ListenPort("web"), 0);
  EXPECT_TRUE(WaitFor([&] {
    int c = Connect(port);
    if (c >= 0) close(c);
    return c < 0;
  })) << "the listener must close";
  ASSERT_TRUE(SendAll(fd, "ping"));
  EXPECT_EQ(RecvN(fd, 4), "ping");
  close(fd);
}

TEST_F(ProxyTest, HalfClosePropagatesBothWays) {
  Backend a("a");
  StartProxy();
  uint16_t port = Serve(StrategyKind::kRoundRobin, {a.endpoint()});
  int fd = -1;
  ASSERT_EQ(Hello(port, &fd), "a");
  ASSERT_TRUE(SendAll(fd, "request"));
  // The client is done sending; the backend must see EOF, answer "bye" and
  // close, and the client must then see EOF.
  ASSERT_EQ(shutdown(fd, SHUT_WR), 0);
  bool eof = false;
  EXPECT_EQ(RecvAll(fd, &eof), "requestbye");
  EXPECT_TRUE(eof);
  close(fd);
  EXPECT_TRUE(WaitFor([&] { return proxy_->Stats().active == 0; }));
}

TEST_F(ProxyTest, BackPressureBoundsWhatTheProxyHolds) {
  // The backend reads nothing until told to, then counts all it gets.
  std::atomic<bool> go{false};
  std::atomic<std::size_t> received{0};
  std::atomic<uint64_t> sum{0};
  Backend slow("slow", [&](int fd) {
    while (!go) std::this_thread::sleep_for(5ms);
    char buf[65536];
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      uint64_t s = 0;
      for (ssize_t i = 0; i < n; ++i) s += static_cast<unsigned char>(buf[i]);
      sum += s;
      received += static_cast<std::size_t>(n);
    }
    SendAll(fd, "done");
    shutdown(fd, SHUT_WR);
  });
  StartProxy();
  uint16_t port = Serve(StrategyKind::kRoundRobin, {slow.endpoint()});
  int fd = -1;
  ASSERT_EQ(Hello(port, &fd), "slow");
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  const std::size_t total = 256u << 20;  // far beyond any socket buffers
  std::string chunk(1 << 16, '\0');
  for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>(i * 7);
  std::size_t written = 0;
  uint64_t want_sum = 0;
  auto stuck_since = std::chrono::steady_clock::now();
  while (written < total && std::chrono::steady_clock::now() - stuck_since < 1s) {
    std::size_t off = written % chunk.size();
    ssize_t n = send(fd, chunk.data() + off, chunk.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      for (ssize_t i = 0; i < n; ++i) want_sum += static_cast<unsigned char>(chunk[off + i]);
      written += static_cast<std::size_t>(n);
      stuck_since = std::chrono::steady_clock::now();
    } else {
      std::this_thread::sleep_for(1ms);
    }
  }
  // The writer was stopped: the proxy did not keep reading into memory.
  EXPECT_LT(written, total);
  EXPECT_EQ(received.load(), 0u);
  // Now the backend reads; every byte arrives, in order.
  go = true;
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  shutdown(fd, SHUT_WR);
  bool eof = false;
  EXPECT_EQ(RecvAll(fd, &eof), "done");
  EXPECT_TRUE(eof);
  EXPECT_EQ(received.load(), written);
  EXPECT_EQ(sum.load(), want_sum);
  close(fd);
}

TEST_F(ProxyTest, IdleConnectionsAreClosed) {
  Backend a("a");
  ProxyOptions o;
  o.idle_timeout = 300ms;
  StartProxy(o);
  uint16_t port = Serve(StrategyKind::kRoundRobin, {a.endpoint()});
  int fd = -1;
  ASSERT_EQ(Hello(port, &fd), "a");
  bool eof = false;
  RecvAll(fd, &eof);  // nothing more is sent: the proxy must close it
  EXPECT_TRUE(eof);
  close(fd);
}

TEST_F(ProxyTest, UnbindablePortIsReportedAndOthersAreServed) {
  Backend a("a");
  StartProxy();
  Backend squatter("x");  // holds a port
  Status st = proxy_->Update({ServiceConfig{"taken", squatter.port(), StrategyKind::kRoundRobin, {a.endpoint()}},
                              ServiceConfig{"web", 0, StrategyKind::kRoundRobin, {a.endpoint()}}});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("taken"), std::string::npos) << st.message();
  EXPECT_EQ(proxy_->ListenPort("taken"), 0);
  EXPECT_EQ(Hello(proxy_->ListenPort("web")), "a");
}

TEST(ProxyOptionsTest, RejectsABadBindAddress) {
  ProxyOptions o;
  o.bind = "not-an-ip";
  EXPECT_FALSE(Proxy::Start(o).ok());
}

}  // namespace
}  // namespace orch::agent::lb
