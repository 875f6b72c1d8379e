// The whole command line in-process: flags, exit codes, the one-line error
// on stderr, against a fake master (HttpServer + Router with canned answers).
#include "api/orchctl/cli.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>

#include "common/http_server.h"
#include "common/json.h"
#include "common/router.h"
#include "tests/unit/orchctl/cli_harness.h"

namespace orch::ctl {
namespace {

using clitest::CliRun;
using clitest::ExpectOneLineError;
using clitest::Orchctl;

std::string WriteTempFile(const std::string& text) {
  std::string path = ::testing::TempDir() + "orchctl_job_" +
                     ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".yaml";
  std::ofstream(path) << text;
  return path;
}

v1::Allocation RunningAlloc(bool running = true) {
  v1::Allocation a;
  a.set_id("a1b2c3d4e5f6");
  a.set_job_id("web");
  a.set_job_version(1);
  a.set_group("web");
  a.set_node_id("n1n2n3n4n5");
  a.set_desired_status(v1::Allocation::RUN);
  a.set_client_status(running ? v1::Allocation::RUNNING : v1::Allocation::PENDING);
  return a;
}

// A master that knows one job, "web", and records what it was sent.
class FakeMaster {
 public:
  FakeMaster() {
    router_.Add("GET", "/v1/jobs", [](const HttpRequest&, const PathParams&) {
      v1::JobList list;
      auto* j = list.add_jobs();
      j->set_id("web");
      j->set_type(v1::Job::SERVICE);
      j->set_status(v1::Job::RUNNING);
      j->set_version(1);
      auto* g = j->add_groups();
      g->set_name("web");
      g->set_count(1);
      return Indexed(ToJson(list));
    });
    router_.Add("GET", "/v1/allocations", [](const HttpRequest& req, const PathParams&) {
      v1::AllocationList list;
      *list.add_allocations() = RunningAlloc();
      if (req.Query("job").empty() || req.Query("job") == "other") {
        auto* other = list.add_allocations();
        other->set_id("a1b2ffff0000");
        other->set_job_id("other");
      }
      return Indexed(ToJson(list));
    });
    router_.Add("GET", "/v1/allocations/{id}", [](const HttpRequest&, const PathParams& p) {
      if (p.at("id") != RunningAlloc().id()) {
        return HttpResponse::Error(
            Status::NotFound("allocation \"" + p.at("id") + "\": not found"));
      }
      return Indexed(ToJson(RunningAlloc()));
    });
    router_.Add("GET", "/v1/jobs/{id}", [this](const HttpRequest&, const PathParams& p) {
      if (p.at("id") != "web") {
        return HttpResponse::Error(Status::NotFound("job \"" + p.at("id") + "\": not found"));
      }
      v1::JobDetail d;
      d.mutable_job()->set_id("web");
      d.mutable_job()->set_version(1);
      auto* g = d.mutable_job()->add_groups();
      g->set_name("web");
      g->set_count(1);
      if (eval_blocked_) {
        auto* e = d.add_evaluations();
        e->set_id("1a2b3c4d-0000-4000-8000-000000000000");
        e->set_status(v1::Evaluation::BLOCKED);
        e->set_status_description("group web: 1 not placed: no node has 4000 MHz cpu free");
      } else {
        *d.add_allocations() = RunningAlloc(alloc_running_);
      }
      return Indexed(ToJson(d));
    });
    router_.Add("POST", "/v1/jobs", [this](const HttpRequest& req, const PathParams&) {
      Record(req);
      if (req.body.find("count: -1") != std::string::npos) {
        return HttpResponse::Error(
            Status::InvalidArgument("groups[0].count: must not be negative"));
      }
      v1::SubmitJobResponse resp;
      resp.set_job_id("web");
      resp.set_eval_id("1a2b3c4d-0000-4000-8000-000000000000");
      resp.set_index(12);
      return HttpResponse::Json(200, ToJson(resp));
    });
    router_.Add("DELETE", "/v1/jobs/{id}", [this](const HttpRequest& req, const PathParams& p) {
      Record(req);
      v1::StopJobResponse resp;
      resp.set_job_id(p.at("id"));
      resp.set_eval_id("5e6f7a8b-0000");
      resp.set_index(13);
      return HttpResponse::Json(200, ToJson(resp));
    });
    auto server = HttpServer::Start(HttpServerOptions{},
                                    [this](const HttpRequest& req) { return router_.Handle(req); });
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (server.ok()) server_ = std::move(server).value();
  }
  ~FakeMaster() {
    if (server_) server_->Shutdown();
  }

  std::string addr() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }
  HttpRequest last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }
  // Whether job web's allocation reports running (else pending).
  void set_alloc_running(bool running) { alloc_running_ = running; }
  void set_eval_blocked(bool blocked) { eval_blocked_ = blocked; }

 private:
  static HttpResponse Indexed(std::string body) {
    HttpResponse r = HttpResponse::Json(200, std::move(body));
    r.headers.emplace_back("X-Orch-Index", "42");
    return r;
  }
  void Record(const HttpRequest& req) {
    std::lock_guard<std::mutex> lock(mu_);
    last_ = req;
  }

  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  HttpRequest last_;
  std::atomic<bool> alloc_running_{true};
  std::atomic<bool> eval_blocked_{false};
};

// A port on 127.0.0.1 where nothing listens: one a server just gave up.
uint16_t ClosedPort() {
  auto server = HttpServer::Start(HttpServerOptions{},
                                  [](const HttpRequest&) { return HttpResponse::Json(200, "{}"); });
  EXPECT_TRUE(server.ok());
  uint16_t port = (*server)->port();
  (*server)->Shutdown();
  return port;
}

TEST(CliTest, UnreachableMasterIsOneLineAndExitOne) {
  std::string addr = "http://127.0.0.1:" + std::to_string(ClosedPort());
  CliRun r = Orchctl({"--addr", addr, "get", "jobs"});
  EXPECT_EQ(r.code, 1);
  ExpectOneLineError(r);
  EXPECT_EQ(r.err.rfind("orchctl: cannot reach master at " + addr + ": ", 0), 0u) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(CliTest, AddressComesFromOrchAddrWhenNoFlag) {
  std::string addr = "http://127.0.0.1:" + std::to_string(ClosedPort());
  CliRun r = Orchctl({"get", "nodes"}, {{"ORCH_ADDR", addr}});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find(addr), std::string::npos) << r.err;
}

TEST(CliTest, SkipsAnUnreachableMasterInTheList) {
  FakeMaster m;
  std::string dead = "http://127.0.0.1:" + std::to_string(ClosedPort());
  CliRun r = Orchctl({"get", "jobs"}, {{"ORCH_ADDR", dead + "," + m.addr()}});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("web"), std::string::npos) << r.out;
}

TEST(CliTest, TokenComesFromOrchToken) {
  FakeMaster m;
  CliRun r = Orchctl({"--addr", m.addr(), "stop", "web"}, {{"ORCH_TOKEN", "from-env"}});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "job web stopped (eval 5e6f7a8b, index 13)\n");
  EXPECT_EQ(m.last().Header("x-orch-token"), "from-env");
  EXPECT_EQ(m.last().Query("purge"), "");
}

TEST(CliTest, DescribeJobShowsItsAllocations) {
  FakeMaster m;
  CliRun r = Orchctl({"--addr", m.addr(), "describe", "job", "web"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("ID:         web\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("a1b2c3d4   web"), std::string::npos) << r.out;
}

TEST(CliTest, DescribeAllocAcceptsAUniquePrefix) {
  FakeMaster m;
  CliRun r = Orchctl({"--addr", m.addr(), "describe", "alloc", "a1b2c3"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("ID:         a1b2c3d4e5f6\n"), std::string::npos) << r.out;

  CliRun ambiguous = Orchctl({"--addr", m.addr(), "describe", "alloc", "a1b2"});
  EXPECT_EQ(ambiguous.code, 1);
  ExpectOneLineError(ambiguous);
  EXPECT_NE(ambiguous.err.find("ambiguous"), std::string::npos) << ambiguous.err;

  CliRun missing = Orchctl({"--addr", m.addr(), "describe", "alloc", "zz"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.err, "orchctl: allocation \"zz\" not found\n");
}

TEST(CliTest, NotFoundPrintsTheServersMessage) {
  FakeMaster m;
  CliRun r = Orchctl({"--addr", m.addr(), "describe", "job", "nope"});
  EXPECT_EQ(r.code, 1);
  ExpectOneLineError(r);
  EXPECT_EQ(r.err, "orchctl: job \"nope\": not found\n");
}

TEST(CliTest, InvalidJobPrintsTheFieldAndExitsOne) {
  FakeMaster m;
  std::string path = WriteTempFile("id: web\ngroups:\n  - name: web\n    count: -1\n");
  CliRun r = Orchctl({"--addr", m.addr(), "run", "-f", path});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "orchctl: groups[0].count: must not be negative\n");
}

TEST(CliTest, RunSendsTheFileAsItIsAndPrintsTheEvaluation) {
  FakeMaster m;
  const std::string text = "id: web\ntype: service\ngroups:\n  - name: web\n    count: 1\n";
  std::string path = WriteTempFile(text);
  CliRun r = Orchctl({"run", "-d", "-f", path, "--token", "s3cret"}, {{"ORCH_ADDR", m.addr()}});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "job web submitted (version 0, eval 1a2b3c4d, index 12)\n");
  EXPECT_EQ(r.err, "");
  HttpRequest sent = m.last();
  EXPECT_EQ(sent.method, "POST");
  EXPECT_EQ(sent.body, text);
  EXPECT_EQ(sent.Header("x-orch-token"), "s3cret");
}

TEST(CliTest, RunFollowsTheJobUntilItsAllocationsRun) {
  FakeMaster m;
  std::string path = WriteTempFile("id: web\n");
  CliRun r = Orchctl({"--addr", m.addr(), "run", "-f", path});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "job web submitted (version 0, eval 1a2b3c4d, index 12)\n"
            "job web: 1/1 running\n");
}

TEST(CliTest, RunWaitGivesUpAtTheTimeoutWithOneLine) {
  FakeMaster m;
  m.set_alloc_running(false);
  // A clock that moves a second per reading: no real waiting.
  auto now = std::make_shared<int64_t>(1'000'000);
  Clock clock;
  clock.now_ms = [now] { return *now += 1000; };
  clock.sleep_for = [](std::chrono::milliseconds) {};
  std::string path = WriteTempFile("id: web\n");
  CliRun r =
      Orchctl({"--addr", m.addr(), "run", "-f", path, "--wait", "--timeout", "10s"}, {}, clock);
  EXPECT_EQ(r.code, 1);
  ExpectOneLineError(r);
  EXPECT_EQ(r.err, "orchctl: job \"web\": 0/1 running, 1 pending after waiting 10s\n");
  EXPECT_EQ(r.out,
            "job web submitted (version 0, eval 1a2b3c4d, index 12)\n"
            "job web: 0/1 running, 1 pending\n");
}

TEST(CliTest, RunSaysAtOnceWhenTheSchedulerCannotPlaceTheJob) {
  FakeMaster m;
  m.set_eval_blocked(true);
  std::string path = WriteTempFile("id: web\n");
  CliRun r = Orchctl({"--addr", m.addr(), "run", "-f", path, "--wait", "--timeout", "10m"});
  EXPECT_EQ(r.code, 1);
  ExpectOneLineError(r);
  EXPECT_EQ(r.err,
            "orchctl: job \"web\": 0/1 running; placement failed: group web: 1 not placed: no node has 4000 "
            "MHz cpu free (the rest is placed when capacity frees up)\n");
}

TEST(CliTest, GetJobsTable) {
  FakeMaster m;
  CliRun r = Orchctl({"--addr", m.addr(), "get", "jobs"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "ID    TYPE      STATUS    VERSION   GROUPS   ALLOCS\n"
            "web   service   running   1         1        1/1\n");
}

TEST(CliTest, GetAllocsAsJsonIsTheApiAnswer) {
  FakeMaster m;
  CliRun r = Orchctl({"get", "allocs", "--job", "web", "-o", "json", "--addr", m.addr()});
  EXPECT_EQ(r.code, 0) << r.err;
  v1::AllocationList list;
  ASSERT_TRUE(FromJson(r.out, &list, /*lenient=*/false).ok()) << r.out;
  ASSERT_EQ(list.allocations_size(), 1);
  EXPECT_EQ(list.allocations(0).client_status(), v1::Allocation::RUNNING);
  EXPECT_NE(r.out.find("\"RUNNING\""), std::string::npos);
}

TEST(CliTest, GetJobsAsYamlParsesBack) {
  FakeMaster m;
  CliRun r = Orchctl({"-o", "yaml", "--addr", m.addr(), "get", "jobs"});
  EXPECT_EQ(r.code, 0) << r.err;
  YAML::Node doc = YAML::Load(r.out);
  EXPECT_EQ(doc["jobs"][0]["id"].as<std::string>(), "web");
  EXPECT_EQ(doc["jobs"][0]["type"].as<std::string>(), "SERVICE");
  EXPECT_EQ(doc["jobs"][0]["version"].as<std::string>(), "1");
}

TEST(CliTest, StopWithPurge) {
  FakeMaster m;
  CliRun r = Orchctl({"--addr", m.addr(), "stop", "web", "--purge"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "job web purged (eval 5e6f7a8b, index 13)\n");
  HttpRequest sent = m.last();
  EXPECT_EQ(sent.method, "DELETE");
  EXPECT_EQ(sent.path, "/v1/jobs/web");
  EXPECT_EQ(sent.Query("purge"), "true");
}

TEST(CliTest, MissingJobFileIsAUsageError) {
  CliRun r = Orchctl({"run", "-f", "/nonexistent/web.yaml"});
  EXPECT_EQ(r.code, 2);
  ExpectOneLineError(r);
  EXPECT_EQ(r.err,
            "orchctl: cannot read job file \"/nonexistent/web.yaml\": No such file or directory\n");
}

TEST(CliTest, RunWithoutFileFlagIsAUsageError) {
  CliRun r = Orchctl({"run"});
  EXPECT_EQ(r.code, 2);
  ExpectOneLineError(r);
  EXPECT_NE(r.err.find("--file"), std::string::npos) << r.err;
}

TEST(CliTest, BadOutputFormatIsAUsageError) {
  CliRun r = Orchctl({"get", "jobs", "-o", "xml"});
  EXPECT_EQ(r.code, 2);
  ExpectOneLineError(r);
  EXPECT_NE(r.err.find("\"xml\""), std::string::npos) << r.err;
}

TEST(CliTest, UnknownVerbIsAUsageError) {
  CliRun r = Orchctl({"frobnicate"});
  EXPECT_EQ(r.code, 2);
  ExpectOneLineError(r);
}

TEST(CliTest, WaitAndDetachExcludeEachOther) {
  CliRun r = Orchctl({"run", "-f", "x.yaml", "--wait", "--detach"});
  EXPECT_EQ(r.code, 2);
  ExpectOneLineError(r);
}

TEST(CliTest, HelpListsEveryVerbWithAnExample) {
  CliRun r = Orchctl({"--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* verb : {"run", "get", "describe", "stop", "cluster", "version"}) {
    EXPECT_NE(r.out.find(std::string("\n  ") + verb + " "), std::string::npos) << verb;
  }
  EXPECT_NE(r.out.find("orchctl run -f"), std::string::npos);
  CliRun sub = Orchctl({"get", "allocs", "--help"});
  EXPECT_EQ(sub.code, 0);
  EXPECT_NE(sub.out.find("--job"), std::string::npos) << sub.out;
}

TEST(CliTest, VersionNeedsNoServer) {
  CliRun r = Orchctl({"version"}, {{"ORCH_ADDR", "http://127.0.0.1:1"}});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("orchctl ", 0), 0u);
}

TEST(ParseAddressesTest, AddsSchemeAndDropsSlashes) {
  auto a = ParseAddresses(" 10.0.0.1:4646, http://10.0.0.2:4646/ ,");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, (std::vector<std::string>{"http://10.0.0.1:4646", "http://10.0.0.2:4646"}));
  EXPECT_FALSE(ParseAddresses(" , ").ok());
  // With TLS files a bare address is https://; a given scheme stays.
  auto tls = ParseAddresses("10.0.0.1:4646,http://10.0.0.2:4646", /*https=*/true);
  ASSERT_TRUE(tls.ok());
  EXPECT_EQ(*tls, (std::vector<std::string>{"https://10.0.0.1:4646", "http://10.0.0.2:4646"}));
}

TEST(CliTest, TlsFilesComeTogetherAndAreCheckedBeforeAnyRequest) {
  CliRun partial =
      Orchctl({"get", "jobs", "--ca-cert", "/nonexistent/ca.pem"}, {{"ORCH_ADDR", "127.0.0.1:1"}});
  EXPECT_EQ(partial.code, 2);  // usage
  EXPECT_NE(partial.err.find("--client-cert and --client-key are not set"), std::string::npos)
      << partial.err;
  CliRun env = Orchctl({"get", "jobs"}, {{"ORCH_ADDR", "127.0.0.1:1"},
                                         {"ORCH_CACERT", "/nonexistent/ca.pem"},
                                         {"ORCH_CLIENT_CERT", "/nonexistent/c.pem"},
                                         {"ORCH_CLIENT_KEY", "/nonexistent/k.pem"}});
  EXPECT_EQ(env.code, 2);
  EXPECT_NE(env.err.find("--ca-cert /nonexistent/ca.pem"), std::string::npos) << env.err;
}

}  // namespace
}  // namespace orch::ctl
