// The deployment state machine (master/deployments/judge.h) on a fake
// clock: min_healthy_time, healthy_deadline, progress_deadline, success,
// failure with and without auto_revert, cancellation.
#include <gtest/gtest.h>

#include "master/deployments/judge.h"

namespace orch::master {
namespace {

constexpr int64_t kStart = 1'000'000;

struct World {
  v1::Job job;
  v1::Deployment d;
  std::vector<v1::Allocation> allocs;
  std::optional<v1::Job> stable;
  int ids = 0;

  World(int count, bool auto_revert) {
    job.set_id("web");
    job.set_type(v1::Job::SERVICE);
    job.set_version(3);
    auto* g = job.add_groups();
    g->set_name("g");
    g->set_count(count);
    auto* u = g->mutable_update();
    u->set_max_parallel(1);
    u->mutable_min_healthy_time()->set_seconds(10);
    u->mutable_healthy_deadline()->set_seconds(60);
    u->mutable_progress_deadline()->set_seconds(120);
    u->set_auto_revert(auto_revert);
    d.set_id("d1");
    d.set_job_id("web");
    d.set_job_version(3);
    d.set_status(v1::Deployment::RUNNING);
    d.set_create_time_ms(kStart);
    auto* dg = d.add_groups();
    dg->set_name("g");
    dg->set_desired_total(count);
    dg->set_auto_revert(auto_revert);
    dg->set_max_parallel(1);
    dg->set_require_progress_by_ms(kStart + 120'000);
  }

  v1::Allocation& Place(int slot, int64_t at) {
    v1::Allocation a;
    a.set_id("a" + std::to_string(slot));
    a.set_name("web.g[" + std::to_string(slot) + "]");
    a.set_job_id("web");
    a.set_job_version(3);
    a.set_group("g");
    a.set_deployment_id("d1");
    a.set_desired_status(v1::Allocation::RUN);
    a.set_client_status(v1::Allocation::RUNNING);
    a.set_create_time_ms(at);
    allocs.push_back(a);
    return allocs.back();
  }

  std::optional<v1::DeploymentUpdateCommand> Judge(int64_t now) {
    JudgeInput in;
    in.deployment = &d;
    in.job = &job;
    in.allocs = &allocs;
    in.stable = stable ? &*stable : nullptr;
    in.now_ms = now;
    in.new_id = [this] { return "id" + std::to_string(ids++); };
    return JudgeDeployment(in);
  }

  // Applies the judged health as the state machine would.
  void Apply(const v1::DeploymentUpdateCommand& c) {
    for (const auto& h : c.alloc_health()) {
      for (auto& a : allocs) {
        if (a.id() != h.alloc_id()) continue;
        a.mutable_deployment_status()->set_health(h.healthy() ? v1::AllocDeploymentStatus::HEALTHY
                                                              : v1::AllocDeploymentStatus::UNHEALTHY);
      }
    }
    for (int i = 0; i < c.require_progress_by_ms_size(); ++i) {
      if (c.require_progress_by_ms(i) > 0) d.mutable_groups(i)->set_require_progress_by_ms(c.require_progress_by_ms(i));
    }
    if (c.status() != v1::Deployment::STATUS_UNSPECIFIED) d.set_status(c.status());
  }
};

TEST(DeploymentJudge, HealthyAfterMinHealthyTimeThenTheNextBatchThenSuccess) {
  World w(2, false);
  auto& a = w.Place(0, kStart);
  EXPECT_FALSE(w.Judge(kStart + 1000));  // not passing yet
  a.mutable_deployment_status()->set_healthy_since_ms(kStart + 2000);
  EXPECT_FALSE(w.Judge(kStart + 11'999));  // 9.999 s of health
  auto c = w.Judge(kStart + 12'000);
  ASSERT_TRUE(c);
  ASSERT_EQ(c->alloc_health_size(), 1);
  EXPECT_TRUE(c->alloc_health(0).healthy());
  EXPECT_EQ(c->status(), v1::Deployment::STATUS_UNSPECIFIED);
  ASSERT_EQ(c->evals_size(), 1);  // roll the next batch
  EXPECT_EQ(c->evals(0).triggered_by(), v1::Evaluation::DEPLOYMENT_WATCHER);
  ASSERT_EQ(c->require_progress_by_ms_size(), 1);
  EXPECT_EQ(c->require_progress_by_ms(0), kStart + 12'000 + 120'000);
  w.Apply(*c);
  auto& b = w.Place(1, kStart + 13'000);
  b.mutable_deployment_status()->set_healthy_since_ms(kStart + 14'000);
  auto done = w.Judge(kStart + 24'000);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status(), v1::Deployment::SUCCESSFUL);
  w.Apply(*done);
  EXPECT_FALSE(w.Judge(kStart + 30'000));  // over: nothing more
}

TEST(DeploymentJudge, NotHealthyWithinHealthyDeadlineFails) {
  World w(2, false);
  w.Place(0, kStart + 5000);
  EXPECT_FALSE(w.Judge(kStart + 64'999));
  auto c = w.Judge(kStart + 65'000);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status(), v1::Deployment::FAILED);
  ASSERT_EQ(c->alloc_health_size(), 1);
  EXPECT_FALSE(c->alloc_health(0).healthy());
  EXPECT_NE(c->status_description().find("healthy_deadline"), std::string::npos) << c->status_description();
  EXPECT_EQ(c->status_description().find("roll"), std::string::npos);  // auto_revert off: nothing said
  EXPECT_FALSE(c->has_revert());
}

TEST(DeploymentJudge, AnUnhealthyAllocationFailsItAndAutoRevertBringsBackTheStableVersion) {
  World w(3, true);
  v1::Job stable = w.job;
  stable.set_version(1);
  stable.set_stable(true);
  stable.mutable_groups(0)->mutable_tasks()->Add()->set_command("/bin/good");
  w.stable = stable;
  auto& a = w.Place(0, kStart);
  a.mutable_deployment_status()->set_health(v1::AllocDeploymentStatus::UNHEALTHY);
  a.mutable_deployment_status()->set_description("allocation FAILED: exit 1");
  a.set_client_status(v1::Allocation::FAILED);
  auto c = w.Judge(kStart + 1000);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status(), v1::Deployment::FAILED);
  EXPECT_NE(c->status_description().find("web.g[0]"), std::string::npos) << c->status_description();
  EXPECT_NE(c->status_description().find("rolling back to version 1"), std::string::npos);
  ASSERT_TRUE(c->has_revert());
  EXPECT_EQ(c->revert().reverts_to(), 1u);
  EXPECT_EQ(c->revert().job().groups(0).tasks(0).command(), "/bin/good");
  EXPECT_EQ(c->revert().job().version(), 0u);  // apply numbers it
  EXPECT_FALSE(c->revert().job().stable());
  EXPECT_FALSE(c->revert().deployment_id().empty());
  EXPECT_EQ(c->revert().eval().job_id(), "web");
}

TEST(DeploymentJudge, AutoRevertWithoutAStableVersionOnlyFails) {
  World w(1, true);
  w.Place(0, kStart);
  auto c = w.Judge(kStart + 60'000);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status(), v1::Deployment::FAILED);
  EXPECT_FALSE(c->has_revert());
  EXPECT_NE(c->status_description().find("no stable version to roll back to"), std::string::npos);
}

TEST(DeploymentJudge, NoProgressWithinProgressDeadlineFails) {
  World w(3, false);
  // One healthy at +12 s moves the deadline to +132 s; the next one keeps
  // restarting (its health timer resets) and the deadline passes.
  auto& a = w.Place(0, kStart);
  a.mutable_deployment_status()->set_healthy_since_ms(kStart + 2000);
  auto c = w.Judge(kStart + 12'000);
  ASSERT_TRUE(c);
  w.Apply(*c);
  auto& b = w.Place(1, kStart + 100'000);
  EXPECT_FALSE(w.Judge(kStart + 132'000));
  b.mutable_deployment_status()->set_healthy_since_ms(kStart + 130'000);  // health, then a restart...
  b.mutable_deployment_status()->set_healthy_since_ms(0);
  auto f = w.Judge(kStart + 132'001);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->status(), v1::Deployment::FAILED);
  EXPECT_NE(f->status_description().find("progress_deadline"), std::string::npos) << f->status_description();
}

TEST(DeploymentJudge, ADeploymentOfAnOlderOrStoppedVersionIsCancelled) {
  World w(1, false);
  w.job.set_version(4);
  auto c = w.Judge(kStart);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status(), v1::Deployment::CANCELLED);
  EXPECT_NE(c->status_description().find("version 4"), std::string::npos);
  World s(1, false);
  s.job.set_stop(true);
  EXPECT_EQ(s.Judge(kStart)->status(), v1::Deployment::CANCELLED);
  World paused(1, false);
  paused.d.set_status(v1::Deployment::PAUSED);
  paused.Place(0, kStart);
  EXPECT_FALSE(paused.Judge(kStart + 600'000));  // paused: no deadlines run
}

TEST(DeploymentJudge, AllocationsOfOtherDeploymentsAndStoppedOnesDoNotCount) {
  World w(1, false);
  auto& old = w.Place(0, kStart);
  old.set_deployment_id("d0");
  old.mutable_deployment_status()->set_health(v1::AllocDeploymentStatus::HEALTHY);
  auto& stopped = w.Place(1, kStart);
  stopped.set_desired_status(v1::Allocation::STOP);
  stopped.mutable_deployment_status()->set_health(v1::AllocDeploymentStatus::HEALTHY);
  EXPECT_FALSE(w.Judge(kStart + 1000));  // neither completes d1
}

}  // namespace
}  // namespace orch::master

namespace orch::master {
namespace {

TEST(DeploymentJudge, CanariesWaitForPromotionOrPromoteThemselves) {
  World w(3, false);
  w.d.mutable_groups(0)->set_desired_canaries(1);
  auto& c = w.Place(0, kStart);
  c.mutable_deployment_status()->set_canary(true);
  c.mutable_deployment_status()->set_healthy_since_ms(kStart + 1000);
  auto judged = w.Judge(kStart + 11'000);
  ASSERT_TRUE(judged);
  EXPECT_EQ(judged->alloc_health_size(), 1);
  EXPECT_EQ(judged->status(), v1::Deployment::STATUS_UNSPECIFIED);  // not done: awaiting promotion
  EXPECT_FALSE(judged->promote());
  w.Apply(*judged);
  // Waiting for an operator past the progress deadline is no failure.
  EXPECT_FALSE(w.Judge(kStart + 900'000));
  // With auto_promote the watcher promotes.
  w.d.mutable_groups(0)->set_auto_promote(true);
  auto promoted = w.Judge(kStart + 900'001);
  ASSERT_TRUE(promoted);
  EXPECT_TRUE(promoted->promote());
  ASSERT_EQ(promoted->evals_size(), 1);
}

}  // namespace
}  // namespace orch::master
