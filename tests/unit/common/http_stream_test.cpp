// Streamed HTTP answers: a handler's HttpResponse::stream goes out chunked
// as it is written, HttpClient::Stream hands it over piece by piece, a
// client that stops makes the writer report false, and a server shutdown
// ends a stream that is still going.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/http_client.h"
#include "common/http_server.h"

namespace orch {
namespace {

using namespace std::chrono_literals;

TEST(HttpStreamTest, ChunksArriveAsWrittenAndPlainAnswersStillWork) {
  std::atomic<bool> release{false};
  auto server = HttpServer::Start({}, [&](const HttpRequest& req) {
    HttpResponse r;
    if (req.path != "/stream") return HttpResponse::Json(200, "{\"plain\":true}");
    r.content_type = "text/plain";
    r.headers.emplace_back("X-Test", "yes");
    r.stream = [&](const HttpStreamWriter& write) {
      write("first\n");
      while (!release.load()) {
        if (!write("")) return;
        std::this_thread::sleep_for(5ms);
      }
      write("second\n");
    };
    return r;
  });
  ASSERT_TRUE(server.ok());
  std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  HttpClient client;
  std::string got;
  auto resp = client.Stream("GET", base + "/stream", [&](std::string_view piece) {
    got.append(piece);
    if (got == "first\n") release = true;  // the first piece came before the rest was written
    return true;
  });
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 200);
  EXPECT_EQ(resp->Header("X-Test"), "yes");
  EXPECT_EQ(resp->Header("Transfer-Encoding"), "chunked");
  EXPECT_EQ(got, "first\nsecond\n");
  auto plain = client.Get(base + "/plain");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->body, "{\"plain\":true}");
  (*server)->Shutdown();
}

TEST(HttpStreamTest, ErrorAnswersKeepTheirBodyAndClientThatStopsEndsTheStream) {
  std::atomic<bool> writer_saw_stop{false};
  auto server = HttpServer::Start({}, [&](const HttpRequest& req) {
    if (req.path == "/missing") return HttpResponse::Error(Status::NotFound("no such thing"));
    HttpResponse r;
    r.stream = [&](const HttpStreamWriter& write) {
      for (int i = 0; i < 20000; ++i) {
        if (!write("tick\n")) {
          writer_saw_stop = true;
          return;
        }
        std::this_thread::sleep_for(1ms);
      }
    };
    return r;
  });
  ASSERT_TRUE(server.ok());
  std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  HttpClient client;
  std::string pieces;
  auto missing = client.Stream("GET", base + "/missing", [&](std::string_view p) {
    pieces.append(p);
    return true;
  });
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_TRUE(pieces.empty()) << "an error body went to the stream callback";
  EXPECT_NE(missing->body.find("no such thing"), std::string::npos);

  int seen = 0;
  auto stopped = client.Stream("GET", base + "/ticks", [&](std::string_view p) {
    if (!p.empty()) ++seen;
    return seen < 3;
  });
  EXPECT_TRUE(stopped.ok()) << "stopping on purpose is no error";
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!writer_saw_stop && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(writer_saw_stop.load()) << "the server kept writing to a client that left";
  (*server)->Shutdown();
}

TEST(HttpStreamTest, ShutdownEndsARunningStream) {
  std::atomic<bool> started{false}, ended{false};
  auto server = HttpServer::Start({}, [&](const HttpRequest&) {
    HttpResponse r;
    r.stream = [&](const HttpStreamWriter& write) {
      started = true;
      while (write("")) std::this_thread::sleep_for(5ms);  // a quiet, endless stream
      ended = true;
    };
    return r;
  });
  ASSERT_TRUE(server.ok());
  std::thread reader([&] {
    HttpClient client;
    (void)client.Stream("GET", "http://127.0.0.1:" + std::to_string((*server)->port()) + "/",
                        [](std::string_view) { return true; });
  });
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!started && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(started.load());
  (*server)->Shutdown(100ms);  // returns only once the handler is done
  EXPECT_TRUE(ended.load());
  reader.join();
}

}  // namespace
}  // namespace orch
