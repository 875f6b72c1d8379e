// The HTTP server against hostile clients (issue 10): slow senders are cut
// off, and one client address cannot take every connection or every worker
// from the others. Other clients are loopback addresses of their own
// (127.0.0.2, ...). Outcomes are asserted, never durations.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/http_server.h"
#include "common/router.h"

namespace orch {
namespace {

using namespace std::chrono_literals;

// A client socket from `source` (a loopback address) to the server.
class Client {
 public:
  Client(const char* source, uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    inet_pton(AF_INET, source, &src.sin_addr);
    bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port);
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&dst), sizeof dst) == 0;
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Client() { close(fd_); }
  bool ok() const { return ok_; }
  bool Send(const std::string& s) { return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()); }
  // Everything until the server closes (or 10 s pass).
  std::string ReadAll(bool* closed = nullptr) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd_, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
    if (closed) *closed = n == 0 || (n < 0 && errno == ECONNRESET);  // not a receive timeout
    return out;
  }
  // The status code of one answer (reads until the header ends).
  int Status() {
    std::string out;
    char c;
    while (out.find("\r\n\r\n") == std::string::npos && recv(fd_, &c, 1, 0) == 1) out.push_back(c);
    return out.size() > 12 ? std::atoi(out.c_str() + 9) : 0;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

const std::string kGet = "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n";

class HttpLimitsTest : public ::testing::Test {
 protected:
  void Start(HttpServerOptions opts) {
    router_.Add("GET", "/fast", [](const HttpRequest&, const PathParams&) { return HttpResponse::Json(200, "{}"); });
    router_.Add("GET", "/hold", [this](const HttpRequest&, const PathParams&) {
      std::unique_lock lock(mu_);
      ++held_;
      cv_.notify_all();
      cv_.wait_for(lock, 20s, [this] { return released_; });
      return HttpResponse::Json(200, "{}");
    });
    auto s = HttpServer::Start(opts, [this](const HttpRequest& r) { return router_.Handle(r); });
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
  }
  void TearDown() override {
    Release();
    if (server_) server_->Shutdown();
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  bool WaitHeld(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return held_ >= n; });
  }

  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  int held_ = 0;
  bool released_ = false;
};

TEST_F(HttpLimitsTest, SlowLorisClientsAreCutOffAndOthersAreServedMeanwhile) {
  HttpServerOptions o;
  o.read_timeout = 500ms;
  o.max_connections_per_client = 4;
  Start(o);
  // Four clients each dribble a request header a byte at a time.
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < 4; ++i) {
    slow.push_back(std::make_unique<Client>("127.0.0.1", server_->port()));
    ASSERT_TRUE(slow.back()->ok());
  }
  std::atomic<bool> stop{false};
  std::thread dribble([&] {
    const std::string header = "GET /fast HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(1000, 'a');
    for (std::size_t i = 0; i < header.size() && !stop; ++i) {
      for (auto& c : slow) c->Send(std::string(1, header[i]));
      std::this_thread::sleep_for(50ms);
    }
  });
  // A fifth connection from the same address is refused with a reason...
  Client fifth("127.0.0.1", server_->port());
  std::string refused = fifth.ReadAll();
  EXPECT_NE(refused.find("429"), std::string::npos) << refused;
  EXPECT_NE(refused.find("limit per client"), std::string::npos) << refused;
  // ...while another client is served.
  Client other("127.0.0.2", server_->port());
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(other.Send(kGet));
  EXPECT_EQ(other.Status(), 200);
  // The dribblers are cut off: the server closes each (a 0-byte read).
  for (auto& c : slow) {
    bool closed = false;
    EXPECT_EQ(c->ReadAll(&closed).find("200 OK"), std::string::npos);
    EXPECT_TRUE(closed) << "a slow sender was not cut off";
  }
  stop = true;
  dribble.join();
  // Their slots are free again.
  Client again("127.0.0.1", server_->port());
  ASSERT_TRUE(again.Send(kGet));
  EXPECT_EQ(again.Status(), 200);
}

TEST_F(HttpLimitsTest, OneClientsBlockingRequestsCannotTakeEveryWorker) {
  HttpServerOptions o;
  o.worker_threads = 4;
  o.max_in_flight_per_client = 2;
  Start(o);
  Client h1("127.0.0.1", server_->port()), h2("127.0.0.1", server_->port());
  ASSERT_TRUE(h1.Send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(h2.Send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(WaitHeld(2));
  // A third request from the same client is refused at once...
  Client h3("127.0.0.1", server_->port());
  ASSERT_TRUE(h3.Send(kGet));
  EXPECT_EQ(h3.Status(), 429);
  // ...another client still gets a worker.
  Client other("127.0.0.3", server_->port());
  ASSERT_TRUE(other.Send(kGet));
  EXPECT_EQ(other.Status(), 200);
  Release();
  EXPECT_EQ(h1.Status(), 200);
  EXPECT_EQ(h2.Status(), 200);
  // And the client's share is back.
  Client h4("127.0.0.1", server_->port());
  ASSERT_TRUE(h4.Send(kGet));
  EXPECT_EQ(h4.Status(), 200);
}

TEST_F(HttpLimitsTest, TheInlineHandlerAnswersWhileEveryWorkerIsTaken) {
  HttpServerOptions o;
  o.worker_threads = 1;
  o.inline_handler = [](const HttpRequest& r) -> std::optional<HttpResponse> {
    if (r.path != "/beat") return std::nullopt;
    return HttpResponse::Json(200, "{\"inline\":true}");
  };
  Start(o);
  Client held("127.0.0.1", server_->port());
  ASSERT_TRUE(held.Send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(WaitHeld(1));  // the only worker is taken
  Client beat("127.0.0.2", server_->port());
  ASSERT_TRUE(beat.Send("POST /beat HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_EQ(beat.Status(), 200);
  Release();
  EXPECT_EQ(held.Status(), 200);
}

TEST_F(HttpLimitsTest, QuickRoutesAndLaterAnswersRunWhileEveryWorkerIsTaken) {
  router_.Add(
      "POST", "/quick",
      [](const HttpRequest&, const PathParams&) { return HttpResponse::Json(200, "{}"); },
      Router::Waits::kNever);
  // Answered "later" (as a write is when it commits): the answer is made
  // on the quick pool too.
  router_.Add(
      "POST", "/later",
      [](const HttpRequest&, const PathParams&) {
        HttpResponse r;
        r.later = [](HttpResponse::Reply reply) {
          reply([] { return HttpResponse::Json(201, "{}"); });
        };
        return r;
      },
      Router::Waits::kNever);
  HttpServerOptions o;
  o.worker_threads = 1;
  o.quick_threads = 1;
  o.quick = [this](const HttpRequest& r) { return router_.NeverWaits(r); };
  Start(o);
  Client held("127.0.0.1", server_->port());
  ASSERT_TRUE(held.Send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(WaitHeld(1));  // the only worker is taken (until Release, or 20 s)
  Client quick("127.0.0.2", server_->port());
  ASSERT_TRUE(quick.Send("POST /quick HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_EQ(quick.Status(), 200);
  Client later("127.0.0.3", server_->port());
  ASSERT_TRUE(later.Send("POST /later HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_EQ(later.Status(), 201);
  Release();
  EXPECT_EQ(held.Status(), 200);
}

TEST_F(HttpLimitsTest, PastTheTotalCapANewConnectionHearsWhy) {
  HttpServerOptions o;
  o.max_connections = 2;
  o.read_timeout = 5s;
  Start(o);
  Client a("127.0.0.1", server_->port()), b("127.0.0.2", server_->port());
  ASSERT_TRUE(a.Send(kGet));
  EXPECT_EQ(a.Status(), 200);  // both open, kept alive
  ASSERT_TRUE(b.Send(kGet));
  EXPECT_EQ(b.Status(), 200);
  Client c("127.0.0.3", server_->port());
  std::string out = c.ReadAll();
  EXPECT_NE(out.find("503"), std::string::npos) << out;
}

}  // namespace
}  // namespace orch
