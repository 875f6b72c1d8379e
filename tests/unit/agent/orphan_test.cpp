// Reconciler discovery of orphans: tasks a driver finds running (Discover)
// that no record names, because an agent died between starting them and
// saving its record. Wanted ones are adopted (never started twice), unwanted
// ones stopped and forgotten; nothing happens before the masters' list.
#include <gtest/gtest.h>

#include "agent/reconciler.h"
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
    task->set_command("/bin/server");
  }
  return a;
}

class OrphanTest : public ::testing::Test {
 protected:
  OrphanTest() : store_(dir_.path()) { EXPECT_TRUE(store_.Init().ok()); }

  std::unique_ptr<Reconciler> NewReconciler(FakeDriver* driver) {
    RunnerContext ctx;
    ctx.data_dir = dir_.path();
    ctx.drivers = {{"exec", driver}};
    auto r = std::make_unique<Reconciler>(std::move(ctx), &store_);
    EXPECT_TRUE(r->Restore().ok());
    return r;
  }

  static const v1::AllocationUpdate* Find(const std::vector<v1::AllocationUpdate>& updates,
                                          const std::string& id) {
    for (const auto& u : updates) {
      if (u.id() == id) return &u;
    }
    return nullptr;
  }

  // Where this agent's task output goes: marks an orphan as ours.
  std::string Out(const std::string& alloc, const std::string& task) const {
    return dir_.path() + "/allocs/" + alloc + "/" + task + ".stdout";
  }

  TempDir dir_;
  StateStore store_;
  FakeDriver driver_;
};

TEST_F(OrphanTest, NothingIsDiscoveredBeforeTheMastersListArrives) {
  driver_.AddOrphan("gone", "server", 4242, Out("gone", "server"));
  auto r = NewReconciler(&driver_);
  r->Reconcile();
  r->Reconcile();
  EXPECT_EQ(driver_.discovers, 0);
  EXPECT_EQ(driver_.stops, 0);
  EXPECT_EQ(driver_.recovers, 0);
}

TEST_F(OrphanTest, OrphanOfAnAllocationTheMastersDroppedIsStoppedAndForgotten) {
  driver_.AddOrphan("gone", "server", 4242, Out("gone", "server"));
  driver_.exit_on_stop = false;  // it takes its grace period to exit
  auto r = NewReconciler(&driver_);
  r->SetDesired({MakeAlloc("kept", {"server"})});
  auto updates = r->Reconcile();
  EXPECT_EQ(driver_.discovers, 1);
  EXPECT_TRUE(driver_.StopRequested("gone/server"));
  EXPECT_EQ(r->StoppingOrphans(), std::vector<std::string>{"gone/server"});
  EXPECT_EQ(Find(updates, "gone"), nullptr);  // nothing reported for it
  // Still running: kept tracked until it exits.
  r->Reconcile();
  EXPECT_EQ(r->StoppingOrphans().size(), 1u);
  driver_.ExitTask("gone/server", 143);
  r->Reconcile();
  EXPECT_TRUE(r->StoppingOrphans().empty());
  auto listed = driver_.List();
  EXPECT_EQ(std::count(listed.begin(), listed.end(), "gone/server"), 0);
  // The wanted allocation was started normally, once; discovery ran once.
  EXPECT_TRUE(driver_.Running("kept/server"));
  EXPECT_EQ(driver_.starts, 1);
  r->Reconcile();
  EXPECT_EQ(driver_.discovers, 1);
}

TEST_F(OrphanTest, OrphanOfAnAllocationWithDesiredStopIsStopped) {
  driver_.AddOrphan("a1", "server", 4242, Out("a1", "server"));
  auto r = NewReconciler(&driver_);
  r->SetDesired({MakeAlloc("a1", {"server"}, Allocation::STOP)});
  r->Reconcile();
  EXPECT_EQ(driver_.stops, 1);
  EXPECT_EQ(driver_.starts, 0);
  EXPECT_FALSE(driver_.Running("a1/server"));
  EXPECT_TRUE(r->StoppingOrphans().empty());  // the fake exits at once on stop
}

TEST_F(OrphanTest, OrphanOfAWantedAllocationWithNoRecordIsAdoptedNotStartedTwice) {
  driver_.AddOrphan("a1", "server", 4242, Out("a1", "server"));
  auto r = NewReconciler(&driver_);
  r->SetDesired({MakeAlloc("a1", {"server", "sidecar"})});
  auto updates = r->Reconcile();
  EXPECT_EQ(driver_.stops, 0);
  EXPECT_EQ(driver_.adoptions, 1);
  EXPECT_EQ(driver_.starts, 1);  // only the sidecar, which was not running
  const auto* u = Find(updates, "a1");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->client_status(), Allocation::RUNNING);
  ASSERT_EQ(u->task_states_size(), 2);
  EXPECT_EQ(u->task_states(0).pid(), 4242);
}

TEST_F(OrphanTest, OrphanOfAStartedAllocationIsAdoptedIntoItsRecord) {
  // A first agent starts the allocation; its task then exits and is
  // restarted, and the agent dies before recording the new run.
  Allocation a = MakeAlloc("a1", {"server"});
  a.mutable_task_group()->mutable_restart()->set_attempts(3);
  {
    FakeDriver first;
    auto r = NewReconciler(&first);
    r->SetDesired({a});
    r->Reconcile();
    first.ExitTask("a1/server", 1);
    r->Reconcile();  // recorded: exited, restart pending
  }
  auto recs = store_.LoadAll();
  ASSERT_TRUE(recs.ok());
  ASSERT_EQ(recs->size(), 1u);
  ASSERT_NE((*recs)[0].tasks(0).state().state(), TaskState::RUNNING);

  driver_.AddOrphan("a1", "server", 4343, Out("a1", "server"));  // the restarted run, unrecorded
  auto r = NewReconciler(&driver_);
  r->SetDesired({a});
  auto updates = r->Reconcile();
  EXPECT_EQ(driver_.recovers, 1);
  EXPECT_EQ(driver_.starts, 0);
  EXPECT_EQ(driver_.stops, 0);
  EXPECT_TRUE(driver_.Running("a1/server"));
  const auto* u = Find(updates, "a1");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->client_status(), Allocation::RUNNING);
  EXPECT_EQ(u->task_states(0).state(), TaskState::RUNNING);
  EXPECT_EQ(u->task_states(0).pid(), 4343);
  // The adoption is persisted: a third agent recovers it from its record.
  recs = store_.LoadAll();
  ASSERT_TRUE(recs.ok());
  EXPECT_EQ((*recs)[0].tasks(0).handle().pid(), 4343);
  // No restart fires later on.
  r->Reconcile();
  EXPECT_EQ(driver_.starts, 0);
}

TEST_F(OrphanTest, AnExitedRunWithNoRecordIsNotAdoptedAsRunning) {
  Allocation a = MakeAlloc("a1", {"server"});
  a.mutable_task_group()->mutable_restart()->set_attempts(3);
  {
    FakeDriver first;
    auto r = NewReconciler(&first);
    r->SetDesired({a});
    r->Reconcile();
    first.ExitTask("a1/server", 1);
    r->Reconcile();  // recorded: exited, restart pending
  }
  driver_.AddOrphan("a1", "server", 4343, Out("a1", "server"));
  driver_.exit_recovered_orphans = true;  // like a stopped container docker still lists
  auto r = NewReconciler(&driver_);
  r->SetDesired({a});
  auto updates = r->Reconcile();
  const auto* u = Find(updates, "a1");
  ASSERT_NE(u, nullptr);
  EXPECT_NE(u->task_states(0).state(), TaskState::RUNNING);
  EXPECT_NE(u->task_states(0).pid(), 4343);
  EXPECT_EQ(driver_.stops, 0);
}

TEST_F(OrphanTest, TrackedTasksAreLeftAlone) {
  {
    auto r = NewReconciler(&driver_);
    r->SetDesired({MakeAlloc("a1", {"server"})});
    r->Reconcile();
  }
  // A restarted agent: the record names the task; discovery sees it too.
  auto r = NewReconciler(&driver_);
  r->SetDesired({MakeAlloc("a1", {"server"})});
  r->Reconcile();
  EXPECT_EQ(driver_.discovers, 2);  // once per agent
  EXPECT_EQ(driver_.starts, 1);
  EXPECT_EQ(driver_.stops, 0);
  EXPECT_EQ(driver_.recovers, 1);  // Restore's, not discovery's
  EXPECT_TRUE(driver_.Running("a1/server"));
}

TEST_F(OrphanTest, AnotherAgentsTasksAndTasksOfUnknownOwnerAreNeverStopped) {
  // Two agents sharing one Docker engine see each other's containers.
  driver_.AddOrphan("theirs", "server", 11, "/var/lib/other-agent/allocs/theirs/server.stdout");
  driver_.AddOrphan("unknown", "server", 12);
  auto r = NewReconciler(&driver_);
  r->SetDesired({});
  r->Reconcile();
  r->Reconcile();
  EXPECT_EQ(driver_.discovers, 1);
  EXPECT_EQ(driver_.stops, 0);
  EXPECT_EQ(driver_.recovers, 0);
  EXPECT_TRUE(r->StoppingOrphans().empty());
}

TEST_F(OrphanTest, ADriverAddedLaterIsDiscoveredToo) {
  auto r = NewReconciler(&driver_);
  r->SetDesired({});
  r->Reconcile();
  FakeDriver late;
  late.AddOrphan("gone", "web", 77, Out("gone", "web"));
  r->AddDriver("docker", &late);
  r->Reconcile();
  EXPECT_EQ(late.discovers, 1);
  EXPECT_EQ(late.stops, 1);
  EXPECT_FALSE(late.Running("gone/web"));
}

}  // namespace
}  // namespace orch::agent
