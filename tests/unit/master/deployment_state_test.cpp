// Job versions and deployments in the state machine (issue 11): each new
// version is kept (pruned, the newest stable one never), gets a deployment
// when it rolls, supersedes the one before; allocations join it and their
// health is tracked from the agents' reports; success makes the version
// stable; a revert registers the stable spec as a new version.
#include <gtest/gtest.h>

#include "master/state/state_store.h"
#include "test_util.h"

namespace orch::master {
namespace {

using testing::RegisterNodeCmd;
using testing::SampleJob;
using testing::SampleNode;
using testing::TempDir;

v1::Job RollingJob(const std::string& command) {
  v1::Job job = SampleJob("web", 2);
  job.mutable_groups(0)->mutable_tasks(0)->set_command(command);
  job.mutable_groups(0)->mutable_update()->set_max_parallel(1);
  return job;
}

v1::Command Register(const v1::Job& job, const std::string& tag, int64_t time_ms = 1000, uint32_t keep = 0) {
  v1::Command cmd;
  cmd.set_time_ms(time_ms);
  auto* c = cmd.mutable_register_job();
  *c->mutable_job() = job;
  c->mutable_eval()->set_id("e-" + tag);
  c->mutable_eval()->set_job_id(job.id());
  c->set_deployment_id("d-" + tag);
  c->set_keep_versions(keep);
  return cmd;
}

v1::Command Place(const std::string& eval, uint64_t job_modify_index, uint64_t version, const std::string& id,
                  int slot) {
  v1::Command cmd;
  cmd.set_time_ms(2000);
  auto* p = cmd.mutable_plan();
  p->set_eval_id(eval);
  p->set_job_id("web");
  p->set_job_modify_index(job_modify_index);
  p->set_eval_status(v1::Evaluation::COMPLETE);
  auto* a = p->add_place();
  a->set_id(id);
  a->set_job_id("web");
  a->set_job_version(version);
  a->set_group("g");
  a->set_node_id("n1");
  a->set_name("web.g[" + std::to_string(slot) + "]");
  return cmd;
}

v1::Command Report(const std::string& id, v1::Allocation::ClientStatus status, bool healthy, int64_t time_ms,
                   int restarts = 0) {
  v1::Command cmd;
  cmd.set_time_ms(time_ms);
  auto* c = cmd.mutable_update_allocations();
  c->set_node_id("n1");
  auto* u = c->add_updates();
  u->set_id(id);
  u->set_client_status(status);
  u->set_healthy(healthy);
  auto* t = u->add_task_states();
  t->set_name("t");
  t->set_state(status == v1::Allocation::RUNNING ? v1::TaskState::RUNNING : v1::TaskState::DEAD);
  t->set_healthy(healthy);
  t->set_restarts(restarts);
  return cmd;
}

v1::Command Judged(const std::string& deployment, v1::Deployment::Status status) {
  v1::Command cmd;
  cmd.set_time_ms(9000);
  cmd.mutable_deployment_update()->set_deployment_id(deployment);
  cmd.mutable_deployment_update()->set_status(status);
  return cmd;
}

class DeploymentStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = StateStore::Open(TempDir("deployment_state") + "/state.db");
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    ASSERT_TRUE(Apply(RegisterNodeCmd(SampleNode("n1"))).ok());
  }
  Status Apply(const v1::Command& cmd) {
    Status outcome;
    Status st = store_->Apply(++index_, cmd, &outcome);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return outcome;
  }
  std::unique_ptr<StateStore> store_;
  uint64_t index_ = 0;
};

TEST_F(DeploymentStateTest, EachVersionGetsADeploymentThatSupersedesTheOneBefore) {
  EXPECT_TRUE(Apply(Register(RollingJob("/bin/v0"), "0")).ok());
  auto d0 = store_->GetDeployment("d-0");
  ASSERT_TRUE(d0.ok());
  EXPECT_EQ(d0->status(), v1::Deployment::RUNNING);
  EXPECT_EQ(d0->job_version(), 0u);
  ASSERT_EQ(d0->groups_size(), 1);
  EXPECT_EQ(d0->groups(0).desired_total(), 2);
  EXPECT_EQ(d0->groups(0).require_progress_by_ms(), 1000 + 600'000);  // default progress_deadline
  EXPECT_TRUE(Apply(Register(RollingJob("/bin/v1"), "1")).ok());
  EXPECT_EQ(store_->GetDeployment("d-0")->status(), v1::Deployment::CANCELLED);
  EXPECT_EQ(store_->GetDeployment("d-0")->status_description(), "superseded by job version 1");
  ASSERT_TRUE(store_->ActiveDeployment("web"));
  EXPECT_EQ(store_->ActiveDeployment("web")->id(), "d-1");
  auto versions = store_->ListJobVersions("web");
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[0].version(), 1u);
  EXPECT_EQ(versions[0].groups(0).tasks(0).command(), "/bin/v1");
  EXPECT_EQ(versions[1].groups(0).tasks(0).command(), "/bin/v0");
  auto listed = store_->ListDeployments("web");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].id(), "d-1");  // newest first
  // An identical resubmit makes neither a version nor a deployment.
  EXPECT_TRUE(Apply(Register(RollingJob("/bin/v1"), "again")).ok());
  EXPECT_FALSE(store_->GetDeployment("d-again").ok());
  EXPECT_EQ(store_->ListJobVersions("web").size(), 2u);
  // A job without an update block rolls nothing: no deployment.
  v1::Job plain = SampleJob("plain", 1);
  EXPECT_TRUE(Apply(Register(plain, "p")).ok());
  EXPECT_FALSE(store_->GetDeployment("d-p").ok());
  // Stopping the job cancels its deployment.
  v1::Command stop;
  stop.set_time_ms(5000);
  stop.mutable_deregister_job()->set_job_id("web");
  stop.mutable_deregister_job()->mutable_eval()->set_id("e-stop");
  EXPECT_TRUE(Apply(stop).ok());
  EXPECT_EQ(store_->GetDeployment("d-1")->status(), v1::Deployment::CANCELLED);
  EXPECT_FALSE(store_->ActiveDeployment("web"));
}

TEST_F(DeploymentStateTest, PlacementsJoinTheDeploymentAndTheirHealthIsTracked) {
  ASSERT_TRUE(Apply(Register(RollingJob("/bin/v0"), "0")).ok());
  const uint64_t job_index = index_;
  ASSERT_TRUE(Apply(Place("e-0", job_index, 0, "a0", 0)).ok());
  auto a = store_->GetAllocation("a0");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->deployment_id(), "d-0");
  EXPECT_EQ(a->deployment_status().healthy_since_ms(), 0);
  // Running but its check fails: not yet.
  EXPECT_TRUE(Apply(Report("a0", v1::Allocation::RUNNING, false, 3000)).ok());
  EXPECT_EQ(store_->GetAllocation("a0")->deployment_status().healthy_since_ms(), 0);
  EXPECT_TRUE(Apply(Report("a0", v1::Allocation::RUNNING, true, 4000)).ok());
  EXPECT_EQ(store_->GetAllocation("a0")->deployment_status().healthy_since_ms(), 4000);
  EXPECT_TRUE(Apply(Report("a0", v1::Allocation::RUNNING, true, 5000)).ok());  // still: the timer runs on
  EXPECT_EQ(store_->GetAllocation("a0")->deployment_status().healthy_since_ms(), 4000);
  EXPECT_TRUE(Apply(Report("a0", v1::Allocation::RUNNING, true, 6000, 1)).ok());  // restarted meanwhile: starts again
  EXPECT_EQ(store_->GetAllocation("a0")->deployment_status().healthy_since_ms(), 6000);
  EXPECT_TRUE(Apply(Report("a0", v1::Allocation::FAILED, false, 7000)).ok());
  auto failed = store_->GetAllocation("a0");
  EXPECT_EQ(failed->deployment_status().health(), v1::AllocDeploymentStatus::UNHEALTHY);
  EXPECT_NE(failed->deployment_status().description().find("FAILED"), std::string::npos);
  // The derived counts of the deployment.
  auto d = store_->GetDeployment("d-0");
  EXPECT_EQ(d->groups(0).unhealthy(), 1);
  EXPECT_EQ(d->groups(0).placed(), 0);
}

TEST_F(DeploymentStateTest, SuccessMakesTheVersionStableAndARevertBringsItBack) {
  ASSERT_TRUE(Apply(Register(RollingJob("/bin/good"), "0")).ok());
  ASSERT_TRUE(Apply(Judged("d-0", v1::Deployment::SUCCESSFUL)).ok());
  EXPECT_TRUE(store_->GetJob("web")->stable());
  EXPECT_FALSE(store_->ActiveDeployment("web"));
  // Over: a later update of it is refused.
  EXPECT_FALSE(Apply(Judged("d-0", v1::Deployment::FAILED)).ok());
  ASSERT_TRUE(Apply(Register(RollingJob("/bin/bad"), "1")).ok());
  EXPECT_FALSE(store_->GetJob("web")->stable());
  auto stable = store_->LatestStableVersion("web", 1);
  ASSERT_TRUE(stable);
  EXPECT_EQ(stable->version(), 0u);
  EXPECT_TRUE(stable->stable());
  // The watcher fails d-1 and reverts in the same entry.
  v1::Command fail = Judged("d-1", v1::Deployment::FAILED);
  auto* r = fail.mutable_deployment_update()->mutable_revert();
  v1::Job spec = *stable;
  spec.clear_version();
  spec.clear_stable();
  *r->mutable_job() = spec;
  r->set_reverts_to(0);
  r->set_deployment_id("d-revert");
  r->mutable_eval()->set_id("e-revert");
  EXPECT_TRUE(Apply(fail).ok());
  EXPECT_EQ(store_->GetDeployment("d-1")->status(), v1::Deployment::FAILED);
  auto job = store_->GetJob("web");
  EXPECT_EQ(job->version(), 2u);
  EXPECT_EQ(job->groups(0).tasks(0).command(), "/bin/good");
  auto revert = store_->GetDeployment("d-revert");
  ASSERT_TRUE(revert.ok());
  EXPECT_EQ(revert->status(), v1::Deployment::RUNNING);
  EXPECT_EQ(revert->reverts_to(), 0u);
  EXPECT_EQ(revert->job_version(), 2u);
  auto history = store_->ListJobVersions("web");
  ASSERT_EQ(history.size(), 3u);
  EXPECT_TRUE(history[2].stable());
  EXPECT_FALSE(history[1].stable());
}

TEST_F(DeploymentStateTest, HistoryIsPrunedButTheNewestStableVersionStays) {
  ASSERT_TRUE(Apply(Register(RollingJob("/bin/v0"), "0", 1000, 3)).ok());
  ASSERT_TRUE(Apply(Register(RollingJob("/bin/v1"), "1", 1000, 3)).ok());
  ASSERT_TRUE(Apply(Judged("d-1", v1::Deployment::SUCCESSFUL)).ok());
  for (int v = 2; v <= 6; ++v) {
    ASSERT_TRUE(Apply(Register(RollingJob("/bin/v" + std::to_string(v)), std::to_string(v), 1000, 3)).ok());
  }
  std::vector<uint64_t> kept;
  for (const auto& j : store_->ListJobVersions("web")) kept.push_back(j.version());
  EXPECT_EQ(kept, (std::vector<uint64_t>{6, 5, 4, 1}));
  EXPECT_TRUE(store_->GetJobVersion("web", 1).ok());
  EXPECT_FALSE(store_->GetJobVersion("web", 2).ok());
}

TEST_F(DeploymentStateTest, ScalingFollowsIntoTheDeploymentAndTheHistory) {
  ASSERT_TRUE(Apply(Register(RollingJob("/bin/v0"), "0")).ok());
  v1::Command scale;
  scale.set_time_ms(3000);
  auto* c = scale.mutable_scale_job();
  c->set_job_id("web");
  c->set_group("g");
  c->set_count(5);
  c->mutable_eval()->set_id("e-scale");
  ASSERT_TRUE(Apply(scale).ok());
  EXPECT_EQ(store_->GetDeployment("d-0")->groups(0).desired_total(), 5);
  EXPECT_EQ(store_->ListJobVersions("web")[0].groups(0).count(), 5);
}

}  // namespace
}  // namespace orch::master

namespace orch::master {
namespace {

TEST_F(DeploymentStateTest, CanariesOnlyForADestructiveChangeAndPromotionMakesThemOrdinary) {
  v1::Job v0 = RollingJob("/bin/v0");
  v0.mutable_groups(0)->mutable_update()->set_canary(1);
  ASSERT_TRUE(Apply(Register(v0, "0")).ok());
  EXPECT_EQ(store_->GetDeployment("d-0")->groups(0).desired_canaries(), 0);  // nothing to replace
  v1::Job scaled = v0;
  scaled.mutable_groups(0)->set_count(3);
  ASSERT_TRUE(Apply(Register(scaled, "1")).ok());
  EXPECT_EQ(store_->GetDeployment("d-1")->groups(0).desired_canaries(), 0);  // not destructive
  v1::Job changed = scaled;
  changed.mutable_groups(0)->mutable_tasks(0)->set_command("/bin/v2");
  ASSERT_TRUE(Apply(Register(changed, "2")).ok());
  const uint64_t job_index = index_;
  EXPECT_EQ(store_->GetDeployment("d-2")->groups(0).desired_canaries(), 1);
  // A canary placement keeps its flag when it joins the deployment.
  v1::Command place = Place("e-2", job_index, 2, "c0", 0);
  place.mutable_plan()->mutable_place(0)->mutable_deployment_status()->set_canary(true);
  ASSERT_TRUE(Apply(place).ok());
  EXPECT_TRUE(store_->GetAllocation("c0")->deployment_status().canary());
  EXPECT_TRUE(Apply(Report("c0", v1::Allocation::RUNNING, true, 3000)).ok());
  EXPECT_EQ(store_->GetDeployment("d-2")->groups(0).placed_canaries(), 1);
  v1::Command promote;
  promote.set_time_ms(4000);
  promote.mutable_deployment_update()->set_deployment_id("d-2");
  promote.mutable_deployment_update()->set_promote(true);
  ASSERT_TRUE(Apply(promote).ok());
  auto d = store_->GetDeployment("d-2");
  EXPECT_TRUE(d->groups(0).promoted());
  EXPECT_EQ(d->groups(0).placed_canaries(), 0);
  EXPECT_EQ(d->status(), v1::Deployment::RUNNING);
  EXPECT_FALSE(store_->GetAllocation("c0")->deployment_status().canary());
}

}  // namespace
}  // namespace orch::master

namespace orch::master {
namespace {

TEST_F(DeploymentStateTest, AnOperatorRestartIsRecordedAndAStopQueuesAReplacement) {
  ASSERT_TRUE(Apply(Register(RollingJob("/bin/v0"), "0")).ok());
  ASSERT_TRUE(Apply(Place("e-0", index_, 0, "a0", 0)).ok());
  auto action = [&](const std::string& id, v1::AllocActionCommand::Action what, const std::string& task) {
    v1::Command cmd;
    cmd.set_time_ms(5000);
    auto* c = cmd.mutable_alloc_action();
    c->set_alloc_id(id);
    c->set_action(what);
    c->set_task(task);
    c->mutable_eval()->set_id("e-" + id + std::to_string(what));
    return Apply(cmd);
  };
  EXPECT_EQ(action("nope", v1::AllocActionCommand::RESTART, "").code(), StatusCode::kNotFound);
  EXPECT_EQ(action("a0", v1::AllocActionCommand::RESTART, "other").code(), StatusCode::kNotFound);
  ASSERT_TRUE(action("a0", v1::AllocActionCommand::RESTART, "t").ok());
  EXPECT_EQ(store_->GetAllocation("a0")->restart_index(), index_);
  EXPECT_EQ(store_->GetAllocation("a0")->restart_task(), "t");
  ASSERT_TRUE(action("a0", v1::AllocActionCommand::STOP, "").ok());
  EXPECT_EQ(store_->GetAllocation("a0")->desired_status(), v1::Allocation::STOP);
  bool queued = false;
  for (const auto& e : store_->PendingEvaluations()) queued = queued || e.id() == "e-a02";
  EXPECT_TRUE(queued);
  // Not running any more: nothing to restart or stop.
  EXPECT_EQ(action("a0", v1::AllocActionCommand::RESTART, "").code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace orch::master
