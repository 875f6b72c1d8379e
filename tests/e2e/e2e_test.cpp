// End to end: real orch-master, orch-agent and orchctl processes on loopback.
// What a user does (orchctl run, get, stop) and sees (a process running, its
// log, its exit) — plus restarts and crashes of the processes themselves.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>

#include "cluster.h"
#include "common/json.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

std::string Example(const std::string& name) { return std::string(ORCH_SOURCE_DIR) + "/examples/" + name; }

class E2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = ::testing::TempDir() + "/orch-e2e-" + info->name();
    cluster_ = std::make_unique<LocalCluster>(root_);
  }
  void TearDown() override {
    if (HasFailure() && cluster_) std::cerr << cluster_->Logs();
    // Stop whatever the test left running so no task outlives it.
    for (pid_t pid : pids_) {
      if (ProcessAlive(pid)) kill(-pid, SIGKILL), kill(pid, SIGKILL);
    }
    cluster_.reset();
  }

  void StartCluster(std::vector<std::string> agents) {
    cluster_->StartMaster();
    for (const auto& a : agents) cluster_->StartAgent(a);
    ASSERT_TRUE(cluster_->WaitReady(static_cast<int>(agents.size()), 20s)) << cluster_->Logs();
  }

  // Waits until the job's first allocation has `status`; returns it.
  v1::Allocation WaitAlloc(const std::string& job, v1::Allocation::ClientStatus status,
                           std::chrono::milliseconds timeout = 20s) {
    v1::Allocation last;
    bool ok = WaitFor(
        [&] {
          auto a = FirstAlloc(cluster_->client(), job);
          if (!a) return false;
          last = *a;
          return a->client_status() == status;
        },
        timeout);
    EXPECT_TRUE(ok) << "alloc of " << job << " never became " << v1::Allocation::ClientStatus_Name(status)
                    << "; last: " << ToJson(last);
    for (const auto& ts : last.task_states()) {
      if (ts.pid() > 0) pids_.push_back(ts.pid());
    }
    return last;
  }

  std::string WriteJob(const std::string& name, const std::string& text) {
    std::string path = root_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  std::string root_;
  std::unique_ptr<LocalCluster> cluster_;
  std::vector<pid_t> pids_;
};

TEST_F(E2ETest, HelloRunsWritesItsLogAndStops) {
  StartCluster({"a1"});
  auto run = cluster_->Orchctl({"run", "-f", Example("hello.yaml")});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  // `run` follows the job until its allocation runs.
  EXPECT_NE(run.out.find("job hello: 1/1 running"), std::string::npos) << run.out;

  v1::Allocation alloc = WaitAlloc("hello", v1::Allocation::RUNNING);
  ASSERT_EQ(alloc.task_states_size(), 1);
  pid_t pid = alloc.task_states(0).pid();
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(ProcessAlive(pid));

  // The task's output lands in its log file under the agent's data dir.
  std::string log = cluster_->agent_data_dir("a1") + "/allocs/" + alloc.id() + "/greeter.stdout";
  ASSERT_TRUE(WaitFor([&] { return ReadFile(log).find("hello from orch: alloc " + alloc.id()) != std::string::npos; }, 10s))
      << "log: " << ReadFile(log);

  // orchctl shows it.
  auto get = cluster_->Orchctl({"get", "allocs"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_NE(get.out.find("running"), std::string::npos) << get.out;
  auto json = cluster_->Orchctl({"get", "jobs", "-o", "json"});
  v1::JobList jobs;
  ASSERT_TRUE(FromJson(json.out, &jobs).ok()) << json.out;
  ASSERT_EQ(jobs.jobs_size(), 1);
  EXPECT_EQ(jobs.jobs(0).status(), v1::Job::RUNNING);

  // Stopping the job ends the process.
  auto stop = cluster_->Orchctl({"stop", "hello"});
  ASSERT_EQ(stop.exit_code, 0) << stop.err;
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }, 20s)) << "pid " << pid << " still alive";
  WaitAlloc("hello", v1::Allocation::COMPLETE);
}

// A test that ends before stopping its jobs (an ASSERT returns early)
// still leaves no task behind: the cluster takes its agents' tasks with it.
TEST_F(E2ETest, ATaskLeftRunningEndsWithItsCluster) {
  StartCluster({"a1"});
  ASSERT_EQ(cluster_->Orchctl({"run", "-f", Example("hello.yaml")}).exit_code, 0);
  const pid_t pid = WaitAlloc("hello", v1::Allocation::RUNNING).task_states(0).pid();
  ASSERT_TRUE(ProcessAlive(pid));
  pids_.clear();  // not TearDown's to stop
  cluster_.reset();
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }, 5s))
      << "task " << pid << " outlived its cluster";
  if (ProcessAlive(pid)) kill(pid, SIGKILL);
}

TEST_F(E2ETest, BatchJobRunsToCompletionOnce) {
  StartCluster({"a1"});
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", Example("countdown.yaml")}).exit_code, 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto allocs = cluster_->client().ListAllocations("countdown");
        if (!allocs.ok() || allocs->value.allocations_size() != 2) return false;
        for (const auto& a : allocs->value.allocations()) {
          if (a.client_status() != v1::Allocation::COMPLETE) return false;
        }
        return true;
      },
      30s));
  auto allocs = cluster_->client().ListAllocations("countdown");
  for (const auto& a : allocs->value.allocations()) {
    ASSERT_EQ(a.task_states_size(), 1);
    EXPECT_EQ(a.task_states(0).exit_code(), 0);
    EXPECT_FALSE(a.task_states(0).failed());
    std::string log = ReadFile(cluster_->agent_data_dir("a1") + "/allocs/" + a.id() + "/count.stdout");
    EXPECT_NE(log.find("liftoff"), std::string::npos) << log;
  }
  auto job = cluster_->client().GetJob("countdown");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->value.job().status(), v1::Job::DEAD);
  // Nothing is started again once the work is done.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(cluster_->client().ListAllocations("countdown")->value.allocations_size(), 2);
}

TEST_F(E2ETest, FailingTaskReportsItsExitCode) {
  StartCluster({"a1"});
  std::string file = WriteJob("fail.yaml", R"(
id: fail
type: batch
groups:
  - name: g
    count: 1
    restart: { attempts: 0 }   # fail at once, no restarts
    tasks:
      - name: t
        driver: exec
        command: /bin/sh
        args: [-c, "echo about to fail >&2; exit 3"]
        resources: { cpu: 10, memory: 8 }
)");
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", file}).exit_code, 0);
  v1::Allocation a = WaitAlloc("fail", v1::Allocation::FAILED);
  ASSERT_EQ(a.task_states_size(), 1);
  EXPECT_EQ(a.task_states(0).exit_code(), 3);
  EXPECT_TRUE(a.task_states(0).failed());
  EXPECT_NE(ReadFile(cluster_->agent_data_dir("a1") + "/allocs/" + a.id() + "/t.stderr").find("about to fail"),
            std::string::npos);
}

TEST_F(E2ETest, BadJobFilesAreRejectedWithOneLineAndChangeNothing) {
  StartCluster({});
  struct Bad {
    std::string text, expect;
  };
  std::vector<Bad> bad = {
      {"id: [broken", "malformed"},
      {"id: x\nflavour: mint\ngroups: []\n", "flavour: unknown field"},
      {"type: service\ngroups: [ { name: g, count: 1, tasks: [ { name: t, driver: exec, command: /bin/true, "
       "resources: { cpu: 1, memory: 1 } } ] } ]\n",
       "id: is required"},
      {"id: x\ngroups: [ { name: g, count: -1, tasks: [ { name: t, driver: exec, command: /bin/true, "
       "resources: { cpu: 1, memory: 1 } } ] } ]\n",
       "groups[0].count: must not be negative"},
      {"id: x\ngroups: [ { name: g, count: 1, tasks: [ { name: t, driver: warp, command: /bin/true, "
       "resources: { cpu: 1, memory: 1 } } ] } ]\n",
       "unknown driver \"warp\""},
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    auto r = cluster_->Orchctl({"run", "-f", WriteJob("bad" + std::to_string(i) + ".yaml", bad[i].text)});
    EXPECT_NE(r.exit_code, 0) << bad[i].text;
    EXPECT_NE(r.err.find(bad[i].expect), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "not one line: " << r.err;
  }
  auto missing = cluster_->Orchctl({"run", "-f", root_ + "/does-not-exist.yaml"});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_EQ(cluster_->client().ListJobs()->value.jobs_size(), 0);
}

TEST_F(E2ETest, JobSurvivesMasterRestartAndCrash) {
  StartCluster({});
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", Example("hello.yaml")}).exit_code, 0);
  cluster_->StopMaster(SIGTERM);
  EXPECT_EQ(cluster_->MasterExitCode(15s), 0) << "master did not shut down cleanly";
  cluster_->StartMaster();
  ASSERT_TRUE(cluster_->WaitReady(0, 15s));
  auto jobs = cluster_->client().ListJobs();
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_EQ(jobs->value.jobs_size(), 1);
  EXPECT_EQ(jobs->value.jobs(0).id(), "hello");

  // An acknowledged write survives kill -9 too.
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", Example("countdown.yaml")}).exit_code, 0);
  cluster_->StopMaster(SIGKILL);
  cluster_->MasterExitCode(10s);
  cluster_->StartMaster();
  ASSERT_TRUE(cluster_->WaitReady(0, 15s));
  auto after = cluster_->Orchctl({"get", "jobs"});
  EXPECT_NE(after.out.find("countdown"), std::string::npos) << after.out;
  EXPECT_NE(after.out.find("hello"), std::string::npos) << after.out;
}

TEST_F(E2ETest, RestartedAgentAdoptsItsRunningTask) {
  StartCluster({"a1"});
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", Example("hello.yaml")}).exit_code, 0);
  v1::Allocation before = WaitAlloc("hello", v1::Allocation::RUNNING);
  pid_t pid = before.task_states(0).pid();
  cluster_->StopAgent("a1", SIGTERM);
  EXPECT_EQ(cluster_->AgentExitCode("a1", 15s), 0) << "agent did not shut down cleanly";
  EXPECT_TRUE(ProcessAlive(pid)) << "the task died with its agent";
  cluster_->StartAgent("a1");
  std::this_thread::sleep_for(2s);  // let it reconcile
  v1::Allocation after = WaitAlloc("hello", v1::Allocation::RUNNING);
  EXPECT_EQ(after.id(), before.id());
  EXPECT_EQ(after.task_states(0).pid(), pid) << "a second copy was started";
  EXPECT_EQ(cluster_->client().ListAllocations("hello")->value.allocations_size(), 1);
  ASSERT_EQ(cluster_->Orchctl({"stop", "hello"}).exit_code, 0);
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }, 20s));
}

TEST_F(E2ETest, WorkOfADeadNodeIsRescheduledElsewhere) {
  StartCluster({"a1", "a2"});
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", Example("hello.yaml")}).exit_code, 0);
  v1::Allocation first = WaitAlloc("hello", v1::Allocation::RUNNING);
  auto node = cluster_->client().GetNode(first.node_id());
  ASSERT_TRUE(node.ok());
  std::string victim = node->value.name();
  cluster_->StopAgent(victim, SIGKILL);
  // Within the heartbeat TTL (3s here) the node is down, the allocation lost
  // and a replacement runs on the other node.
  ASSERT_TRUE(WaitFor(
      [&] {
        auto allocs = cluster_->client().ListAllocations("hello");
        if (!allocs.ok()) return false;
        bool lost = false, replaced = false;
        for (const auto& a : allocs->value.allocations()) {
          lost |= a.id() == first.id() && a.client_status() == v1::Allocation::LOST;
          replaced |= a.node_id() != first.node_id() && a.client_status() == v1::Allocation::RUNNING;
          for (const auto& ts : a.task_states()) {
            if (ts.pid() > 0) pids_.push_back(ts.pid());
          }
        }
        return lost && replaced;
      },
      20s));
  auto nodes = cluster_->Orchctl({"get", "nodes"});
  EXPECT_NE(nodes.out.find("down"), std::string::npos) << nodes.out;
  ASSERT_EQ(cluster_->Orchctl({"stop", "hello"}).exit_code, 0);
}

TEST(DevModeTest, OneProcessRunsAJob) {
  std::string root = ::testing::TempDir() + "/orch-e2e-dev";
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  int port = FreePort();
  std::string url = "http://127.0.0.1:" + std::to_string(port);
  Subprocess dev({ORCH_MASTER_BIN, "--dev", "--data-dir", root + "/data", "--http",
                  "127.0.0.1:" + std::to_string(port)},
                 root + "/dev.log");
  OrchClient client({url});
  ASSERT_TRUE(WaitFor([&] {
    auto nodes = client.ListNodes();
    return nodes.ok() && nodes->value.nodes_size() == 1;
  }, 20s)) << dev.Log();
  auto run = RunCommand({ORCHCTL_BIN, "--addr", url, "run", "-f", Example("countdown.yaml")});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_TRUE(WaitFor([&] {
    auto job = client.GetJob("countdown");
    return job.ok() && job->value.job().status() == v1::Job::DEAD &&
           job->value.summary().count("COMPLETE") && job->value.summary().at("COMPLETE") == 2;
  }, 30s)) << dev.Log();
  dev.Signal(SIGTERM);
  EXPECT_EQ(dev.Wait(15s), 0) << dev.Log();
}

}  // namespace
}  // namespace orch::e2e
