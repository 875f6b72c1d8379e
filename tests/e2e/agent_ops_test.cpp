// End to end, the agent's day-to-day: a task's output read through a master
// (`orchctl logs`, and `-f` showing what is printed after it started), a
// failing task restarted by its group's policy, and an agent that keeps its
// work running while the only master is away and reports what happened
// meanwhile once it is back.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "cluster.h"
#include "common/json.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

class AgentOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = ::testing::TempDir() + "/orch-e2e-ops-" + info->name();
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    cluster_ = std::make_unique<LocalCluster>(root_);
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << cluster_->Logs();
    for (pid_t pid : pids_) {
      if (ProcessAlive(pid)) kill(-pid, SIGKILL), kill(pid, SIGKILL);
    }
    cluster_.reset();
  }

  void StartCluster() {
    cluster_->StartMaster();
    cluster_->StartAgent("a1");
    ASSERT_TRUE(cluster_->WaitReady(1, 20s)) << cluster_->Logs();
  }

  std::string WriteJob(const std::string& name, const std::string& text) {
    std::string path = root_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // The first allocation of `job` once `pred` holds for it.
  std::optional<v1::Allocation> WaitAlloc(const std::string& job,
                                          const std::function<bool(const v1::Allocation&)>& pred,
                                          std::chrono::milliseconds timeout = 30s) {
    std::optional<v1::Allocation> last;
    bool ok = WaitFor(
        [&] {
          auto a = FirstAlloc(cluster_->client(), job);
          if (!a) return false;
          last = a;
          for (const auto& ts : a->task_states()) {
            if (ts.pid() > 0) pids_.push_back(ts.pid());
          }
          return pred(*a);
        },
        timeout);
    if (!ok) {
      ADD_FAILURE() << "alloc of " << job << " never got there; last: " << (last ? ToJson(*last) : "none");
      return std::nullopt;
    }
    return last;
  }

  static bool Running(const v1::Allocation& a) { return a.client_status() == v1::Allocation::RUNNING; }

  std::string root_;
  std::unique_ptr<LocalCluster> cluster_;
  std::vector<pid_t> pids_;
};

TEST_F(AgentOpsTest, LogsThroughAMasterAndFollowShowsNewLines) {
  StartCluster();
  std::string go = root_ + "/go";
  std::string job = WriteJob("talk.yaml", R"(
id: talk
type: service
groups:
  - name: g
    count: 1
    tasks:
      - name: talker
        driver: exec
        command: /bin/sh
        args: [-c, "echo line one; echo line two; echo oops >&2; while [ ! -e )" + go + R"( ]; do sleep 0.1; done; echo after follow started; exec sleep 3600"]
        resources: { cpu: 10, memory: 16 }
)");
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", job}).exit_code, 0);
  auto a = WaitAlloc("talk", Running);
  ASSERT_TRUE(a);
  std::string id = a->id();

  CommandResult logs;
  ASSERT_TRUE(WaitFor(
      [&] {
        logs = cluster_->Orchctl({"logs", id.substr(0, 8)});
        return logs.exit_code == 0 && logs.out == "line one\nline two\n";
      },
      10s))
      << logs.exit_code << " out: " << logs.out << " err: " << logs.err;
  auto tail = cluster_->Orchctl({"logs", id, "--tail", "1"});
  EXPECT_EQ(tail.out, "line two\n") << tail.err;
  auto err = cluster_->Orchctl({"logs", id, "--stderr", "--task", "talker"});
  EXPECT_EQ(err.out, "oops\n") << err.err;
  auto bad = cluster_->Orchctl({"logs", id, "--task", "nope"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("nope"), std::string::npos) << bad.err;

  // -f: what is printed after it started shows up while it runs.
  std::string out_path = root_ + "/follow.out";
  Subprocess follow({ORCHCTL_BIN, "--addr", cluster_->master_url(), "logs", id, "-f"}, out_path);
  ASSERT_TRUE(WaitFor([&] { return ReadFile(out_path).find("line two\n") != std::string::npos; }, 10s))
      << ReadFile(out_path);
  EXPECT_EQ(ReadFile(out_path).find("after follow started"), std::string::npos);
  { std::ofstream(go) << "go"; }
  EXPECT_TRUE(WaitFor(
      [&] { return ReadFile(out_path).find("after follow started\n") != std::string::npos; }, 10s))
      << ReadFile(out_path);
  EXPECT_TRUE(follow.running()) << "orchctl logs -f ended while the task runs";
  follow.Signal(SIGTERM);
  follow.Wait(5s);

  ASSERT_EQ(cluster_->Orchctl({"stop", "talk"}).exit_code, 0);
}

TEST_F(AgentOpsTest, FailingTaskIsRestartedThenFailsWithTheReason) {
  StartCluster();
  std::string job = WriteJob("flaky.yaml", R"(
id: flaky
type: service
groups:
  - name: g
    count: 1
    restart: { attempts: 2, interval: 10m, delay: 200ms }
    tasks:
      - name: web
        driver: exec
        command: /bin/sh
        args: [-c, "echo started; sleep 0.3; exit 3"]
        resources: { cpu: 10, memory: 16 }
)");
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", job}).exit_code, 0);
  auto failed = WaitAlloc("flaky", [](const v1::Allocation& a) {
    return a.client_status() == v1::Allocation::FAILED;
  });
  ASSERT_TRUE(failed);
  ASSERT_EQ(failed->task_states_size(), 1);
  EXPECT_EQ(failed->task_states(0).restarts(), 2);
  EXPECT_EQ(failed->task_states(0).exit_code(), 3);
  EXPECT_EQ(failed->client_description(), "task web: exited with code 3; 2 restarts in 10m exhausted");
  auto logs = cluster_->Orchctl({"logs", failed->id()});
  EXPECT_EQ(logs.out, "started\nstarted\nstarted\n") << logs.err;
}

TEST_F(AgentOpsTest, HealthCheckResultsReachTheMastersAndNeverStopTheTask) {
  StartCluster();
  std::string ok = root_ + "/ok";
  { std::ofstream(ok) << "ok"; }
  std::string job = WriteJob("checked.yaml", R"(
id: checked
type: service
groups:
  - name: g
    count: 1
    tasks:
      - name: t
        driver: exec
        command: /bin/sh
        args: [-c, "exec sleep 3600"]
        resources: { cpu: 10, memory: 16 }
        check: { type: command, command: /bin/test, args: [-e, )" + ok + R"(], interval: 200ms, timeout: 1s }
)");
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", job}).exit_code, 0);
  auto healthy = WaitAlloc("checked", [](const v1::Allocation& a) { return Running(a) && a.healthy(); });
  ASSERT_TRUE(healthy);
  pid_t pid = healthy->task_states(0).pid();
  EXPECT_TRUE(healthy->task_states(0).healthy());

  std::filesystem::remove(ok);
  auto sick = WaitAlloc("checked", [](const v1::Allocation& a) { return !a.healthy(); });
  ASSERT_TRUE(sick);
  EXPECT_EQ(sick->client_status(), v1::Allocation::RUNNING);
  EXPECT_FALSE(sick->task_states(0).healthy());
  EXPECT_NE(sick->task_states(0).health_message().find("exit 1"), std::string::npos)
      << sick->task_states(0).health_message();
  EXPECT_EQ(sick->task_states(0).pid(), pid);
  EXPECT_TRUE(ProcessAlive(pid)) << "an unhealthy task was stopped";

  { std::ofstream(ok) << "ok"; }
  EXPECT_TRUE(WaitAlloc("checked", [](const v1::Allocation& a) { return a.healthy(); }));
  ASSERT_EQ(cluster_->Orchctl({"stop", "checked"}).exit_code, 0);
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }, 20s));
}

TEST_F(AgentOpsTest, AgentKeepsWorkingWhileTheMasterIsAwayAndCatchesUp) {
  StartCluster();
  std::string done = root_ + "/done";
  std::string batch = WriteJob("finish.yaml", R"(
id: finish
type: batch
groups:
  - name: g
    count: 1
    tasks:
      - name: t
        driver: exec
        command: /bin/sh
        args: [-c, "while [ ! -e )" + done + R"( ]; do sleep 0.1; done; echo finished"]
        resources: { cpu: 10, memory: 16 }
)");
  std::string svc = WriteJob("stay.yaml", R"(
id: stay
type: service
groups:
  - name: g
    count: 1
    tasks:
      - name: t
        driver: exec
        command: /bin/sh
        args: [-c, "exec sleep 3600"]
        resources: { cpu: 10, memory: 16 }
)");
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", batch}).exit_code, 0);
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", svc}).exit_code, 0);
  ASSERT_TRUE(WaitAlloc("finish", Running));
  auto stay = WaitAlloc("stay", Running);
  ASSERT_TRUE(stay);
  pid_t pid = stay->task_states(0).pid();
  ASSERT_GT(pid, 0);

  // The only master goes away; meanwhile the batch task finishes.
  cluster_->StopMaster(SIGTERM);
  ASSERT_EQ(cluster_->MasterExitCode(15s), 0);
  { std::ofstream(done) << "done"; }
  std::this_thread::sleep_for(3s);
  EXPECT_TRUE(ProcessAlive(pid)) << "the service task died while the master was away";

  cluster_->StartMaster();
  // What happened meanwhile is reported once the master is back.
  auto finished = WaitAlloc("finish", [](const v1::Allocation& a) {
    return a.client_status() == v1::Allocation::COMPLETE;
  });
  ASSERT_TRUE(finished);
  auto after = WaitAlloc("stay", Running);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->id(), stay->id());
  EXPECT_EQ(after->task_states(0).pid(), pid) << "the service task was started again";
  EXPECT_TRUE(ProcessAlive(pid));

  // And new work runs.
  std::string later = WriteJob("later.yaml", R"(
id: later
type: service
groups:
  - name: g
    count: 1
    tasks:
      - name: t
        driver: exec
        command: /bin/sh
        args: [-c, "echo hi; exec sleep 3600"]
        resources: { cpu: 10, memory: 16 }
)");
  ASSERT_EQ(cluster_->Orchctl({"run", "-d", "-f", later}).exit_code, 0);
  EXPECT_TRUE(WaitAlloc("later", Running));
  EXPECT_EQ(cluster_->client().ListAllocations("stay")->value.allocations_size(), 1);
  ASSERT_EQ(cluster_->Orchctl({"stop", "stay"}).exit_code, 0);
  ASSERT_EQ(cluster_->Orchctl({"stop", "later"}).exit_code, 0);
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }, 20s));
}

}  // namespace
}  // namespace orch::e2e
