// Prometheus metrics (issue 15 item 2) with real processes: a master's and
// an agent's GET /metrics pass `promtool check metrics`, and a real
// Prometheus server (Debian's `prometheus`, which CI installs) scrapes both
// and answers queries for a counter the test moved.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

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
  ASSERT_TRUE(cluster_->client()
                  .SubmitJobDocument(
                      R"({"id":"ran","type":"batch","groups":[{"name":"g","count":1,"tasks":[)"
                      R"({"name":"t","driver":"exec","command":"/bin/true",)"
                      R"("resources":{"cpu":10,"memory":8}}]}]})")
                  .ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        auto a = FirstAlloc(cluster_->client(), "ran");
        return a && a->client_status() == v1::Allocation::COMPLETE;
      },
      30s));

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

}  // namespace
}  // namespace orch::e2e
