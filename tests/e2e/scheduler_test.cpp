// End to end for the scheduler with real orch-master, orch-agent and
// orchctl processes: an agent killed with -9 has its work run elsewhere
// within the heartbeat TTL plus a few seconds (the figure is printed), and
// stops its stale copies when it comes back; a drained node's six
// allocations all move, never more than migrate.max_parallel at once;
// scale and plan through orchctl.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "cluster.h"
#include "common/json.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr const char* kSleeper = R"(
id: sleeper
type: service
groups:
  - name: s
    count: %d
    migrate: { max_parallel: %d }
    network:
      ports: [ { name: http } ]
    tasks:
      - name: t
        driver: exec
        command: /bin/sh
        args: [-c, "while true; do sleep 1; done"]
        resources: { cpu: 50, memory: 16 }
)";

class SchedulerE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = ::testing::TempDir() + "/orch-e2e-sched-" + info->name();
    cluster_ = std::make_unique<LocalCluster>(root_);
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << cluster_->Logs();
    for (pid_t pid : pids_) {
      if (ProcessAlive(pid)) kill(-pid, SIGKILL), kill(pid, SIGKILL);
    }
    cluster_.reset();
  }

  std::string WriteJob(int count, int max_parallel) {
    char buf[1024];
    std::snprintf(buf, sizeof buf, kSleeper, count, max_parallel);
    std::string path = root_ + "/sleeper.yaml";
    std::ofstream(path) << buf;
    return path;
  }

  std::vector<v1::Allocation> Allocs() {
    auto list = cluster_->client().ListAllocations("sleeper");
    if (!list.ok()) return {};
    std::vector<v1::Allocation> out(list->value.allocations().begin(), list->value.allocations().end());
    for (const auto& a : out) {
      for (const auto& ts : a.task_states()) {
        if (ts.pid() > 0) pids_.push_back(ts.pid());
      }
    }
    return out;
  }
  // Live and running, per node id.
  std::map<std::string, int> RunningByNode() {
    std::map<std::string, int> out;
    for (const auto& a : Allocs()) {
      if (a.desired_status() == v1::Allocation::RUN && a.client_status() == v1::Allocation::RUNNING) {
        out[a.node_id()]++;
      }
    }
    return out;
  }
  int Running() {
    int n = 0;
    for (const auto& [node, c] : RunningByNode()) n += c;
    return n;
  }
  std::string NodeId(const std::string& name) {
    auto nodes = cluster_->client().ListNodes();
    if (!nodes.ok()) return "";
    for (const auto& n : nodes->value.nodes()) {
      if (n.name() == name) return n.id();
    }
    return "";
  }

  std::string root_;
  std::unique_ptr<LocalCluster> cluster_;
  std::vector<pid_t> pids_;
};

TEST_F(SchedulerE2ETest, KilledAgentsWorkRunsElsewhereAndItsStaleCopiesStopOnReturn) {
  cluster_->StartMaster();
  for (const char* a : {"a1", "a2", "a3"}) cluster_->StartAgent(a);
  ASSERT_TRUE(cluster_->WaitReady(3, 20s)) << cluster_->Logs();
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", WriteJob(6, 1)}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Running() == 6; }, 30s));
  // The masters chose the ports (default range 20000-32000) and the agents
  // used them as given (their own pick would come from the ephemeral range).
  for (const auto& a : Allocs()) {
    ASSERT_EQ(a.ports_size(), 1) << ToJson(a);
    EXPECT_GE(a.ports(0).value(), 20000) << ToJson(a);
    EXPECT_LE(a.ports(0).value(), 32000) << ToJson(a);
  }
  // The node with the most work dies.
  auto by_node = RunningByNode();
  std::string victim_id;
  int most = 0;
  for (const auto& [n, c] : by_node) {
    if (c > most) most = c, victim_id = n;
  }
  auto node = cluster_->client().GetNode(victim_id);
  ASSERT_TRUE(node.ok());
  std::string victim = node->value.name();
  std::vector<pid_t> stale;
  for (const auto& a : Allocs()) {
    if (a.node_id() != victim_id) continue;
    for (const auto& ts : a.task_states()) {
      if (ts.pid() > 0) stale.push_back(ts.pid());
    }
  }
  auto killed = SteadyClock::now();
  cluster_->StopAgent(victim, SIGKILL);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = RunningByNode();
        int elsewhere = 0;
        for (const auto& [n, c] : r) elsewhere += n == victim_id ? 0 : c;
        return elsewhere == 6;
      },
      30s))
      << "the killed agent's " << most << " allocation(s) were not replaced";
  double secs = std::chrono::duration<double>(SteadyClock::now() - killed).count();
  std::printf("[ figure ] %d allocation(s) of a kill -9'd agent running elsewhere %.2f s after the kill "
              "(heartbeat TTL 3 s)\n",
              most, secs);
  int alive = 0;
  for (pid_t p : stale) alive += ProcessAlive(p);
  std::printf("[ figure ] %d of %zu task(s) of the dead node still running while it is down\n", alive, stale.size());
  int lost = 0;
  for (const auto& a : Allocs()) lost += a.node_id() == victim_id && a.client_status() == v1::Allocation::LOST;
  EXPECT_EQ(lost, most);
  // It comes back: whatever of the old work still runs there is stopped.
  cluster_->StartAgent(victim);
  ASSERT_TRUE(cluster_->WaitReady(3, 30s));
  EXPECT_TRUE(WaitFor(
      [&] {
        for (pid_t p : stale) {
          if (ProcessAlive(p)) return false;
        }
        return true;
      },
      30s))
      << "stale tasks of the returning node still run";
  // And the job still has exactly six running.
  EXPECT_TRUE(WaitFor([&] { return Running() == 6; }, 10s));
  ASSERT_EQ(cluster_->Orchctl({"stop", "sleeper"}).exit_code, 0);
}

TEST_F(SchedulerE2ETest, DrainMovesSixAllocationsNeverMoreThanMaxParallelAtOnce) {
  cluster_->StartMaster();
  cluster_->StartAgent("a1");
  ASSERT_TRUE(cluster_->WaitReady(1, 20s)) << cluster_->Logs();
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", WriteJob(6, 2)}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Running() == 6; }, 30s));
  cluster_->StartAgent("a2");
  ASSERT_TRUE(cluster_->WaitReady(2, 20s));
  std::string a1 = NodeId("a1"), a2 = NodeId("a2");
  auto drain = cluster_->Orchctl({"node", "drain", "a1"});
  ASSERT_EQ(drain.exit_code, 0) << drain.out << drain.err;
  EXPECT_NE(drain.out.find("draining"), std::string::npos) << drain.out;
  int worst = 0;
  auto start = SteadyClock::now();
  bool done = WaitFor(
      [&] {
        auto r = RunningByNode();
        int running = r[a1] + r[a2];
        worst = std::max(worst, 6 - running);
        return r[a2] == 6;
      },
      60s);
  ASSERT_TRUE(done) << "not all moved; running on a1 " << RunningByNode()[a1];
  std::printf("[ figure ] drain of 6 allocations took %.2f s; at most %d moving at once (max_parallel 2)\n",
              std::chrono::duration<double>(SteadyClock::now() - start).count(), worst);
  // Never more than max_parallel short. (Whether a poll catches a move in
  // flight at all is timing: replacements now start within a fraction of
  // a second. The exact batching is checked on a fake clock in
  // scheduler_test's drain tests.)
  EXPECT_LE(worst, 2);
  int live_on_a1 = 0;
  for (const auto& a : Allocs()) live_on_a1 += a.node_id() == a1 && a.desired_status() == v1::Allocation::RUN;
  EXPECT_EQ(live_on_a1, 0);
  // A draining node takes no new work; after undo it does.
  auto scale = cluster_->Orchctl({"scale", "sleeper", "s", "8"});
  ASSERT_EQ(scale.exit_code, 0) << scale.err;
  ASSERT_TRUE(WaitFor([&] { return RunningByNode()[a2] == 8; }, 30s));
  EXPECT_EQ(RunningByNode()[a1], 0);
  ASSERT_EQ(cluster_->Orchctl({"node", "drain", "a1", "--undo"}).exit_code, 0);
  // Two more than running: the plan scores their placements (the 8 that
  // run would stay, moved in place).
  auto plan = cluster_->Orchctl({"plan", "-f", WriteJob(10, 1)});
  EXPECT_EQ(plan.exit_code, 0) << plan.err;
  EXPECT_NE(plan.out.find("binpack"), std::string::npos) << plan.out;
  ASSERT_EQ(cluster_->Orchctl({"stop", "sleeper"}).exit_code, 0);
}

// The pid of each running allocation's task, by allocation id.
std::map<std::string, pid_t> RunningPids(const std::vector<v1::Allocation>& allocs) {
  std::map<std::string, pid_t> out;
  for (const auto& a : allocs) {
    if (a.desired_status() != v1::Allocation::RUN || a.client_status() != v1::Allocation::RUNNING) continue;
    for (const auto& ts : a.task_states()) {
      if (ts.pid() > 0) out[a.id()] = ts.pid();
    }
  }
  return out;
}

TEST_F(SchedulerE2ETest, ResubmittingWithAnotherCountReplacesNothingThatKeepsRunning) {
  cluster_->StartMaster();
  cluster_->StartAgent("a1");
  ASSERT_TRUE(cluster_->WaitReady(1, 20s)) << cluster_->Logs();
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", WriteJob(3, 1)}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return RunningPids(Allocs()).size() == 3; }, 30s));
  auto first = RunningPids(Allocs());
  // The same file again: a no-op.
  auto same = cluster_->Orchctl({"run", "-d", "-f", WriteJob(3, 1)});
  ASSERT_EQ(same.exit_code, 0) << same.err;
  EXPECT_NE(same.out.find("unchanged"), std::string::npos) << same.out;
  // 3 -> 5: two more, the three first untouched (same allocation, same pid).
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", WriteJob(5, 1)}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return RunningPids(Allocs()).size() == 5; }, 30s));
  auto five = RunningPids(Allocs());
  for (const auto& [id, pid] : first) {
    ASSERT_TRUE(five.count(id)) << id << " was replaced";
    EXPECT_EQ(five[id], pid) << id << " was restarted";
    EXPECT_TRUE(ProcessAlive(pid));
  }
  // 5 -> 2: three stop; the two that stay keep their processes.
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", WriteJob(2, 1)}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return RunningPids(Allocs()).size() == 2; }, 30s));
  for (const auto& [id, pid] : RunningPids(Allocs())) {
    ASSERT_TRUE(five.count(id)) << id << " is new";
    EXPECT_EQ(five[id], pid) << id << " was restarted";
  }
  ASSERT_EQ(cluster_->Orchctl({"stop", "sleeper"}).exit_code, 0);
}

}  // namespace
}  // namespace orch::e2e

namespace orch::e2e {
namespace {

// The short eval id `orchctl run -d` printed ("... eval 1a2b3c4d, index 7)").
std::string EvalIdIn(const std::string& out) {
  auto at = out.find("eval ");
  return at == std::string::npos ? "" : out.substr(at + 5, 8);
}

TEST_F(SchedulerE2ETest, EvalStatusFollowsAnEvaluationAndExplainsBlockedWork) {
  cluster_->StartMaster();
  cluster_->StartAgent("a1", {"--memory", "512"});
  ASSERT_TRUE(cluster_->WaitReady(1, 20s));
  const std::string big = root_ + "/big.json";
  std::ofstream(big) << ExecJob("big", "service", "/bin/sleep", {"1000"}, 4096);
  auto run = cluster_->Orchctl({"run", "-d", "-f", big});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const std::string eval = EvalIdIn(run.out);
  ASSERT_EQ(eval.size(), 8u) << run.out;
  // Blocked: --monitor says so with the scheduler's reason, and exits 1.
  auto blocked = cluster_->Orchctl({"eval", "status", eval, "--monitor", "--timeout", "30s"});
  EXPECT_EQ(blocked.exit_code, 1) << blocked.out << blocked.err;
  EXPECT_NE(blocked.out.find("status:       blocked"), std::string::npos) << blocked.out;
  EXPECT_NE(blocked.out.find("memory"), std::string::npos) << "the reason: " << blocked.out;
  EXPECT_NE(blocked.err.find("is blocked"), std::string::npos) << blocked.err;
  // A job that fits: complete, exit 0; the list shows both jobs' evaluations.
  std::ofstream(big) << ExecJob("small", "batch", "/bin/true");
  run = cluster_->Orchctl({"run", "-d", "-f", big});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  auto done = cluster_->Orchctl({"eval", "status", EvalIdIn(run.out), "--monitor"});
  EXPECT_EQ(done.exit_code, 0) << done.out << done.err;
  EXPECT_NE(done.out.find("status:       complete"), std::string::npos) << done.out;
  auto list = cluster_->Orchctl({"eval", "list", "--job", "big"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(eval), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find("small"), std::string::npos) << list.out;
  // An id nothing has: a clear error.
  auto missing = cluster_->Orchctl({"eval", "status", "ffffffff"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("not found"), std::string::npos) << missing.err;
  ASSERT_EQ(cluster_->Orchctl({"stop", "big"}).exit_code, 0);
}

TEST_F(SchedulerE2ETest, TopShowsNodesAndAllocationsByMeasuredLoad) {
  cluster_->StartMaster();
  cluster_->StartAgent("a1");
  ASSERT_TRUE(cluster_->WaitReady(1, 20s));
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", WriteJob(2, 1)}).exit_code, 0);
  ASSERT_TRUE(WaitFor([&] { return Running() == 2; }, 30s));
  // The agents measure every second and report an allocation's use with
  // its status, then every 10 s: both allocations get a measure.
  CommandResult top;
  bool measured = WaitFor(
      [&] {
        top = cluster_->Orchctl({"top"});
        if (top.exit_code != 0) return false;
        int rows = 0, unmeasured = 0;
        std::istringstream in(top.out);
        for (std::string line; std::getline(in, line);) {
          if (line.find("sleeper") == std::string::npos) continue;
          ++rows;
          unmeasured += line.find("   -   ") != std::string::npos;
        }
        return rows == 2 && unmeasured == 0;
      },
      30s);
  EXPECT_TRUE(measured) << top.out << top.err;
  EXPECT_NE(top.out.find("MEMORY USED"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("a1"), std::string::npos) << top.out;
  auto json = cluster_->Orchctl({"top", "-o", "json", "--limit", "1"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(json.out.find("\"usage\""), std::string::npos) << json.out;
  ASSERT_EQ(cluster_->Orchctl({"stop", "sleeper"}).exit_code, 0);
}

}  // namespace
}  // namespace orch::e2e
