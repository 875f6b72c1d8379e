// The Beast server frame and the libcurl client against each other on
// loopback: routing, body limit, malformed requests, shutdown.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <thread>

#include "common/http_client.h"
#include "common/http_server.h"
#include "common/router.h"
#include "tests/support/ports.h"

namespace orch {
namespace {

class HttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("POST", "/echo", [](const HttpRequest& req, const PathParams&) {
      return HttpResponse::Json(200, req.body);
    });
    router_.Add("GET", "/slow", [](const HttpRequest&, const PathParams&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      return HttpResponse::Json(200, "done");
    });
    HttpServerOptions opts;
    opts.body_limit = 1024;
    opts.read_timeout = std::chrono::milliseconds(300);
    auto s = HttpServer::Start(opts, [this](const HttpRequest& r) { return router_.Handle(r); });
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    base_ = "http://127.0.0.1:" + std::to_string(server_->port());
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  // Sends raw bytes and returns whatever the server answers before closing.
  std::string RawExchange(const std::string& bytes) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(server_->port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
    close(fd);
    return out;
  }

  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::string base_;
  HttpClient client_;
};

TEST_F(HttpTest, ClientAndServerRoundTrip) {
  auto resp = client_.Post(base_ + "/echo", "{\"hello\":1}");
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->body, "{\"hello\":1}");
  EXPECT_EQ(resp->content_type, "application/json");
}

TEST_F(HttpTest, UnknownPathAndWrongMethod) {
  EXPECT_EQ(client_.Get(base_ + "/nope")->status, 404);
  auto resp = client_.Get(base_ + "/echo");
  EXPECT_EQ(resp->status, 405);
  EXPECT_EQ(resp->Header("Allow"), "POST");
}

TEST_F(HttpTest, OversizeBodyIs413AndServerKeepsServing) {
  auto resp = client_.Post(base_ + "/echo", std::string(4096, 'x'));
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 413);
  EXPECT_NE(resp->body.find("exceeds the limit of 1024 bytes"), std::string::npos) << resp->body;
  EXPECT_EQ(client_.Post(base_ + "/echo", "ok")->status, 200);
}

TEST_F(HttpTest, GarbageIs400AndSilentClientIsDisconnected) {
  std::string answer = RawExchange("THIS IS NOT HTTP\r\n\r\n");
  EXPECT_NE(answer.find("400"), std::string::npos) << answer;
  // A client that sends half a request is cut off by the read timeout.
  std::string partial = RawExchange("GET /echo HTTP/1.1\r\nHost: x\r\n");
  EXPECT_TRUE(partial.empty()) << partial;
  EXPECT_EQ(client_.Post(base_ + "/echo", "still alive")->status, 200);
}

TEST_F(HttpTest, ShutdownLetsInFlightRequestsFinish) {
  std::thread t([&] {
    auto resp = client_.Get(base_ + "/slow");
    ASSERT_TRUE(resp.ok()) << resp.status().ToString();
    EXPECT_EQ(resp->body, "done");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server_->Shutdown();
  t.join();
  auto after = client_.Get(base_ + "/slow");
  EXPECT_FALSE(after.ok());
  EXPECT_EQ(after.status().code(), StatusCode::kUnavailable);
}

TEST(HttpClientTest, SpeaksHttpOnly) {
  // libcurl would read a file:// URL (or gopher://, dict://...) if asked.
  HttpClient client;
  for (const char* url : {"file:///etc/hostname", "dict://127.0.0.1:1/x", "gopher://127.0.0.1:1/"}) {
    auto r = client.Get(url);
    EXPECT_FALSE(r.ok()) << url << " answered " << (r.ok() ? r->body : "");
  }
}

TEST(HttpClientTest, RefusedConnectionIsUnavailable) {
  HttpClient client;
  auto resp = client.Get("http://127.0.0.1:" + std::to_string(testing::FreeLoopbackPort()) + "/");
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), StatusCode::kUnavailable);
}

TEST(HttpClientTest, UnixSocket) {
  // A tiny one-shot HTTP server on a unix socket, as dockerd would be.
  std::string path = ::testing::TempDir() + "/orch-http-test.sock";
  unlink(path.c_str());
  int srv = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(srv, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(srv, 1), 0);
  std::thread t([srv] {
    int c = accept(srv, nullptr, nullptr);
    char buf[4096];
    std::string req;
    while (req.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) break;
      req.append(buf, static_cast<std::size_t>(n));
    }
    std::string body = req.substr(0, req.find(' ') + 1 + req.substr(req.find(' ') + 1).find(' '));
    std::string resp = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    (void)!write(c, resp.data(), resp.size());
    close(c);
  });
  HttpClientOptions opts;
  opts.unix_socket = path;
  HttpClient client(opts);
  auto resp = client.Get("http://localhost/v1.41/info");
  t.join();
  close(srv);
  unlink(path.c_str());
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->body, "GET /v1.41/info");
}

}  // namespace
}  // namespace orch
