// Deployments end to end (issue 11): a real orch-master and orch-agent, a
// service of 3 id servers (each answers its job version) behind the
// agent's balancer, and a client sending requests through it the whole
// time while (a) the same file is resubmitted, (b) a new version rolls out
// with max_parallel 1, (c) a broken version fails its deployment and
// auto_revert brings the last stable one back. No request may fail.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "cluster.h"
#include "http_probe.h"
#include "tests/support/ports.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

// Requests through the balancer, one after another on fresh connections,
// until stopped; also the fewest healthy endpoints the registry listed.
class TrafficLoop {
 public:
  TrafficLoop(int port, OrchClient* client) : port_(port), client_(client) {
    thread_ = std::thread([this] { Run(); });
  }
  ~TrafficLoop() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  Tally tally() {
    std::lock_guard lock(mu_);
    return tally_;
  }
  int min_healthy() const { return min_healthy_; }

 private:
  void Run() {
    auto last_probe = std::chrono::steady_clock::now() - 1s;
    while (!stop_) {
      auto r = HttpGet(port_);
      {
        std::lock_guard lock(mu_);
        tally_.Add(r);
      }
      if (std::chrono::steady_clock::now() - last_probe >= 100ms) {
        last_probe = std::chrono::steady_clock::now();
        auto s = client_->GetService("web");
        if (s.ok()) {
          int healthy = 0;
          for (const auto& e : s->value.endpoints()) healthy += e.healthy();
          min_healthy_ = std::min(min_healthy_.load(), healthy);
        }
      }
      std::this_thread::sleep_for(5ms);
    }
  }
  int port_;
  OrchClient* client_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  Tally tally_;
  std::atomic<int> min_healthy_{1 << 20};
  std::thread thread_;
};

class DeploymentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = ::testing::TempDir() + "/orch-deploy-" + info->name();
    std::filesystem::remove_all(root_);
    cluster_ = std::make_unique<LocalCluster>(root_);
    listen_ = ListenPort();
    // This cluster's dynamic ports: a range of its own, free and holding no
    // port given to the master, agent or balancer (a task handed one could
    // not bind it), nor shared with parallel test clusters.
    const int base = orch::testing::FreeLoopbackPortRange(64);
    ASSERT_NE(base, 0);
    cluster_->StartMaster({"--service-port-range", std::to_string(listen_) + "-" + std::to_string(listen_)});
    cluster_->StartAgent("n1", {"--lb-bind", "127.0.0.1", "--lb-connect-timeout", "1s", "--dynamic-ports",
                                std::to_string(base) + "-" + std::to_string(base + 63)});
    ASSERT_TRUE(cluster_->WaitReady(1, 20s)) << cluster_->Logs();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << cluster_->Logs();
    std::set<pid_t> pids = Pids();
    StopJobAndWait(cluster_->client(), "web", 20s);
    WaitFor([&] { return Pids().empty(); }, 15s);
    for (pid_t pid : pids) {
      if (ProcessAlive(pid)) kill(pid, SIGKILL);
    }
    cluster_.reset();
  }

  // The job file of `version`: the id server answering `version`, or a
  // task that exits at once.
  std::string File(const std::string& version, bool broken = false, int canary = 0) {
    std::string path = root_ + "/web-" + version + (canary ? "-canary" : "") + ".yaml";
    std::ofstream f(path);
    f << "id: web\ntype: service\ngroups:\n"
         "  - name: web\n    count: 3\n"
         "    network: { ports: [ { name: http } ] }\n"
         "    update: { max_parallel: 1, min_healthy_time: 1s, healthy_deadline: 20s, progress_deadline: 60s,"
         " auto_revert: true, canary: "
      << canary << " }\n"
         "    restart: { attempts: 1, interval: 10m, delay: 500ms, mode: fail }\n"
         "    tasks:\n      - name: server\n        driver: exec\n";
    if (broken) {
      f << "        command: /bin/false\n";
    } else {
      f << "        command: " << ORCH_TEST_ID_SERVER_BIN << "\n        args: [--port, \"${PORT_http}\", --id, "
        << version << "]\n";
    }
    f << "        shutdown_delay: 1s\n"
         "        resources: { cpu: 50, memory: 32 }\n"
         "        service: { name: web, port: http, strategy: round_robin, listen: "
      << listen_
      << " }\n"
         "        check: { type: http, path: /health, port: http, interval: 300ms, timeout: 1s }\n";
    return path;
  }

  std::set<pid_t> Pids() {
    std::set<pid_t> out;
    auto allocs = cluster_->client().ListAllocations("web");
    if (!allocs.ok()) return out;
    for (const auto& a : allocs->value.allocations()) {
      for (const auto& t : a.task_states()) {
        if (t.pid() > 0 && ProcessAlive(t.pid())) out.insert(t.pid());
      }
    }
    return out;
  }
  std::set<std::string> LiveAllocs() {
    std::set<std::string> out;
    auto allocs = cluster_->client().ListAllocations("web");
    if (!allocs.ok()) return out;
    for (const auto& a : allocs->value.allocations()) {
      if (a.desired_status() == v1::Allocation::RUN && a.client_status() == v1::Allocation::RUNNING) {
        out.insert(a.id());
      }
    }
    return out;
  }
  // What the balancer answers over `n` requests.
  Tally Sample(int n) {
    Tally t;
    for (int i = 0; i < n; ++i) t.Add(HttpGet(listen_));
    return t;
  }

  std::string root_;
  int listen_ = 0;
  std::unique_ptr<LocalCluster> cluster_;
};

TEST_F(DeploymentTest, ResubmitRolloutAndAutoRevertFailNoRequest) {
  // Version 0, waited for through its deployment.
  auto run0 = cluster_->Orchctl({"run", "-f", File("v0"), "--wait", "--timeout", "90s"});
  ASSERT_EQ(run0.exit_code, 0) << run0.out << run0.err;
  EXPECT_NE(run0.out.find("successful"), std::string::npos) << run0.out;
  ASSERT_TRUE(WaitFor([&] { return Sample(9).by_body == std::map<std::string, int>{{"v0", 9}}; }, 30s));
  const std::set<std::string> v0_allocs = LiveAllocs();
  ASSERT_EQ(v0_allocs.size(), 3u);

  TrafficLoop traffic(listen_, &cluster_->client());

  // (a) The same file again: nothing is replaced.
  auto same = cluster_->Orchctl({"run", "-d", "-f", File("v0")});
  ASSERT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.out.find("unchanged"), std::string::npos) << same.out;
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(LiveAllocs(), v0_allocs);

  // What v1 would change, field by field, before running it.
  auto diff = cluster_->Orchctl({"job", "diff", "-f", File("v1")});
  EXPECT_EQ(diff.exit_code, 0) << diff.err;
  EXPECT_NE(diff.out.find("group web: destructive update (count 3)"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("~ groups[web].tasks[server].args[3]: \"v0\" => \"v1\""), std::string::npos) << diff.out;
  auto same_diff = cluster_->Orchctl({"job", "diff", "-f", File("v0")});
  EXPECT_NE(same_diff.out.find("unchanged"), std::string::npos) << same_diff.out;

  // (b) A new version, one allocation at a time, each once the one before
  // is healthy.
  auto run1 = cluster_->Orchctl({"run", "-f", File("v1"), "--wait", "--timeout", "120s"});
  ASSERT_EQ(run1.exit_code, 0) << run1.out << run1.err;
  ASSERT_TRUE(WaitFor([&] { return Sample(9).by_body == std::map<std::string, int>{{"v1", 9}}; }, 30s));
  EXPECT_GE(traffic.min_healthy(), 2) << "the rollout dropped below count - max_parallel healthy endpoints";
  for (const auto& id : LiveAllocs()) EXPECT_FALSE(v0_allocs.count(id)) << id << " was not replaced";

  // (c) A broken version: its deployment fails, auto_revert rolls version 1's
  // spec back in as version 3.
  auto run2 = cluster_->Orchctl({"run", "-f", File("v2", true), "--wait", "--timeout", "120s"});
  EXPECT_NE(run2.exit_code, 0) << run2.out;
  EXPECT_NE(run2.err.find("failed"), std::string::npos) << run2.err;
  bool reverted = WaitFor(
      [&] {
        auto d = cluster_->client().ListDeployments("web");
        return d.ok() && !d->value.deployments().empty() && d->value.deployments(0).job_version() == 3 &&
               d->value.deployments(0).status() == v1::Deployment::SUCCESSFUL;
      },
      120s);
  ASSERT_TRUE(reverted) << cluster_->Orchctl({"deployment", "list"}).out;
  ASSERT_TRUE(WaitFor([&] { return Sample(9).by_body == std::map<std::string, int>{{"v1", 9}}; }, 30s));
  traffic.Stop();
  Tally t = traffic.tally();
  EXPECT_EQ(t.failed, 0) << "requests failed during the deployments";
  EXPECT_GT(t.by_body["v0"] + t.by_body["v1"], 100);
  EXPECT_GE(traffic.min_healthy(), 2);

  // The history tells the story.
  auto history = cluster_->client().JobVersions("web");
  ASSERT_TRUE(history.ok());
  std::map<uint64_t, bool> stable;
  for (const auto& v : history->value.versions()) stable[v.version()] = v.stable();
  EXPECT_EQ(stable, (std::map<uint64_t, bool>{{0, true}, {1, true}, {2, false}, {3, true}}));
  std::map<uint64_t, v1::Deployment> by_version;
  for (const auto& d : history->value.deployments()) by_version.emplace(d.job_version(), d);
  EXPECT_EQ(by_version[2].status(), v1::Deployment::FAILED);
  EXPECT_NE(by_version[2].status_description().find("rolling back to version 1"), std::string::npos)
      << by_version[2].status_description();
  EXPECT_EQ(by_version[3].reverts_to(), 1u);
  auto shown = cluster_->Orchctl({"job", "history", "web"});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("failed"), std::string::npos) << shown.out;
}

TEST_F(DeploymentTest, PauseHoldsARolloutFailStopsItAndRevertRunsAnOldSpec) {
  auto run0 = cluster_->Orchctl({"run", "-f", File("v0"), "--wait", "--timeout", "90s"});
  ASSERT_EQ(run0.exit_code, 0) << run0.out << run0.err;
  // Version 1 starts; pause it at once.
  auto run1 = cluster_->Orchctl({"run", "-d", "-f", File("v1")});
  ASSERT_EQ(run1.exit_code, 0) << run1.err;
  auto latest = [&] {
    auto d = cluster_->client().ListDeployments("web");
    return d.ok() && !d->value.deployments().empty() ? d->value.deployments(0) : v1::Deployment();
  };
  ASSERT_EQ(latest().job_version(), 1u);
  auto paused = cluster_->Orchctl({"deployment", "pause", latest().id().substr(0, 8)});
  ASSERT_EQ(paused.exit_code, 0) << paused.err;
  EXPECT_NE(paused.out.find("paused"), std::string::npos) << paused.out;
  // While paused, at most the first batch (one allocation) is replaced.
  std::this_thread::sleep_for(5s);
  auto allocs = cluster_->client().ListAllocations("web");
  ASSERT_TRUE(allocs.ok());
  int v1_live = 0, v0_live = 0;
  for (const auto& a : allocs->value.allocations()) {
    if (a.desired_status() != v1::Allocation::RUN) continue;
    (a.job_version() == 1 ? v1_live : v0_live)++;
  }
  EXPECT_LE(v1_live, 1);
  EXPECT_GE(v0_live, 2);
  auto status = cluster_->Orchctl({"deployment", "status", latest().id()});
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("paused"), std::string::npos) << status.out;
  // Fail it: with auto_revert, version 0's spec comes back as version 2.
  const std::string v1_deployment = latest().id();
  auto failed = cluster_->Orchctl({"deployment", "fail", v1_deployment});
  ASSERT_EQ(failed.exit_code, 0) << failed.err;
  ASSERT_TRUE(WaitFor([&] { return latest().job_version() == 2 && latest().status() == v1::Deployment::SUCCESSFUL; },
                      90s))
      << cluster_->Orchctl({"deployment", "list"}).out;
  ASSERT_TRUE(WaitFor([&] { return Sample(9).by_body == std::map<std::string, int>{{"v0", 9}}; }, 30s));
  // An over deployment refuses actions with a clear error.
  auto again = cluster_->Orchctl({"deployment", "pause", v1_deployment});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("is over"), std::string::npos) << again.err;
  // A revert to the spec that runs changes nothing; to version 1's rolls it.
  auto same = cluster_->Orchctl({"job", "revert", "web", "0"});
  EXPECT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.out.find("unchanged"), std::string::npos) << same.out;
  auto missing = cluster_->Orchctl({"job", "revert", "web", "42"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("no version 42"), std::string::npos) << missing.err;
  auto back = cluster_->Orchctl({"job", "revert", "web", "1"});
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_NE(back.out.find("as version 3"), std::string::npos) << back.out;
  ASSERT_TRUE(WaitFor([&] { return Sample(9).by_body == std::map<std::string, int>{{"v1", 9}}; }, 90s));
}


TEST_F(DeploymentTest, ACanaryServesItsShareUntilPromotedAndFailingRemovesIt) {
  auto run0 = cluster_->Orchctl({"run", "-f", File("v0"), "--wait", "--timeout", "90s"});
  ASSERT_EQ(run0.exit_code, 0) << run0.out << run0.err;
  auto latest = [&] {
    auto d = cluster_->client().ListDeployments("web");
    return d.ok() && !d->value.deployments().empty() ? d->value.deployments(0) : v1::Deployment();
  };
  // One canary of version 1 beside the three of version 0: --wait returns
  // once it is healthy, saying it awaits promotion.
  auto run1 = cluster_->Orchctl({"run", "-f", File("v1", false, 1), "--wait", "--timeout", "90s"});
  ASSERT_EQ(run1.exit_code, 0) << run1.out << run1.err;
  EXPECT_NE(run1.out.find("orchctl deployment promote"), std::string::npos) << run1.out;
  ASSERT_TRUE(WaitFor([&] { return Sample(8).by_body.size() == 2; }, 30s));
  Tally t = Sample(400);
  EXPECT_EQ(t.failed, 0);
  EXPECT_EQ(t.by_body["v1"], 100) << "round robin over 3 old + 1 canary";
  EXPECT_EQ(t.by_body["v0"], 300);
  auto status = cluster_->Orchctl({"deployment", "status", latest().id().substr(0, 8)});
  EXPECT_NE(status.out.find("1/1"), std::string::npos) << status.out;  // canaries placed/desired
  // Failing the deployment removes the canary; auto_revert brings back
  // version 0's spec (the old allocations move to it in place).
  TrafficLoop traffic(listen_, &cluster_->client());
  auto failed = cluster_->Orchctl({"deployment", "fail", latest().id()});
  ASSERT_EQ(failed.exit_code, 0) << failed.err;
  ASSERT_TRUE(WaitFor([&] { return Sample(8).by_body == std::map<std::string, int>{{"v0", 8}}; }, 30s));
  ASSERT_TRUE(WaitFor([&] { return latest().job_version() == 2 && latest().status() == v1::Deployment::SUCCESSFUL; },
                      60s));
  // Again with promotion: the canary takes its slot over, the rest rolls.
  auto run3 = cluster_->Orchctl({"run", "-f", File("v1", false, 1), "--wait", "--timeout", "90s"});
  ASSERT_EQ(run3.exit_code, 0) << run3.out << run3.err;
  auto promoted = cluster_->Orchctl({"deployment", "promote", latest().id()});
  ASSERT_EQ(promoted.exit_code, 0) << promoted.err;
  ASSERT_TRUE(WaitFor([&] { return latest().status() == v1::Deployment::SUCCESSFUL; }, 90s))
      << cluster_->Orchctl({"deployment", "list"}).out;
  ASSERT_TRUE(WaitFor([&] { return Sample(9).by_body == std::map<std::string, int>{{"v1", 9}}; }, 30s));
  EXPECT_EQ(LiveAllocs().size(), 3u);
  traffic.Stop();
  EXPECT_EQ(traffic.tally().failed, 0);
  EXPECT_GE(traffic.min_healthy(), 2) << "fewer than count - max_parallel healthy endpoints";
}


// Reschedule policy: a task that always fails is replaced at most
// `attempts` times within `interval`, each replacement naming the one it
// replaces and carrying the history.
TEST_F(DeploymentTest, AnAlwaysFailingTaskIsReplacedOnlyAsThePolicyAllows) {
  auto r = cluster_->client().SubmitJobDocument(
      "id: web\ntype: service\ngroups:\n  - name: web\n    count: 1\n"
      "    restart: { attempts: 0, mode: fail }\n"
      "    reschedule: { attempts: 2, interval: 10m, delay: 1s, delay_function: constant }\n"
      "    tasks:\n      - name: t\n        driver: exec\n        command: /bin/false\n"
      "        resources: { cpu: 10, memory: 8 }\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto failed = [&] {
    std::vector<v1::Allocation> out;
    auto allocs = cluster_->client().ListAllocations("web");
    if (!allocs.ok()) return out;
    for (const auto& a : allocs->value.allocations()) {
      if (a.client_status() == v1::Allocation::FAILED) out.push_back(a);
    }
    return out;
  };
  ASSERT_TRUE(WaitFor([&] { return failed().size() == 3; }, 60s)) << failed().size();
  std::this_thread::sleep_for(5s);  // several delays more: no fourth
  auto allocs = cluster_->client().ListAllocations("web");
  ASSERT_TRUE(allocs.ok());
  EXPECT_EQ(allocs->value.allocations_size(), 3);
  std::map<int, int> by_history;  // reschedule events -> allocations
  std::set<std::string> ids, previous;
  for (const auto& a : allocs->value.allocations()) {
    by_history[a.reschedule_events_size()]++;
    ids.insert(a.id());
    if (!a.previous_allocation().empty()) previous.insert(a.previous_allocation());
  }
  EXPECT_EQ(by_history, (std::map<int, int>{{0, 1}, {1, 1}, {2, 1}}));
  EXPECT_EQ(previous.size(), 2u);
  for (const auto& p : previous) EXPECT_TRUE(ids.count(p)) << p;
}


// Lifecycle operations: an allocation's tasks restart in place (same
// allocation, new process, not counted as a failure), a stopped service
// allocation is replaced, and `job restart` restarts them all, one at a time.
TEST_F(DeploymentTest, AllocRestartAllocStopAndJobRestart) {
  auto run0 = cluster_->Orchctl({"run", "-f", File("v0"), "--wait", "--timeout", "90s"});
  ASSERT_EQ(run0.exit_code, 0) << run0.out << run0.err;
  auto alloc = [&](const std::string& id) {
    auto a = cluster_->client().GetAllocation(id);
    return a.ok() ? a->value : v1::Allocation();
  };
  auto pid_of = [&](const v1::Allocation& a) { return a.task_states_size() ? a.task_states(0).pid() : 0; };
  const std::set<std::string> before = LiveAllocs();
  ASSERT_EQ(before.size(), 3u);
  const std::string target = *before.begin();
  const int old_pid = pid_of(alloc(target));
  ASSERT_GT(old_pid, 0);

  auto restart = cluster_->Orchctl({"alloc", "restart", target.substr(0, 8)});
  ASSERT_EQ(restart.exit_code, 0) << restart.err;
  ASSERT_TRUE(WaitFor([&] {
    auto a = alloc(target);
    return a.client_status() == v1::Allocation::RUNNING && pid_of(a) > 0 && pid_of(a) != old_pid && a.healthy();
  }, 30s)) << alloc(target).DebugString();
  EXPECT_FALSE(ProcessAlive(old_pid));
  EXPECT_EQ(alloc(target).task_states(0).restarts(), 1);
  EXPECT_EQ(LiveAllocs(), before);  // the same allocations
  auto bad = cluster_->Orchctl({"alloc", "restart", target, "--task", "nope"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("no task \"nope\""), std::string::npos) << bad.err;

  auto job_restart = cluster_->Orchctl({"job", "restart", "web", "--timeout", "60s"});
  ASSERT_EQ(job_restart.exit_code, 0) << job_restart.out << job_restart.err;
  EXPECT_NE(job_restart.out.find("3 allocation(s) restarted in place"), std::string::npos) << job_restart.out;
  for (const auto& id : before) EXPECT_GE(alloc(id).task_states(0).restarts(), 1) << id;
  EXPECT_EQ(alloc(target).task_states(0).restarts(), 2);

  auto stop = cluster_->Orchctl({"alloc", "stop", target});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  ASSERT_TRUE(WaitFor([&] {
    auto live = LiveAllocs();
    return live.size() == 3 && !live.count(target);
  }, 30s));
  EXPECT_EQ(alloc(target).desired_status(), v1::Allocation::STOP);
  ASSERT_TRUE(WaitFor([&] { return Sample(9).by_body == std::map<std::string, int>{{"v0", 9}}; }, 30s));
}


// `alloc signal`: the signal reaches the task (a sleep that SIGUSR1 ends,
// restarted by its policy).
TEST_F(DeploymentTest, AllocSignalReachesTheTask) {
  auto r = cluster_->client().SubmitJobDocument(
      "id: web\ntype: service\ngroups:\n  - name: web\n    count: 1\n"
      "    restart: { attempts: 3, interval: 10m, delay: 100ms, mode: fail }\n"
      "    tasks:\n      - name: t\n        driver: exec\n        command: /bin/sleep\n        args: [\"3600\"]\n"
      "        resources: { cpu: 10, memory: 8 }\n");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::string id;
  ASSERT_TRUE(WaitFor([&] {
    auto live = LiveAllocs();
    if (live.size() != 1) return false;
    id = *live.begin();
    return true;
  }, 30s));
  auto bad = cluster_->Orchctl({"alloc", "signal", id, "-s", "SIGSEGV"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("not one a task may be sent"), std::string::npos) << bad.err;
  auto sent = cluster_->Orchctl({"alloc", "signal", id.substr(0, 8), "-s", "usr1"});
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  ASSERT_TRUE(WaitFor([&] {
    auto a = cluster_->client().GetAllocation(id);
    return a.ok() && a->value.task_states_size() == 1 && a->value.task_states(0).restarts() == 1 &&
           a->value.task_states(0).state() == v1::TaskState::RUNNING;
  }, 30s)) << "SIGUSR1 did not end the sleep";
  auto a = cluster_->client().GetAllocation(id);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->value.signal(), "SIGUSR1");
}


// The issue's own setting: examples/web.yaml (three busybox httpd behind
// the balancer, a check and shutdown_delay, rolling with max_parallel 1)
// rolled to a new page with a client sending requests the whole time.
TEST_F(DeploymentTest, BusyboxWebExampleRollsWithoutAFailedRequest) {
  if (!std::filesystem::exists("/bin/busybox")) GTEST_SKIP() << "no /bin/busybox (busybox-static)";
  std::ifstream in(std::string(ORCH_SOURCE_DIR) + "/examples/web.yaml");
  std::string example((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto replace = [](std::string s, const std::string& from, const std::string& to) {
    auto at = s.find(from);
    if (at != std::string::npos) s.replace(at, from.size(), to);
    return s;
  };
  example = replace(example, "listen: 8080", "listen: " + std::to_string(listen_));
  auto write = [&](const std::string& page) {
    std::string path = root_ + "/busybox-" + page + ".yaml";
    std::ofstream(path) << replace(example, "echo \"hello from $ORCH_ALLOC_ID\"", "echo -n " + page);
    return path;
  };
  auto run0 = cluster_->Orchctl({"run", "-f", write("one"), "--wait", "--timeout", "90s"});
  ASSERT_EQ(run0.exit_code, 0) << run0.out << run0.err;
  ASSERT_TRUE(WaitFor([&] { return Sample(9).by_body == std::map<std::string, int>{{"one", 9}}; }, 30s));
  TrafficLoop traffic(listen_, &cluster_->client());
  auto run1 = cluster_->Orchctl({"run", "-f", write("two"), "--wait", "--timeout", "120s"});
  ASSERT_EQ(run1.exit_code, 0) << run1.out << run1.err;
  ASSERT_TRUE(WaitFor([&] { return Sample(9).by_body == std::map<std::string, int>{{"two", 9}}; }, 30s));
  traffic.Stop();
  Tally t = traffic.tally();
  EXPECT_EQ(t.failed, 0) << "requests failed during the rollout";
  EXPECT_GT(t.by_body["one"], 0);
  EXPECT_GT(t.by_body["two"], 0);
  EXPECT_GE(traffic.min_healthy(), 2);
}

}  // namespace
}  // namespace orch::e2e
