// Feeds (HttpResponse::Feed, the event stream's transport): many
// subscribers wait on one worker without holding it, each gets what follows
// its cursor when the index moves, idle feeds get heartbeats, a feed whose
// `next` says so ends with the last chunk, and a server shutdown ends the
// feeds still open.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/http_client.h"
#include "common/http_server.h"
#include "common/index_waiters.h"

namespace orch {
namespace {

using namespace std::chrono_literals;

// A raw client connection that sends one request and reads what comes.
class RawClient {
 public:
  RawClient(uint16_t port, const std::string& target) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: test\r\n\r\n";
    ok_ = ok_ &&
          ::send(fd_, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
  }
  ~RawClient() { ::close(fd_); }
  bool ok() const { return ok_; }
  // Reads until `text` has arrived (true), the peer closed or `limit` passed.
  bool ReadUntil(const std::string& text, std::chrono::milliseconds limit = 10s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (got_.find(text) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        closed_ = true;
        return got_.find(text) != std::string::npos;
      }
      got_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads until the peer closes (true) or `limit` passes.
  bool ReadToEnd(std::chrono::milliseconds limit = 10s) {
    ReadUntil("\x01never", limit);
    return closed_;
  }
  const std::string& got() const { return got_; }

 private:
  int fd_ = -1;
  bool ok_ = false;
  bool closed_ = false;
  std::string got_;
};

// A server whose /feed answers "line N\n" for every index N past the
// subscriber's cursor, up to `index`; ?end=N ends the feed once past N.
struct FeedServer {
  IndexWaiters waiters;
  std::atomic<uint64_t> index{0};
  std::unique_ptr<HttpServer> server;
  std::chrono::milliseconds idle{10'000};

  void Start(int workers) {
    HttpServerOptions opts;
    opts.worker_threads = workers;
    auto s = HttpServer::Start(opts, [this](const HttpRequest& req) {
      if (req.path != "/feed") return HttpResponse::Json(200, "{\"plain\":true}");
      HttpResponse r;
      r.content_type = "application/x-ndjson";
      HttpResponse::Feed f;
      f.waiters = &waiters;
      f.idle = idle;
      f.heartbeat = "{}\n";
      const uint64_t end = std::stoull(req.Query("end", "0"));
      f.next = [this, end](uint64_t* cursor, std::string* out) {
        for (uint64_t now = index.load(); *cursor < now;)
          *out += "line " + std::to_string(++*cursor) + "\n";
        return end == 0 || *cursor < end;
      };
      r.feed = std::move(f);
      return r;
    });
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server = std::move(*s);
  }
  void Advance(uint64_t to) {
    index = to;
    waiters.Advance(to);
  }
  uint16_t port() const { return server->port(); }
};

TEST(HttpFeedTest, ManySubscribersWaitWithoutHoldingTheOneWorker) {
  FeedServer fs;
  fs.Start(/*workers=*/1);
  std::vector<std::unique_ptr<RawClient>> subs;
  for (int i = 0; i < 40; ++i) {
    subs.push_back(std::make_unique<RawClient>(fs.port(), "/feed"));
    ASSERT_TRUE(subs.back()->ok());
    ASSERT_TRUE(subs.back()->ReadUntil("\r\n\r\n"))
        << "subscriber " << i << " got no head: " << subs.back()->got();
    EXPECT_NE(subs.back()->got().find("Transfer-Encoding: chunked"), std::string::npos);
  }
  // 40 feeds wait; the one worker still answers a plain request.
  HttpClient client;
  auto plain = client.Get("http://127.0.0.1:" + std::to_string(fs.port()) + "/plain");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->body, "{\"plain\":true}");
  EXPECT_EQ(fs.waiters.waiting(), 40u);

  fs.Advance(2);
  for (auto& s : subs) EXPECT_TRUE(s->ReadUntil("line 2\n")) << s->got();
  for (auto& s : subs) EXPECT_NE(s->got().find("line 1\n"), std::string::npos);
  fs.Advance(3);
  for (auto& s : subs) EXPECT_TRUE(s->ReadUntil("line 3\n")) << s->got();

  // Shutdown ends every feed with the last chunk, and closes.
  fs.server->Shutdown();
  for (auto& s : subs) {
    EXPECT_TRUE(s->ReadToEnd()) << s->got();
    EXPECT_NE(s->got().find("0\r\n\r\n"), std::string::npos);
  }
}

TEST(HttpFeedTest, IdleFeedsGetHeartbeatsAndAFeedThatEndsSaysSo) {
  FeedServer fs;
  fs.idle = 50ms;
  fs.Start(/*workers=*/2);
  RawClient idle(fs.port(), "/feed");
  ASSERT_TRUE(idle.ok());
  // Two heartbeats without an index change: they repeat.
  auto heartbeats = [&] {
    std::size_t n = 0;
    for (std::size_t at = 0; (at = idle.got().find("{}\n", at)) != std::string::npos; at += 3) ++n;
    return n;
  };
  for (int i = 0; i < 200 && heartbeats() < 2; ++i) idle.ReadUntil("\x01never", 50ms);
  EXPECT_GE(heartbeats(), 2u) << idle.got();

  // A feed that ends after index 2: its lines, then the end of the answer.
  HttpClient client;
  std::string body;
  std::thread advance([&] {
    std::this_thread::sleep_for(100ms);
    fs.Advance(1);
    std::this_thread::sleep_for(100ms);
    fs.Advance(3);
  });
  auto resp = client.Stream("GET", "http://127.0.0.1:" + std::to_string(fs.port()) + "/feed?end=2",
                            [&](std::string_view piece) {
                              body.append(piece);
                              return true;
                            });
  advance.join();
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 200);
  // Heartbeats may come between; the lines come once, in order, and stop at the end.
  std::string lines;
  for (std::size_t at = 0; (at = body.find("line ", at)) != std::string::npos; at += 5) {
    lines += body.substr(at, body.find('\n', at) - at) + ";";
  }
  EXPECT_EQ(lines, "line 1;line 2;line 3;") << body;
  fs.server->Shutdown();
}

}  // namespace
}  // namespace orch
