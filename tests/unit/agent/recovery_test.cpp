// A real exec driver under the reconciler, and a second agent instance over
// the same data dir taking the work over.
#include <gtest/gtest.h>
#include <signal.h>

#include "agent/drivers/exec_driver.h"
#include "agent/reconciler.h"
#include "test_util.h"

namespace orch::agent {
namespace {

using testing::Slurp;
using testing::TempDir;
using testing::WaitFor;
using v1::Allocation;

Allocation ShellAlloc(const std::string& id, const std::string& script,
                      Allocation::DesiredStatus desired = Allocation::RUN) {
  Allocation a;
  a.set_id(id);
  a.set_job_id("web");
  a.set_group("web");
  a.set_desired_status(desired);
  auto* g = a.mutable_task_group();
  g->set_name("web");
  auto* t = g->add_tasks();
  t->set_name("server");
  t->set_driver("exec");
  t->set_command("/bin/sh");
  t->add_args("-c");
  t->add_args(script);
  t->mutable_kill_timeout()->set_nanos(200'000'000);
  return a;
}

// One agent's worth of driver, store and reconciler over a data dir.
struct Instance {
  explicit Instance(const std::string& dir) : store(dir) {
    EXPECT_TRUE(store.Init().ok());
    RunnerContext ctx;
    ctx.data_dir = dir;
    ctx.drivers = {{"exec", &driver}};
    reconciler = std::make_unique<Reconciler>(std::move(ctx), &store);
  }
  // Reconciles until the allocation reports `status`; returns that update.
  std::optional<v1::AllocationUpdate> ReconcileUntil(const std::string& id,
                                                     Allocation::ClientStatus status) {
    std::optional<v1::AllocationUpdate> found;
    WaitFor([&] {
      for (auto& u : reconciler->Reconcile()) {
        if (u.id() == id && u.client_status() == status) found = u;
      }
      return found.has_value();
    });
    return found;
  }
  ExecDriver driver;
  StateStore store;
  std::unique_ptr<Reconciler> reconciler;
};

class RecoveryTest : public ::testing::Test {
 protected:
  std::string Dir() const { return dir_.path(); }
  std::string Log(const std::string& alloc) const {
    return Slurp(Dir() + "/allocs/" + alloc + "/server.stdout");
  }
  TempDir dir_;
};

TEST_F(RecoveryTest, TaskSeesOrchVariablesPortsAndExpandedArgs) {
  Instance agent(Dir());
  Allocation a = ShellAlloc("env1",
                            "echo $ORCH_ALLOC_ID $ORCH_JOB $ORCH_GROUP $ORCH_TASK "
                            "$PORT_http $PORT_admin \"$LISTEN\" $1; echo $ORCH_ALLOC_DIR");
  a.mutable_task_group()->mutable_tasks(0)->add_args("sh");  // $0
  a.mutable_task_group()->mutable_tasks(0)->add_args("argv1=${PORT_http}");
  (*a.mutable_task_group()->mutable_tasks(0)->mutable_env())["LISTEN"] = "addr=${PORT_http}";
  auto* net = a.mutable_task_group()->mutable_network();
  net->add_ports()->set_name("http");
  auto* admin = net->add_ports();
  admin->set_name("admin");
  admin->set_static_(19999);
  agent.reconciler->SetDesired({a});
  auto done = agent.ReconcileUntil("env1", Allocation::COMPLETE);
  ASSERT_TRUE(done.has_value());
  ASSERT_EQ(done->ports_size(), 2);
  std::string http = std::to_string(done->ports(0).value());
  EXPECT_EQ(Log("env1"), "env1 web web server " + http + " 19999 addr=" + http + " argv1=" + http +
                             "\n" + Dir() + "/allocs/env1/_shared\n");
}

TEST_F(RecoveryTest, RestartedAgentAdoptsRunningTaskWithoutDuplicate) {
  Allocation a = ShellAlloc("adopt1", "echo started; exec sleep 9003.5");
  int pid = 0;
  {
    Instance first(Dir());
    first.reconciler->SetDesired({a});
    auto running = first.ReconcileUntil("adopt1", Allocation::RUNNING);
    ASSERT_TRUE(running.has_value());
    pid = running->task_states(0).pid();
    ASSERT_TRUE(WaitFor([&] { return Log("adopt1") == "started\n"; }));
  }  // the first agent goes away; its task keeps running
  ASSERT_TRUE(ProcessAlive(pid, 0));

  Instance second(Dir());
  ASSERT_TRUE(second.reconciler->Restore().ok());
  second.reconciler->SetDesired({a});
  auto running = second.ReconcileUntil("adopt1", Allocation::RUNNING);
  ASSERT_TRUE(running.has_value());
  EXPECT_EQ(running->task_states(0).pid(), pid);
  EXPECT_EQ(testing::ProcessesWithArg("sleep 9003.5").size(), 1u);
  EXPECT_EQ(Log("adopt1"), "started\n");  // started once

  // And it can still stop what it adopted.
  second.reconciler->SetDesired({ShellAlloc("adopt1", "", Allocation::STOP)});
  ASSERT_TRUE(second.ReconcileUntil("adopt1", Allocation::COMPLETE).has_value());
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid, 0); }));
}

TEST_F(RecoveryTest, TaskThatExitedWhileAwayIsReportedWithItsExitCode) {
  std::string go = Dir() + "/go";
  Allocation a = ShellAlloc("gone1", "while [ ! -e " + go + " ]; do sleep 0.02; done; exit 7");
  int pid = 0;
  {
    Instance first(Dir());
    first.reconciler->SetDesired({a});
    auto running = first.ReconcileUntil("gone1", Allocation::RUNNING);
    ASSERT_TRUE(running.has_value());
    pid = running->task_states(0).pid();
  }
  { std::ofstream(go) << "go"; }
  ASSERT_TRUE(WaitFor([&] { return !ProcessAlive(pid, 0); }));

  Instance second(Dir());
  ASSERT_TRUE(second.reconciler->Restore().ok());
  second.reconciler->SetDesired({a});
  auto failed = second.ReconcileUntil("gone1", Allocation::FAILED);
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->task_states(0).exit_code(), 7);
  EXPECT_TRUE(failed->task_states(0).failed());
  EXPECT_EQ(testing::ProcessesWithArg(go).size(), 0u);
}

TEST_F(RecoveryTest, TaskKilledWithItsSupervisorIsReportedAsUnknownExit) {
  Allocation a = ShellAlloc("lost1", "exec sleep 9004.5");
  pb::TaskHandle handle;
  {
    Instance first(Dir());
    first.reconciler->SetDesired({a});
    ASSERT_TRUE(first.ReconcileUntil("lost1", Allocation::RUNNING).has_value());
    handle = first.reconciler->Records()[0].tasks(0).handle();
  }
  // Both the supervisor and the task die while no agent runs (e.g. kill -9).
  kill(handle.shim_pid(), SIGKILL);
  kill(handle.pid(), SIGKILL);
  ASSERT_TRUE(WaitFor([&] { return !ProcessAlive(handle.pid(), 0); }));

  Instance second(Dir());
  ASSERT_TRUE(second.reconciler->Restore().ok());
  second.reconciler->SetDesired({a});
  auto failed = second.ReconcileUntil("lost1", Allocation::FAILED);
  ASSERT_TRUE(failed.has_value());
  EXPECT_NE(failed->task_states(0).message().find("unknown"), std::string::npos)
      << failed->task_states(0).message();
  EXPECT_TRUE(WaitFor([] { return testing::ZombieChildren().empty(); }));
}

}  // namespace
}  // namespace orch::agent
