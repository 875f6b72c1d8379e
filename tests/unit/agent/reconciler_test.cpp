#include "agent/reconciler.h"

#include <gtest/gtest.h>

#include "fake_driver.h"
#include "test_util.h"

namespace orch::agent {
namespace {

using testing::FakeDriver;
using testing::TempDir;
using v1::Allocation;
using v1::TaskState;

Allocation MakeAlloc(const std::string& id, std::vector<std::string> tasks,
                     Allocation::DesiredStatus desired = Allocation::RUN) {
  Allocation a;
  a.set_id(id);
  a.set_job_id("web");
  a.set_group("g");
  a.set_desired_status(desired);
  a.mutable_task_group()->set_name("g");
  for (const auto& t : tasks) {
    auto* task = a.mutable_task_group()->add_tasks();
    task->set_name(t);
    task->set_driver("exec");
    task->set_command(t == "broken" ? "fail-to-start" : "/bin/server");
  }
  return a;
}

class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest() : store_(dir_.path()) { EXPECT_TRUE(store_.Init().ok()); }

  std::unique_ptr<Reconciler> NewReconciler() {
    RunnerContext ctx;
    ctx.data_dir = dir_.path();
    ctx.drivers = {{"exec", &driver_}};
    return std::make_unique<Reconciler>(std::move(ctx), &store_);
  }

  // The update for `id` among `updates`, or nullptr.
  static const v1::AllocationUpdate* Find(const std::vector<v1::AllocationUpdate>& updates,
                                          const std::string& id) {
    for (const auto& u : updates) {
      if (u.id() == id) return &u;
    }
    return nullptr;
  }

  TempDir dir_;
  StateStore store_;
  FakeDriver driver_;
};

TEST_F(ReconcilerTest, DesiredRunStartsEveryTaskOnceAndReportsRunning) {
  auto r = NewReconciler();
  r->SetDesired({MakeAlloc("a1", {"server", "sidecar"})});
  auto updates = r->Reconcile();
  EXPECT_EQ(driver_.starts, 2);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].client_status(), Allocation::RUNNING);
  ASSERT_EQ(updates[0].task_states_size(), 2);
  EXPECT_EQ(updates[0].task_states(0).state(), TaskState::RUNNING);
  EXPECT_GT(updates[0].task_states(0).pid(), 0);
  EXPECT_TRUE(driver_.Running("a1/server"));
  EXPECT_TRUE(driver_.Running("a1/sidecar"));
}

TEST_F(ReconcilerTest, AStartsProgressIsSentWhileItRunsAndTheTaskMessageIsItsOwnAfter) {
  std::vector<v1::AllocationUpdate> sent;
  RunnerContext ctx;
  ctx.data_dir = dir_.path();
  ctx.drivers = {{"exec", &driver_}};
  ctx.report_now = [&](v1::AllocationUpdate u) { sent.push_back(std::move(u)); };
  auto r = std::make_unique<Reconciler>(std::move(ctx), &store_);
  driver_.progress = {"pulling image x", "pulling image x: 1.0 of 2.0 MiB, 0 of 1 layers done"};
  r->SetDesired({MakeAlloc("a1", {"server"})});
  auto updates = r->Reconcile();
  ASSERT_EQ(sent.size(), 2u) << "each progress line is sent at once, during the start";
  EXPECT_EQ(sent[0].id(), "a1");
  ASSERT_EQ(sent[1].task_states_size(), 1);
  EXPECT_EQ(sent[1].task_states(0).message(),
            "pulling image x: 1.0 of 2.0 MiB, 0 of 1 layers done");
  EXPECT_NE(sent[1].task_states(0).state(), TaskState::RUNNING);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].task_states(0).state(), TaskState::RUNNING);
  EXPECT_EQ(updates[0].task_states(0).message().find("pulling"), std::string::npos)
      << "the started task's message is not the pull's";
}

TEST_F(ReconcilerTest, SecondPassDoesNothing) {
  auto r = NewReconciler();
  r->SetDesired({MakeAlloc("a1", {"server"})});
  r->Reconcile();
  r->SetDesired({MakeAlloc("a1", {"server"})});  // the same list again
  auto updates = r->Reconcile();
  EXPECT_TRUE(updates.empty());
  EXPECT_TRUE(r->Reconcile().empty());
  EXPECT_EQ(driver_.starts, 1);
  EXPECT_EQ(driver_.stops, 0);
}

TEST_F(ReconcilerTest, TasksSeeTheirEnvironment) {
  auto r = NewReconciler();
  Allocation a = MakeAlloc("a1", {"server"});
  a.mutable_task_group()->mutable_network()->add_ports()->set_name("http");
  a.mutable_task_group()->mutable_tasks(0)->add_args("--port=${PORT_http}");
  r->SetDesired({a});
  auto updates = r->Reconcile();
  const TaskSpec& spec = driver_.last_specs.at("server");
  std::map<std::string, std::string> env(spec.env.begin(), spec.env.end());
  EXPECT_EQ(env["ORCH_ALLOC_ID"], "a1");
  EXPECT_EQ(env["ORCH_JOB"], "web");
  EXPECT_EQ(env["ORCH_TASK"], "server");
  ASSERT_EQ(updates.size(), 1u);
  ASSERT_EQ(updates[0].ports_size(), 1);
  int port = updates[0].ports(0).value();
  EXPECT_GT(port, 0);
  EXPECT_EQ(env["PORT_http"], std::to_string(port));
  EXPECT_EQ(spec.args, std::vector<std::string>{"--port=" + std::to_string(port)});
  EXPECT_EQ(spec.task_dir, dir_.path() + "/allocs/a1/server");
}

TEST_F(ReconcilerTest, DesiredStopStopsTasksAndReportsComplete) {
  auto r = NewReconciler();
  r->SetDesired({MakeAlloc("a1", {"server"})});
  r->Reconcile();
  r->SetDesired({MakeAlloc("a1", {"server"}, Allocation::STOP)});
  auto updates = r->Reconcile();
  EXPECT_EQ(driver_.stops, 1);
  EXPECT_FALSE(driver_.Running("a1/server"));
  // The exit shows on the pass after the stop.
  auto more = r->Reconcile();
  updates.insert(updates.end(), more.begin(), more.end());
  ASSERT_FALSE(updates.empty());
  EXPECT_EQ(updates.back().client_status(), Allocation::COMPLETE);
  EXPECT_FALSE(updates.back().task_states(0).failed());
  EXPECT_TRUE(r->Reconcile().empty());
  EXPECT_EQ(driver_.stops, 1);
}

TEST_F(ReconcilerTest, StopWaitsForTheTaskToExitBeforeComplete) {
  driver_.exit_on_stop = false;  // a task that takes its time to stop
  auto r = NewReconciler();
  r->SetDesired({MakeAlloc("a1", {"server"})});
  r->Reconcile();
  r->SetDesired({MakeAlloc("a1", {"server"}, Allocation::STOP)});
  r->Reconcile();
  EXPECT_TRUE(driver_.StopRequested("a1/server"));
  for (const auto& rec : r->Records()) EXPECT_NE(rec.client_status(), Allocation::COMPLETE);
  driver_.ExitTask("a1/server", 0);
  auto updates = r->Reconcile();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].client_status(), Allocation::COMPLETE);
}

TEST_F(ReconcilerTest, VanishedAllocationIsStoppedAndForgotten) {
  auto r = NewReconciler();
  r->SetDesired({MakeAlloc("a1", {"server"}), MakeAlloc("a2", {"server"})});
  r->Reconcile();
  r->SetDesired({MakeAlloc("a2", {"server"})});
  auto updates = r->Reconcile();
  EXPECT_FALSE(driver_.Running("a1/server"));
  EXPECT_TRUE(driver_.Running("a2/server"));
  r->Reconcile();
  EXPECT_EQ(Find(updates, "a1"), nullptr);  // the masters no longer know it
  ASSERT_EQ(r->Records().size(), 1u);
  EXPECT_EQ(r->Records()[0].alloc().id(), "a2");
  auto saved = store_.LoadAll();
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(saved->size(), 1u);
}

TEST_F(ReconcilerTest, NonZeroExitFailsTheAllocationAndStopsSiblings) {
  auto r = NewReconciler();
  r->SetDesired({MakeAlloc("a1", {"server", "sidecar"})});
  r->Reconcile();
  driver_.ExitTask("a1/server", 1);
  auto updates = r->Reconcile();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].client_status(), Allocation::FAILED);
  EXPECT_NE(updates[0].client_description().find("server"), std::string::npos);
  const auto& server = updates[0].task_states(0);
  EXPECT_EQ(server.name(), "server");
  EXPECT_EQ(server.state(), TaskState::DEAD);
  EXPECT_TRUE(server.failed());
  EXPECT_EQ(server.exit_code(), 1);
  EXPECT_NE(server.message().find("code 1"), std::string::npos);
  EXPECT_FALSE(driver_.Running("a1/sidecar"));
  r->Reconcile();
  EXPECT_EQ(driver_.starts, 2);  // no restarts
}

TEST_F(ReconcilerTest, AllTasksExitingZeroIsComplete) {
  auto r = NewReconciler();
  r->SetDesired({MakeAlloc("a1", {"job"})});
  r->Reconcile();
  driver_.ExitTask("a1/job", 0);
  auto updates = r->Reconcile();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].client_status(), Allocation::COMPLETE);
  EXPECT_FALSE(updates[0].task_states(0).failed());
  r->Reconcile();
  EXPECT_EQ(driver_.starts, 1);
}

TEST_F(ReconcilerTest, StartFailureIsReportedAsFailedWithTheCause) {
  auto r = NewReconciler();
  r->SetDesired({MakeAlloc("a1", {"server", "broken"})});
  auto updates = r->Reconcile();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].client_status(), Allocation::FAILED);
  const auto& broken = updates[0].task_states(1);
  EXPECT_TRUE(broken.failed());
  EXPECT_NE(broken.message().find("no such file"), std::string::npos) << broken.message();
  EXPECT_FALSE(driver_.Running("a1/server"));  // its sibling is stopped
}

TEST_F(ReconcilerTest, UnknownDriverFailsTheTask) {
  auto r = NewReconciler();
  Allocation a = MakeAlloc("a1", {"server"});
  a.mutable_task_group()->mutable_tasks(0)->set_driver("docker");
  r->SetDesired({a});
  auto updates = r->Reconcile();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].client_status(), Allocation::FAILED);
  EXPECT_NE(updates[0].task_states(0).message().find("docker"), std::string::npos);
}

TEST_F(ReconcilerTest, ReportsEveryStatusTransition) {
  driver_.exit_on_stop = false;
  auto r = NewReconciler();
  std::vector<Allocation::ClientStatus> seen;
  auto collect = [&](const std::vector<v1::AllocationUpdate>& us) {
    for (const auto& u : us) seen.push_back(u.client_status());
  };
  r->SetDesired({MakeAlloc("a1", {"server"})});
  collect(r->Reconcile());
  r->SetDesired({MakeAlloc("a1", {"server"}, Allocation::STOP)});
  collect(r->Reconcile());
  driver_.ExitTask("a1/server", 0);
  collect(r->Reconcile());
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(seen.front(), Allocation::RUNNING);
  EXPECT_EQ(seen.back(), Allocation::COMPLETE);
}

TEST_F(ReconcilerTest, RestoredAllocationsAreAdoptedNotRestarted) {
  {
    auto r = NewReconciler();
    r->SetDesired({MakeAlloc("a1", {"server"})});
    r->Reconcile();
  }
  EXPECT_EQ(driver_.starts, 1);
  auto r = NewReconciler();
  ASSERT_TRUE(r->Restore().ok());
  EXPECT_EQ(driver_.recovers, 1);
  // Before the masters answer, nothing is started or stopped.
  EXPECT_TRUE(r->Reconcile().empty());
  EXPECT_EQ(driver_.stops, 0);
  r->SetDesired({MakeAlloc("a1", {"server"})});
  auto updates = r->Reconcile();
  EXPECT_EQ(driver_.starts, 1);
  ASSERT_EQ(updates.size(), 1u);  // reported again after a restart
  EXPECT_EQ(updates[0].client_status(), Allocation::RUNNING);
}

TEST_F(ReconcilerTest, ResetReportedReportsEverythingAgain) {
  auto r = NewReconciler();
  r->SetDesired({MakeAlloc("a1", {"server"}), MakeAlloc("a2", {"server"})});
  EXPECT_EQ(r->Reconcile().size(), 2u);
  EXPECT_TRUE(r->Reconcile().empty());
  r->ResetReported();
  EXPECT_EQ(r->Reconcile().size(), 2u);
}

TEST_F(ReconcilerTest, AllocationFirstSeenAsStopIsNeverStarted) {
  auto r = NewReconciler();
  r->SetDesired({MakeAlloc("a1", {"server"}, Allocation::STOP)});
  auto updates = r->Reconcile();
  EXPECT_EQ(driver_.starts, 0);
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].client_status(), Allocation::COMPLETE);
}

TEST_F(ReconcilerTest, AllocationTheMastersKnowAsFinishedIsNotRunAgain) {
  auto r = NewReconciler();
  Allocation a = MakeAlloc("a1", {"server"});
  a.set_client_status(Allocation::COMPLETE);
  r->SetDesired({a});
  r->Reconcile();
  r->Reconcile();
  EXPECT_EQ(driver_.starts, 0);
  EXPECT_EQ(r->Records()[0].client_status(), Allocation::COMPLETE);
}

}  // namespace
}  // namespace orch::agent
