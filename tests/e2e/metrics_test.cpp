// Observability with real processes (issue 15 items 2 and 4): a master's
// and an agent's GET /metrics pass `promtool check metrics`, and a real
// Prometheus server (Debian's `prometheus`, which CI installs) scrapes both
// and answers queries for a counter the test moved; with --log-format json
// every line either writes is a JSON object naming what it is about.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cluster.h"
#include "common/http_client.h"
#include "common/http_types.h"
#include "masters.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

constexpr char kPromtool[] = "/usr/bin/promtool";
constexpr char kPrometheus[] = "/usr/bin/prometheus";

// promtool's complaints about `text` ("" when none).
std::string PromtoolCheck(const std::string& dir, const std::string& name,
                          const std::string& text) {
  const std::string path = dir + "/" + name + ".metrics";
  std::ofstream(path) << text;
  auto r = RunCommand({"/bin/sh", "-c", std::string(kPromtool) + " check metrics < " + path});
  return r.exit_code == 0 ? "" : "exit " + std::to_string(r.exit_code) + ": " + r.out + r.err;
}

class MetricsE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(kPromtool, X_OK) != 0 || ::access(kPrometheus, X_OK) != 0) {
      GTEST_SKIP() << "needs Debian's prometheus package (promtool and prometheus); "
                      "scripts/setup.sh installs it";
    }
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = ::testing::TempDir() + "/orch-metrics-" + info->name() + "-" + std::to_string(getpid());
    std::filesystem::create_directories(root_);
    cluster_ = std::make_unique<LocalCluster>(root_ + "/cluster");
  }
  void TearDown() override {
    if (HasFailure() && cluster_) std::cerr << cluster_->Logs();
    if (HasFailure() && prometheus_) std::cerr << "prometheus:\n" << prometheus_->Log();
    prometheus_.reset();
    cluster_.reset();
    if (!HasFailure() && !root_.empty()) std::filesystem::remove_all(root_);
  }

  // The first sample's value of PromQL `query` ("" when none yet).
  std::string Query(int port, const std::string& query) {
    auto resp = http_.Get("http://127.0.0.1:" + std::to_string(port) +
                          "/api/v1/query?query=" + UrlEncode(query));
    if (!resp.ok() || resp->status != 200) return "";
    // {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},"value":[1.7e9,"3"]}]}}
    const std::string& b = resp->body;
    auto v = b.find("\"value\":[");
    if (v == std::string::npos) return "";
    auto q1 = b.find('"', b.find(',', v));
    auto q2 = q1 == std::string::npos ? q1 : b.find('"', q1 + 1);
    return q2 == std::string::npos ? "" : b.substr(q1 + 1, q2 - q1 - 1);
  }

  std::string root_;
  std::unique_ptr<LocalCluster> cluster_;
  std::unique_ptr<Subprocess> prometheus_;
  HttpClient http_;
};

TEST_F(MetricsE2ETest, PrometheusScrapesAMasterAndAnAgent) {
  cluster_->StartMaster();
  cluster_->StartAgent("a1");
  ASSERT_TRUE(cluster_->WaitReady(1, 20s));
  auto nodes = cluster_->client().ListNodes();
  ASSERT_TRUE(nodes.ok() && nodes->value.nodes_size() == 1);
  const std::string agent_url = nodes->value.nodes(0).address();

  // Move counters: three submits; one task the agent starts (a driver call).
  for (const char* id : {"m1", "m2", "m3"}) {
    ASSERT_TRUE(cluster_->client().SubmitJobDocument(TinyJob(id)).ok()) << id;
  }
  std::string why;
  ASSERT_TRUE(RunToCompletion(cluster_->client(), "ran", 30s, &why)) << why;

  // Both pass promtool, and hold what the test did.
  auto master = http_.Get(cluster_->master_url() + "/metrics");
  ASSERT_TRUE(master.ok() && master->status == 200);
  EXPECT_EQ(master->Header("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u);
  EXPECT_EQ(PromtoolCheck(root_, "master", master->body), "") << master->body;
  for (const char* want : {"orch_http_requests_total{route=\"POST /v1/jobs\",code=\"200\"} 4",
                           "orch_raft_leader 1", "orch_jobs 4", "orch_nodes{status=\"READY\"} 1",
                           "orch_scheduler_evaluations_total{status=\"COMPLETE\"}",
                           "orch_raft_commit_duration_seconds_count"}) {
    EXPECT_NE(master->body.find(want), std::string::npos) << want << "\n" << master->body;
  }
  auto agent = http_.Get(agent_url + "/metrics");
  ASSERT_TRUE(agent.ok() && agent->status == 200) << agent_url;
  EXPECT_EQ(PromtoolCheck(root_, "agent", agent->body), "") << agent->body;
  for (const char* want :
       {"orch_agent_driver_call_duration_seconds_count{driver=\"exec\",call=\"start\"} 1",
        "orch_agent_heartbeat_duration_seconds_count", "orch_agent_tasks{state=\"DEAD\"} 1",
        "orch_http_requests_total", "orch_lb_connections_accepted_total 0"}) {
    EXPECT_NE(agent->body.find(want), std::string::npos) << want << "\n" << agent->body;
  }

  // A real Prometheus scrapes both every second.
  const int port = FreePort();
  auto hostport = [](const std::string& url) { return url.substr(url.find("://") + 3); };
  std::ofstream(root_ + "/prometheus.yml")
      << "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
      << "scrape_configs:\n"
      << "  - job_name: orch-master\n"
      << "    static_configs: [{targets: ['" << hostport(cluster_->master_url()) << "']}]\n"
      << "  - job_name: orch-agent\n"
      << "    static_configs: [{targets: ['" << hostport(agent_url) << "']}]\n";
  prometheus_ = std::make_unique<Subprocess>(
      std::vector<std::string>{kPrometheus, "--config.file=" + root_ + "/prometheus.yml",
                               "--storage.tsdb.path=" + root_ + "/tsdb",
                               "--web.listen-address=127.0.0.1:" + std::to_string(port)},
      root_ + "/prometheus.log");
  const std::string submits =
      R"(orch_http_requests_total{job="orch-master",route="POST /v1/jobs",code="200"})";
  std::string got;
  EXPECT_TRUE(WaitFor([&] { return (got = Query(port, submits)) == "4"; }, 30s))
      << submits << " = " << got;
  EXPECT_TRUE(WaitFor(
      [&] {
        got = Query(port, R"(orch_agent_heartbeat_duration_seconds_count{job="orch-agent"})");
        return !got.empty() && std::stod(got) > 0;
      },
      30s))
      << "the agent's heartbeats = " << got;
  EXPECT_EQ(Query(port, R"(up{job="orch-agent"})"), "1");
  // The test moves the counter; Prometheus sees it move.
  for (const char* id : {"m4", "m5"})
    ASSERT_TRUE(cluster_->client().SubmitJobDocument(TinyJob(id)).ok()) << id;
  EXPECT_TRUE(WaitFor([&] { return (got = Query(port, submits)) == "6"; }, 30s))
      << submits << " = " << got;
}

TEST(JsonLogsE2ETest, AMasterAndAnAgentWriteOneJsonObjectPerLine) {
  const std::string root = ::testing::TempDir() + "/orch-jsonlogs-" + std::to_string(getpid());
  std::filesystem::remove_all(root);
  bool failed = false;
  {
    LocalCluster c(root);
    c.StartMaster({"--log-format", "json"});
    c.StartAgent("a1", {"--log-format", "json"});
    ASSERT_TRUE(c.WaitReady(1, 20s)) << c.Logs();
    std::string why;
    ASSERT_TRUE(RunToCompletion(c.client(), "logged", 30s, &why)) << why << c.Logs();
    // Each file: every line an object with time, level, process and msg;
    // the lines about the job and its allocation carry their ids.
    std::map<std::string, std::set<std::string>> fields_seen;
    for (const std::string name : {"master", "agent-a1"}) {
      std::istringstream in(ReadFile(root + "/" + name + ".log"));
      int lines = 0;
      for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        ++lines;
        nlohmann::json j;
        try {
          j = nlohmann::json::parse(line);
        } catch (const std::exception& e) {
          ADD_FAILURE() << name << ": not JSON (" << e.what() << "): " << line;
          continue;
        }
        for (const char* f : {"time", "level", "process", "msg"})
          EXPECT_TRUE(j.contains(f)) << name << ": " << line;
        for (const char* f : {"job", "alloc", "node", "eval", "task"}) {
          if (j.contains(f))
            fields_seen[name].insert(std::string(f) + "=" + j[f].get<std::string>());
        }
      }
      EXPECT_GT(lines, 3) << name;
    }
    auto has_prefix = [&](const std::string& who, const std::string& prefix) {
      for (const auto& f : fields_seen[who]) {
        if (f.rfind(prefix, 0) == 0) return true;
      }
      return false;
    };
    EXPECT_TRUE(fields_seen["master"].count("job=logged")) << "the master's lines about job logged";
    EXPECT_TRUE(has_prefix("master", "eval=")) << "the master's lines about evaluations";
    EXPECT_TRUE(has_prefix("agent-a1", "alloc=")) << "the agent's lines about the allocation";
    failed = HasFailure();
    if (failed) std::cerr << c.Logs();
  }
  if (!failed && !getenv("ORCH_E2E_KEEP")) std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace orch::e2e
