// Services end to end: a real orch-master and orch-agent, allocations of a
// tiny HTTP server that answers its allocation id, and plain HTTP requests
// through the agent's load balancer on the service's listen port, as a
// user's client would make them.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "cluster.h"
#include "http_probe.h"
#include "common/json.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

class ServicesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = ::testing::TempDir() + "/orch-services-" + info->name();
    cluster_ = std::make_unique<LocalCluster>(root_);
    flags_ = root_ + "/flags";
    std::filesystem::create_directories(flags_);
    listen_ = ListenPort();
    // The cluster's service-port range is just the port picked for this
    // test, so a service that names none is assigned it (and parallel
    // test clusters do not all get the default range's first port).
    cluster_->StartMaster({"--service-port-range", std::to_string(listen_) + "-" + std::to_string(listen_)});
    cluster_->StartAgent("n1", {"--lb-bind", "127.0.0.1", "--lb-connect-timeout", "1s"});
    ASSERT_TRUE(cluster_->WaitReady(1, 20s)) << cluster_->Logs();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << cluster_->Logs();
    for (pid_t pid : Pids()) seen_pids_.insert(pid);
    // Then the servers are ours: stop them whatever the agent did.
    StopJobAndWait(cluster_->client(), "web", 15s);
    WaitFor([&] { return Pids().empty(); }, 10s);
    for (pid_t pid : seen_pids_) {
      if (ProcessAlive(pid)) kill(pid, SIGKILL);
    }
    cluster_.reset();
    // Nothing of this test may outlive it: every server carries flags_.
    if (int left = KillByMarker(flags_); left > 0) std::cerr << left << " leftover process(es) killed\n";
  }

  // A group of one id server serving "web" with `strategy` and `weight`.
  // Its port is fixed (static) and picked like the listen port: the
  // masters' dynamic picks are deterministic per cluster state, so two test
  // clusters on one machine (ctest -j) would be handed the same ports.
  // `named_listen` false: the job names no listen port (the masters assign one).
  std::set<int> used_ports_;
  std::string Group(const std::string& name, const std::string& strategy, int weight, bool check = false,
                    bool named_listen = true) {
    // Distinct per group and from the listen port: two groups handed the
    // same random port is a real collision, which the scheduler rightly
    // refuses ("1 port collision"), not the race this test is about.
    int port = ListenPort();
    while (port == listen_ || !used_ports_.insert(port).second) port = ListenPort();
    std::string g = "  - name: " + name + "\n    count: 1\n    network: { ports: [ { name: http, static: " +
                    std::to_string(port) + " } ] }\n"
                    "    restart: { attempts: 5, interval: 10m, delay: 2s, mode: delay }\n"
                    "    tasks:\n      - name: server\n        driver: exec\n        command: " +
                    std::string(ORCH_TEST_ID_SERVER_BIN) +
                    "\n        args: [--port, \"${PORT_http}\", --flag-dir, \"" + flags_ +
                    "\"]\n        resources: { cpu: 50, memory: 32 }\n"
                    "        service: { name: web, port: http, strategy: " +
                    strategy + ", weight: " + std::to_string(weight) +
                    (named_listen ? ", listen: " + std::to_string(listen_) : std::string()) + " }\n";
    if (check) g += "        check: { type: http, path: /health, port: http, interval: 500ms, timeout: 1s }\n";
    return g;
  }
  void Submit(const std::string& groups) {
    auto r = cluster_->client().SubmitJobDocument("id: web\ntype: service\ngroups:\n" + groups);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  std::vector<v1::ServiceEndpoint> Endpoints() {
    auto s = cluster_->client().GetService("web");
    if (!s.ok()) return {};
    return {s->value.endpoints().begin(), s->value.endpoints().end()};
  }
  int Healthy() {
    int n = 0;
    for (const auto& e : Endpoints()) n += e.healthy();
    return n;
  }
  std::vector<pid_t> Pids() {
    std::vector<pid_t> out;
    auto allocs = cluster_->client().ListAllocations("web");
    if (!allocs.ok()) return out;
    for (const auto& a : allocs->value.allocations()) {
      for (const auto& t : a.task_states()) {
        if (t.pid() > 0 && ProcessAlive(t.pid())) out.push_back(t.pid());
      }
    }
    return out;
  }
  pid_t PidOf(const std::string& alloc_id) {
    auto a = cluster_->client().GetAllocation(alloc_id);
    if (!a.ok()) return -1;
    for (const auto& t : a->value.task_states()) {
      if (t.pid() > 0) {
        seen_pids_.insert(t.pid());
        return t.pid();
      }
    }
    return -1;
  }

  // Until the registry lists `n` healthy endpoints and the balancer reaches
  // all of them.
  bool WaitServing(int n, std::chrono::milliseconds timeout = 30s) {
    if (!WaitFor([&] { return Healthy() == n; }, timeout)) return false;
    std::set<std::string> ours;
    for (const auto& e : Endpoints()) {
      PidOf(e.alloc_id());
      ours.insert(e.alloc_id());
    }
    return WaitFor(
        [&] {
          std::set<std::string> ids;
          for (int i = 0; i < 3 * n; ++i) {
            if (auto r = HttpGet(listen_)) ids.insert(*r);
          }
          for (const auto& id : ids) {
            // Someone else's servers: our agent could not bind the port.
            EXPECT_TRUE(ours.count(id)) << "port " << listen_ << " answered by a stranger, " << id;
          }
          return ids == ours;
        },
        timeout);
  }

  Tally Requests(int n) {
    Tally t;
    for (int i = 0; i < n; ++i) t.Add(HttpGet(listen_));
    return t;
  }

  std::string root_, flags_;
  int listen_ = 0;
  std::unique_ptr<LocalCluster> cluster_;
  std::set<pid_t> seen_pids_;
};

TEST_F(ServicesTest, RoundRobinSpreadsExactlyAndAKilledAllocationCostsNoRequest) {
  Submit(Group("web0", "round_robin", 1) + Group("web1", "round_robin", 1) + Group("web2", "round_robin", 1));
  ASSERT_TRUE(WaitServing(3)) << "the service never served 3 endpoints";

  // The registry, as a user sees it.
  auto listed = cluster_->Orchctl({"get", "services"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("web"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find(std::to_string(listen_)), std::string::npos) << listed.out;
  auto described = cluster_->Orchctl({"describe", "service", "web"});
  EXPECT_EQ(described.exit_code, 0) << described.err;
  EXPECT_NE(described.out.find("round_robin"), std::string::npos) << described.out;

  Tally t = Requests(3000);
  EXPECT_EQ(t.failed, 0);
  ASSERT_EQ(t.by_body.size(), 3u);
  for (const auto& [id, n] : t.by_body) EXPECT_EQ(n, 1000) << id;

  // Kill one allocation's process: every request still succeeds, on the
  // other two.
  std::string victim = Endpoints().at(0).alloc_id();
  pid_t pid = PidOf(victim);
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }, 5s));
  Tally after = Requests(30);
  EXPECT_EQ(after.failed, 0) << "a client saw an error while two endpoints were up";
  EXPECT_EQ(after.by_body.count(victim), 0u);
  EXPECT_EQ(after.by_body.size(), 2u);

  // The job restores the count (the task restarts in place); traffic comes
  // back to it, still without a failed request.
  Tally during;
  bool back = WaitFor(
      [&] {
        Tally w = Requests(30);
        during.failed += w.failed;
        return w.by_body.count(victim) > 0 && w.by_body.size() == 3;
      },
      60s);
  EXPECT_TRUE(back) << "traffic never returned to " << victim;
  EXPECT_EQ(during.failed, 0);
  if (back) {
    Tally again = Requests(300);
    EXPECT_EQ(again.failed, 0);
    for (const auto& [id, n] : again.by_body) EXPECT_EQ(n, 100) << id;
  }
}

TEST_F(ServicesTest, WeightedSplitsOneTwoThree) {
  Submit(Group("w1", "weighted", 1) + Group("w2", "weighted", 2) + Group("w3", "weighted", 3));
  ASSERT_TRUE(WaitServing(3));
  std::map<std::string, int> weight_of;
  for (const auto& e : Endpoints()) weight_of[e.alloc_id()] = e.weight();
  Tally t = Requests(3000);
  EXPECT_EQ(t.failed, 0);
  ASSERT_EQ(t.by_body.size(), 3u);
  for (const auto& [id, n] : t.by_body) {
    double share = n / 3000.0;
    double want = weight_of[id] / 6.0;
    EXPECT_NEAR(share, want, 0.02) << id << " weight " << weight_of[id];
  }
}

TEST_F(ServicesTest, FailingHealthCheckRemovesAnEndpointWithoutStoppingIt) {
  Submit(Group("web0", "round_robin", 1, true) + Group("web1", "round_robin", 1, true) +
         Group("web2", "round_robin", 1, true));
  // The agent's health checks set the allocation's healthy flag.
  bool running = WaitFor([&] { return Endpoints().size() == 3; }, 30s);
  ASSERT_TRUE(running) << "3 allocations never ran";
  ASSERT_TRUE(WaitFor([&] { return Healthy() == 3; }, 30s))
      << "allocations run but never turn healthy: are the agent's health checks running?";
  ASSERT_TRUE(WaitServing(3));
  std::string victim = Endpoints().at(1).alloc_id();
  pid_t pid = PidOf(victim);
  { std::ofstream(flags_ + "/" + victim + ".unhealthy") << "x"; }
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& e : Endpoints()) {
          if (e.alloc_id() == victim) return !e.healthy();
        }
        return false;
      },
      30s))
      << "the failing check never marked " << victim << " unhealthy";
  // The balancer follows within one watch round-trip.
  bool gone = WaitFor([&] { return Requests(20).by_body.count(victim) == 0; }, 10s);
  EXPECT_TRUE(gone);
  Tally t = Requests(300);
  EXPECT_EQ(t.failed, 0);
  EXPECT_EQ(t.by_body.count(victim), 0u);
  EXPECT_EQ(t.by_body.size(), 2u);
  // Unhealthy is not stopped: the process still runs, the allocation too.
  EXPECT_TRUE(ProcessAlive(pid));
  auto a = cluster_->client().GetAllocation(victim);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->value.client_status(), v1::Allocation::RUNNING);
  // Healthy again: back in the rotation.
  std::filesystem::remove(flags_ + "/" + victim + ".unhealthy");
  EXPECT_TRUE(WaitFor([&] { return Requests(30).by_body.count(victim) > 0; }, 30s));
}

TEST_F(ServicesTest, BlockingQueryAnswersWhenAServiceChanges) {
  auto empty = cluster_->client().ListServices();
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(empty->value.services_size(), 0);
  std::optional<Result<Indexed<v1::ServiceList>>> answer;
  std::thread watcher([&] {
    answer = cluster_->client().ListServices(QueryOptions{empty->index, 60s});
  });
  Submit(Group("web", "least_connections", 1));
  watcher.join();
  ASSERT_TRUE(answer && answer->ok());
  EXPECT_GT((*answer)->index, empty->index);
  ASSERT_EQ((*answer)->value.services_size(), 1);
  EXPECT_EQ((*answer)->value.services(0).name(), "web");
  EXPECT_EQ((*answer)->value.services(0).strategy(), v1::Service::LEAST_CONNECTIONS);
  EXPECT_EQ((*answer)->value.services(0).listen(), listen_);
  ASSERT_TRUE(WaitServing(1));
  // A wait through which no endpoint changes ends with the same endpoints.
  auto now = cluster_->client().ListServices();
  ASSERT_TRUE(now.ok());
  auto idle = cluster_->client().ListServices(QueryOptions{now->index, 1s});
  ASSERT_TRUE(idle.ok());
  ASSERT_EQ(idle->value.services_size(), 1);
  EXPECT_EQ(idle->value.services(0).endpoints_size(), 1);
  EXPECT_GE(idle->index, now->index);
  auto missing = cluster_->client().GetService("nope");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST_F(ServicesTest, ConflictingServicesAreRejected) {
  Submit(Group("web", "round_robin", 1));
  auto r = cluster_->client().SubmitJobDocument(
      "id: other\ntype: service\ngroups:\n" +
      Group("web", "round_robin", 1));  // same service name as job "web"
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists) << r.status().ToString();
  EXPECT_NE(r.status().message().find("already served by job \"web\""), std::string::npos)
      << r.status().message();
  auto jobs = cluster_->client().ListJobs();
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(jobs->value.jobs_size(), 1) << "a rejected job must change nothing";
}

TEST_F(ServicesTest, AServiceWithoutAListenPortGetsOneFromTheClusterRange) {
  // The master's range holds one port: listen_.
  Submit(Group("web", "round_robin", 1, false, /*named_listen=*/false));
  auto job = cluster_->client().GetJob("web");
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->value.job().groups(0).tasks(0).service().listen(), listen_) << "the stored job shows the port";
  ASSERT_TRUE(WaitServing(1)) << "the service never served on its assigned port " << listen_;
  auto listed = cluster_->Orchctl({"get", "services"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find(std::to_string(listen_)), std::string::npos) << listed.out;
  // An update that names no port keeps it.
  Submit(Group("web", "round_robin", 1, false, false) + Group("web2", "round_robin", 1, false, false));
  job = cluster_->client().GetJob("web");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->value.job().version(), 1u);
  for (const auto& g : job->value.job().groups()) EXPECT_EQ(g.tasks(0).service().listen(), listen_);
  ASSERT_TRUE(WaitServing(2));
  // The range is full: another job needing a port is refused, 409.
  auto r = cluster_->client().SubmitJobDocument("id: other\ntype: service\ngroups:\n" +
                                                std::string("  - name: g\n    count: 1\n    network: { ports: [ { name: http } ] }\n"
                                                            "    tasks:\n      - name: t\n        driver: exec\n"
                                                            "        command: /bin/sleep\n        args: [\"60\"]\n"
                                                            "        resources: { cpu: 10, memory: 8 }\n"
                                                            "        service: { name: other, port: http }\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists) << r.status().ToString();  // 409
  EXPECT_NE(r.status().message().find("service-port-range"), std::string::npos) << r.status().message();
  auto jobs = cluster_->client().ListJobs();
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(jobs->value.jobs_size(), 1) << "a refused job must change nothing";
}

}  // namespace
}  // namespace orch::e2e
