// Restart policy: the defaults by job type, and a reconciler on a fake clock
// restarting a failing task in place until its attempts run out.
#include "agent/restart_policy.h"

#include <gtest/gtest.h>

#include "agent/reconciler.h"
#include "fake_clock.h"
#include "fake_driver.h"
#include "test_util.h"

namespace orch::agent {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::FakeDriver;
using testing::TempDir;
using v1::Allocation;
using v1::TaskState;

TEST(RestartPolicyTest, DefaultsFollowTheJobType) {
  v1::TaskGroup g;
  RestartPolicy service = ResolveRestartPolicy(g, v1::Job::SERVICE);
  EXPECT_EQ(service.attempts, 2);
  EXPECT_EQ(service.interval_ms, 30 * 60 * 1000);
  EXPECT_EQ(service.delay_ms, 15'000);
  EXPECT_FALSE(service.delay_mode);
  EXPECT_TRUE(service.restart_on_success);
  RestartPolicy batch = ResolveRestartPolicy(g, v1::Job::BATCH);
  EXPECT_EQ(batch.attempts, 3);
  EXPECT_EQ(batch.interval_ms, 24 * 3600 * 1000);
  EXPECT_FALSE(batch.restart_on_success);
  EXPECT_EQ(ResolveRestartPolicy(g, v1::Job::TYPE_UNSPECIFIED).attempts, 0);

  g.mutable_restart()->set_attempts(5);
  g.mutable_restart()->set_mode("delay");
  g.mutable_restart()->mutable_delay()->set_seconds(1);
  RestartPolicy own = ResolveRestartPolicy(g, v1::Job::BATCH);
  EXPECT_EQ(own.attempts, 5);
  EXPECT_EQ(own.delay_ms, 1000);
  EXPECT_EQ(own.interval_ms, 24 * 3600 * 1000);  // unset: the type's default
  EXPECT_TRUE(own.delay_mode);
}

TEST(RestartPolicyTest, DecisionsCountOnlyRestartsWithinTheInterval) {
  RestartPolicy p;
  p.attempts = 2;
  p.interval_ms = 60'000;
  p.delay_ms = 1000;
  int64_t now = 1'000'000;
  auto d = DecideRestart(p, {}, false, now);
  EXPECT_EQ(d.kind, RestartDecision::Kind::kRestart);
  EXPECT_EQ(d.at_ms, now + 1000);
  EXPECT_EQ(DecideRestart(p, {now - 10'000, now - 5'000}, false, now).kind,
            RestartDecision::Kind::kFail);
  // One of the two is older than the interval: one attempt left.
  EXPECT_EQ(DecideRestart(p, {now - 70'000, now - 5'000}, false, now).kind,
            RestartDecision::Kind::kRestart);
  auto fail = DecideRestart(p, {now - 10'000, now - 5'000}, false, now);
  EXPECT_EQ(fail.note, "2 restarts in 1m exhausted");
  EXPECT_EQ(DecideRestart(p, {}, true, now).kind, RestartDecision::Kind::kDone);
  p.delay_mode = true;
  auto wait = DecideRestart(p, {now - 10'000, now - 5'000}, false, now);
  EXPECT_EQ(wait.kind, RestartDecision::Kind::kRestart);
  EXPECT_EQ(wait.at_ms, now - 10'000 + 60'000);
}

TEST(RestartPolicyTest, FormatsDurations) {
  EXPECT_EQ(FormatDurationMs(15'000), "15s");
  EXPECT_EQ(FormatDurationMs(30 * 60'000), "30m");
  EXPECT_EQ(FormatDurationMs(24 * 3'600'000), "24h");
  EXPECT_EQ(FormatDurationMs(1'500), "1.5s");
  EXPECT_EQ(FormatDurationMs(250), "250ms");
}

class RestartTest : public ::testing::Test {
 protected:
  RestartTest() : store_(dir_.path()) { EXPECT_TRUE(store_.Init().ok()); }

  std::unique_ptr<Reconciler> NewReconciler() {
    RunnerContext ctx;
    ctx.data_dir = dir_.path();
    ctx.drivers = {{"exec", &driver_}};
    ctx.clock = &clock_;
    return std::make_unique<Reconciler>(std::move(ctx), &store_);
  }

  static Allocation MakeAlloc(const std::string& id, v1::Job::Type type) {
    Allocation a;
    a.set_id(id);
    a.set_job_id("web");
    a.set_job_type(type);
    a.set_group("g");
    a.set_desired_status(Allocation::RUN);
    a.mutable_task_group()->set_name("g");
    auto* task = a.mutable_task_group()->add_tasks();
    task->set_name("web");
    task->set_driver("exec");
    task->set_command("/bin/server");
    return a;
  }

  // Reconciles and returns the record of `id`.
  pb::AllocRecord Pass(Reconciler& r) {
    r.Reconcile();
    auto recs = r.Records();
    EXPECT_EQ(recs.size(), 1u);
    return recs.empty() ? pb::AllocRecord() : recs[0];
  }

  TempDir dir_;
  StateStore store_;
  FakeDriver driver_;
  FakeClock clock_;
};

TEST_F(RestartTest, FailingServiceTaskIsRestartedAfterTheDelayUntilAttemptsRunOut) {
  auto r = NewReconciler();
  r->SetDesired({MakeAlloc("a1", v1::Job::SERVICE)});
  r->Reconcile();
  ASSERT_EQ(driver_.starts, 1);

  for (int restart = 1; restart <= 2; ++restart) {
    driver_.ExitTask("a1/web", 3);
    pb::AllocRecord rec = Pass(*r);
    EXPECT_EQ(rec.client_status(), Allocation::RUNNING) << rec.client_description();
    EXPECT_EQ(rec.tasks(0).state().state(), TaskState::PENDING);
    EXPECT_NE(rec.tasks(0).state().message().find("restarting in 15s"), std::string::npos)
        << rec.tasks(0).state().message();
    clock_.Advance(14s);
    Pass(*r);
    EXPECT_EQ(driver_.starts, restart) << "restarted before the delay";
    clock_.Advance(2s);
    rec = Pass(*r);
    EXPECT_EQ(driver_.starts, restart + 1);
    EXPECT_TRUE(driver_.Running("a1/web"));
    EXPECT_EQ(rec.tasks(0).state().state(), TaskState::RUNNING);
    EXPECT_EQ(rec.tasks(0).state().restarts(), restart);
    EXPECT_EQ(rec.client_status(), Allocation::RUNNING);
  }

  driver_.ExitTask("a1/web", 3);
  r->SetDesired({MakeAlloc("a1", v1::Job::SERVICE)});
  auto updates = r->Reconcile();
  ASSERT_EQ(updates.size(), 1u);
  EXPECT_EQ(updates[0].client_status(), Allocation::FAILED);
  EXPECT_EQ(updates[0].client_description(),
            "task web: exited with code 3; 2 restarts in 30m exhausted");
  EXPECT_TRUE(updates[0].task_states(0).failed());
  EXPECT_EQ(updates[0].task_states(0).restarts(), 2);
  clock_.Advance(1h);
  r->Reconcile();
  EXPECT_EQ(driver_.starts, 3);
}

TEST_F(RestartTest, ServiceTaskExitingZeroIsRestartedBatchTaskIsNot) {
  auto r = NewReconciler();
  r->SetDesired({MakeAlloc("s1", v1::Job::SERVICE), MakeAlloc("b1", v1::Job::BATCH)});
  r->Reconcile();
  driver_.ExitTask("s1/web", 0);
  driver_.ExitTask("b1/web", 0);
  r->Reconcile();
  clock_.Advance(16s);
  r->Reconcile();
  EXPECT_TRUE(driver_.Running("s1/web"));
  EXPECT_FALSE(driver_.Running("b1/web"));
  for (const auto& rec : r->Records()) {
    if (rec.alloc().id() == "b1") {
      EXPECT_EQ(rec.client_status(), Allocation::COMPLETE);
    } else {
      EXPECT_EQ(rec.tasks(0).state().restarts(), 1);
    }
  }
}

TEST_F(RestartTest, GroupWithoutRestartsFailsAtOnce) {
  auto r = NewReconciler();
  Allocation a = MakeAlloc("a1", v1::Job::BATCH);
  a.mutable_task_group()->mutable_restart()->set_attempts(0);
  r->SetDesired({a});
  r->Reconcile();
  driver_.ExitTask("a1/web", 1);
  pb::AllocRecord rec = Pass(*r);
  EXPECT_EQ(rec.client_status(), Allocation::FAILED);
  EXPECT_EQ(rec.client_description(), "task web: exited with code 1");
}

TEST_F(RestartTest, DelayModeWaitsOutTheIntervalInsteadOfFailing) {
  auto r = NewReconciler();
  Allocation a = MakeAlloc("a1", v1::Job::SERVICE);
  auto* rp = a.mutable_task_group()->mutable_restart();
  rp->set_attempts(1);
  rp->mutable_interval()->set_seconds(60);
  rp->mutable_delay()->set_seconds(1);
  rp->set_mode("delay");
  r->SetDesired({a});
  r->Reconcile();
  driver_.ExitTask("a1/web", 1);
  r->Reconcile();
  clock_.Advance(1s);
  r->Reconcile();  // restart 1, at t=1s
  ASSERT_EQ(driver_.starts, 2);
  driver_.ExitTask("a1/web", 1);
  pb::AllocRecord rec = Pass(*r);
  EXPECT_EQ(rec.client_status(), Allocation::RUNNING);
  EXPECT_NE(rec.tasks(0).state().message().find("mode delay"), std::string::npos)
      << rec.tasks(0).state().message();
  clock_.Advance(30s);
  Pass(*r);
  EXPECT_EQ(driver_.starts, 2) << "restarted while the interval was used up";
  clock_.Advance(31s);  // t=62s: the first restart left the interval
  rec = Pass(*r);
  EXPECT_EQ(driver_.starts, 3);
  EXPECT_EQ(rec.tasks(0).state().restarts(), 2);
  EXPECT_EQ(rec.client_status(), Allocation::RUNNING);
}

TEST_F(RestartTest, RestartCountAndPendingRestartSurviveAnAgentRestart) {
  Allocation a = MakeAlloc("a1", v1::Job::SERVICE);
  a.mutable_task_group()->mutable_restart()->set_attempts(1);
  {
    auto r = NewReconciler();
    r->SetDesired({a});
    r->Reconcile();
    driver_.ExitTask("a1/web", 2);
    r->Reconcile();  // restart pending, persisted
  }
  {
    auto r = NewReconciler();
    ASSERT_TRUE(r->Restore().ok());
    r->SetDesired({a});
    r->Reconcile();
    EXPECT_EQ(driver_.starts, 1);
    clock_.Advance(15s);
    r->Reconcile();
    EXPECT_EQ(driver_.starts, 2) << "the pending restart was lost";
  }
  auto r = NewReconciler();
  ASSERT_TRUE(r->Restore().ok());  // adopts the restarted task
  r->SetDesired({a});
  r->Reconcile();
  driver_.ExitTask("a1/web", 2);
  pb::AllocRecord rec = Pass(*r);
  EXPECT_EQ(rec.client_status(), Allocation::FAILED) << "the restart count was forgotten";
  EXPECT_NE(rec.client_description().find("1 restart in 30m exhausted"), std::string::npos)
      << rec.client_description();
  EXPECT_EQ(rec.tasks(0).state().restarts(), 1);
}

TEST_F(RestartTest, StoppingDropsAPendingRestart) {
  auto r = NewReconciler();
  Allocation a = MakeAlloc("a1", v1::Job::SERVICE);
  r->SetDesired({a});
  r->Reconcile();
  driver_.ExitTask("a1/web", 1);
  r->Reconcile();
  a.set_desired_status(Allocation::STOP);
  r->SetDesired({a});
  pb::AllocRecord rec = Pass(*r);
  clock_.Advance(20s);
  rec = Pass(*r);
  EXPECT_EQ(driver_.starts, 1);
  EXPECT_EQ(rec.client_status(), Allocation::COMPLETE) << rec.client_description();
  EXPECT_EQ(rec.tasks(0).state().state(), TaskState::DEAD);
}

}  // namespace
}  // namespace orch::agent
