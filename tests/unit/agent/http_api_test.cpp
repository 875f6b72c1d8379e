// The agent's logs endpoint against a fake log source: parameters checked,
// tail trimmed to lines, follow streamed, files read when no driver tracks
// the task any more.
#include "agent/http_api.h"

#include <gtest/gtest.h>

#include <fstream>

#include "agent/alloc_runner.h"
#include "agent/files.h"
#include "common/ids.h"
#include "test_util.h"

namespace orch::agent {
namespace {

HttpRequest Get(const std::string& target) {
  HttpRequest r;
  r.method = "GET";
  r.target = target;
  EXPECT_TRUE(ParseTarget(target, &r.path, &r.query).ok());
  return r;
}

TEST(AgentLogsApiTest, LogsAreOnlyForCallersWithTheNodesCredential) {
  testing::TempDir dir;
  const std::string secret = NewSecret();
  auto router = MakeAgentRouter(
      dir.path(), [] { return std::string("n1"); },
      [](const std::string&, const std::string&, const LogOptions&, const LogSink& sink) -> Status {
        sink(LogStream::kStdout, "private\n");
        return Status::Ok();
      },
      SecretHash(secret));
  auto anonymous = router->Handle(Get("/v1/allocations/a1/logs?task=web"));
  EXPECT_EQ(anonymous.status, 403) << anonymous.body;
  EXPECT_EQ(anonymous.body.find("private"), std::string::npos);
  HttpRequest wrong = Get("/v1/allocations/a1/logs?task=web");
  wrong.headers[kNodeAuthHeader] = SecretHash("another node's secret");
  EXPECT_EQ(router->Handle(wrong).status, 403);
  HttpRequest raw = Get("/v1/allocations/a1/logs?task=web");
  raw.headers[kNodeAuthHeader] = secret;  // the secret itself is not the proof
  EXPECT_EQ(router->Handle(raw).status, 403);
  HttpRequest master = Get("/v1/allocations/a1/logs?task=web");
  master.headers[kNodeAuthHeader] = SecretHash(secret);
  auto ok = router->Handle(master);
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.body, "private\n");
  EXPECT_EQ(router->Handle(Get("/healthz")).status, 200) << "health stays open";
}

TEST(AgentLogsApiTest, LastLines) {
  EXPECT_EQ(LastLines("a\nb\nc\n", 2), "b\nc\n");
  EXPECT_EQ(LastLines("a\nb\nc", 1), "c");
  EXPECT_EQ(LastLines("a\nb\n", 5), "a\nb\n");
  EXPECT_EQ(LastLines("a\nb\n", 0), "");
  EXPECT_EQ(LastLines("", 3), "");
}

TEST(AgentLogsApiTest, ServesTheDriversOutputAndChecksItsParameters) {
  testing::TempDir dir;
  LogOptions seen;
  auto router = MakeAgentRouter(dir.path(), [] { return std::string("n1"); },
                                [&](const std::string& alloc, const std::string& task,
                                    const LogOptions& opts, const LogSink& sink) -> Status {
                                  if (alloc != "a1" || task != "web") return Status::NotFound("unknown");
                                  seen = opts;
                                  sink(opts.stderr_stream ? LogStream::kStderr : LogStream::kStdout,
                                       opts.stderr_stream ? "err\n" : "one\ntwo\nthree\n");
                                  if (opts.follow) {
                                    sink(LogStream::kStdout, "");  // through what was kept
                                    sink(LogStream::kStdout, "four\n");
                                  }
                                  return Status::Ok();
                                });
  auto all = router->Handle(Get("/v1/allocations/a1/logs?task=web"));
  EXPECT_EQ(all.status, 200);
  EXPECT_EQ(all.body, "one\ntwo\nthree\n");
  EXPECT_TRUE(seen.stdout_stream);
  EXPECT_FALSE(seen.stderr_stream);
  EXPECT_EQ(router->Handle(Get("/v1/allocations/a1/logs?task=web&tail=2")).body, "two\nthree\n");
  EXPECT_EQ(router->Handle(Get("/v1/allocations/a1/logs?task=web&stream=stderr")).body, "err\n");
  EXPECT_EQ(router->Handle(Get("/v1/allocations/a1/logs?task=web&type=stderr")).body, "err\n");

  for (const char* bad : {"?task=web&stream=both", "?task=web&tail=-1", "?task=web&tail=x",
                          "?task=web&follow=maybe", "?stream=stdout"}) {
    auto r = router->Handle(Get(std::string("/v1/allocations/a1/logs") + bad));
    EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
  }
  EXPECT_EQ(router->Handle(Get("/v1/allocations/a1/logs?task=nope&follow=true")).status, 404);

  auto follow = router->Handle(Get("/v1/allocations/a1/logs?task=web&follow=true&tail=1"));
  ASSERT_EQ(follow.status, 200);
  ASSERT_TRUE(follow.stream);
  std::string streamed;
  follow.stream([&](std::string_view piece) {
    streamed.append(piece);
    return true;
  });
  EXPECT_EQ(streamed, "three\nfour\n");
  EXPECT_TRUE(seen.follow);
}

TEST(AgentLogsApiTest, ReadsTheFilesOfATaskNoDriverTracks) {
  testing::TempDir dir;
  auto router = MakeAgentRouter(dir.path(), [] { return std::string("n1"); },
                                [](const std::string&, const std::string&, const LogOptions&,
                                   const LogSink&) { return Status::NotFound("forgotten"); });
  std::string alloc_dir = AllocRunner::AllocDir(dir.path(), "a2");
  ASSERT_TRUE(MakeDirs(alloc_dir).ok());
  std::ofstream(alloc_dir + "/web.stdout") << "old\noutput\n";
  auto r = router->Handle(Get("/v1/allocations/a2/logs?task=web&tail=1"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "output\n");
  EXPECT_EQ(router->Handle(Get("/v1/allocations/a3/logs?task=web")).status, 404);
}

}  // namespace
}  // namespace orch::agent
