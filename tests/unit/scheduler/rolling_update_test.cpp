// Rolling updates in the reconciler (issue 11): a group with an update
// block replaces at most max_parallel old allocations at a time, counting
// its new ones that are not healthy yet; nothing while the deployment is
// paused or over; everything at once for a version no deployment tracks.
#include <gtest/gtest.h>

#include <set>

#include "master/scheduler/reconcile.h"
#include "sched_util.h"

namespace orch::master::sched {
namespace {

using testing::Claim;
using testing::Input;
using testing::Job;
using testing::Node;
using testing::Running;

struct Fleet {
  v1::Job job;
  std::vector<v1::Node> nodes;
  std::vector<v1::Allocation> allocs;
};

// `count` allocations of version 0 running, then version 1 with a new
// command (destructive) and an update block.
Fleet RollingFleet(int count, int max_parallel) {
  Fleet f;
  f.job = Job("web", count);
  f.job.mutable_groups(0)->mutable_update()->set_max_parallel(max_parallel);
  f.nodes = {Node("n", 64000, 65536)};
  auto first = ComputePlan(Input(f.job, f.nodes));
  for (const auto& a : first.place()) {
    v1::Allocation r = Running(a);
    *r.mutable_task_group() = f.job.groups(0);
    r.set_healthy(true);
    f.allocs.push_back(r);
    Claim(&f.nodes, a);
  }
  f.job.set_version(1);
  f.job.mutable_groups(0)->mutable_tasks(0)->set_command("/bin/sleep2");
  return f;
}

v1::Deployment Deployment(const v1::Job& job, v1::Deployment::Status status = v1::Deployment::RUNNING) {
  v1::Deployment d;
  d.set_id("d1");
  d.set_job_id(job.id());
  d.set_job_version(job.version());
  d.set_status(status);
  return d;
}

v1::PlanCommand Plan(const Fleet& f, const std::optional<v1::Deployment>& d) {
  auto in = Input(f.job, f.nodes, f.allocs);
  in.deployment = d;
  return ComputePlan(in);
}

// Applies a plan's stops and placements to the fleet, the new ones joining
// the deployment `d` as apply does.
void Apply(Fleet* f, const v1::PlanCommand& p, const std::string& deployment_id) {
  std::set<std::string> stop(p.stop().begin(), p.stop().end());
  for (auto& a : f->allocs) {
    if (stop.count(a.id())) a.set_desired_status(v1::Allocation::STOP);
  }
  for (const auto& a : p.place()) {
    v1::Allocation r = Running(a);
    *r.mutable_task_group() = f->job.groups(0);
    r.set_deployment_id(deployment_id);
    f->allocs.push_back(r);
  }
}

void MarkHealthy(Fleet* f, const std::string& deployment_id) {
  for (auto& a : f->allocs) {
    if (a.deployment_id() == deployment_id) {
      a.mutable_deployment_status()->set_health(v1::AllocDeploymentStatus::HEALTHY);
    }
  }
}

int Live(const Fleet& f, uint64_t version) {
  int n = 0;
  for (const auto& a : f.allocs) n += a.desired_status() == v1::Allocation::RUN && a.job_version() == version;
  return n;
}

TEST(RollingUpdate, ReplacesAtMostMaxParallelAtATimeAndWaitsForHealth) {
  Fleet f = RollingFleet(5, 2);
  auto d = Deployment(f.job);
  auto p1 = Plan(f, d);
  EXPECT_EQ(p1.stop_size(), 2);
  EXPECT_EQ(p1.place_size(), 2);
  Apply(&f, p1, d.id());
  EXPECT_EQ(Live(f, 0), 3);
  // The two new ones are not healthy yet: nothing more.
  auto wait = Plan(f, d);
  EXPECT_EQ(wait.stop_size(), 0);
  EXPECT_EQ(wait.place_size(), 0);
  // Healthy: the next two, then the last one.
  MarkHealthy(&f, d.id());
  auto p2 = Plan(f, d);
  EXPECT_EQ(p2.stop_size(), 2);
  EXPECT_EQ(p2.place_size(), 2);
  Apply(&f, p2, d.id());
  MarkHealthy(&f, d.id());
  auto p3 = Plan(f, d);
  EXPECT_EQ(p3.stop_size(), 1);
  EXPECT_EQ(p3.place_size(), 1);
  Apply(&f, p3, d.id());
  EXPECT_EQ(Live(f, 0), 0);
  EXPECT_EQ(Live(f, 1), 5);
  // Slots are reused: still web.g[0..4].
  std::set<std::string> names;
  for (const auto& a : f.allocs) {
    if (a.desired_status() == v1::Allocation::RUN) names.insert(a.name());
  }
  EXPECT_EQ(names.size(), 5u);
  EXPECT_TRUE(names.count("web.g[4]"));
}

TEST(RollingUpdate, NeverDropsBelowCountMinusMaxParallel) {
  Fleet f = RollingFleet(4, 1);
  auto d = Deployment(f.job);
  for (int round = 0; round < 4; ++round) {
    auto p = Plan(f, d);
    ASSERT_EQ(p.stop_size(), 1) << round;
    Apply(&f, p, d.id());
    int serving_old_or_healthy_new = 0;
    for (const auto& a : f.allocs) {
      if (a.desired_status() != v1::Allocation::RUN) continue;
      serving_old_or_healthy_new += a.job_version() == 0 ||
                                    a.deployment_status().health() == v1::AllocDeploymentStatus::HEALTHY;
    }
    EXPECT_GE(serving_old_or_healthy_new, 3) << round;
    MarkHealthy(&f, d.id());
  }
  EXPECT_EQ(Live(f, 1), 4);
}

TEST(RollingUpdate, PausedOrFailedDeploymentsReplaceNothing) {
  for (auto status : {v1::Deployment::PAUSED, v1::Deployment::FAILED, v1::Deployment::CANCELLED}) {
    Fleet f = RollingFleet(3, 1);
    auto p = Plan(f, Deployment(f.job, status));
    EXPECT_EQ(p.stop_size(), 0) << status;
    EXPECT_EQ(p.place_size(), 0) << status;
  }
}

TEST(RollingUpdate, WithoutADeploymentOrUpdateBlockEverythingIsReplacedAtOnce) {
  Fleet f = RollingFleet(3, 1);
  EXPECT_EQ(Plan(f, std::nullopt).stop_size(), 3);
  // A deployment of another version does not hold this one back.
  auto other = Deployment(f.job);
  other.set_job_version(0);
  EXPECT_EQ(Plan(f, other).stop_size(), 3);
  // max_parallel 0 turns rolling off.
  Fleet off = RollingFleet(3, 0);
  EXPECT_EQ(Plan(off, Deployment(off.job)).stop_size(), 3);
}

TEST(RollingUpdate, OldAllocationsThatDoNotServeAreReplacedFirst) {
  Fleet f = RollingFleet(3, 1);
  f.allocs[2].set_healthy(false);  // web.g[2] fails its check
  auto p = Plan(f, Deployment(f.job));
  ASSERT_EQ(p.stop_size(), 1);
  EXPECT_EQ(p.stop(0), f.allocs[2].id());
}

TEST(RollingUpdate, InPlaceChangesNeedNoBudget) {
  Fleet f = RollingFleet(3, 1);
  f.job.mutable_groups(0)->mutable_tasks(0)->set_command("/bin/sleep");  // back to v0's task
  f.job.mutable_groups(0)->mutable_update()->set_max_parallel(1);
  auto p = Plan(f, Deployment(f.job));
  EXPECT_EQ(p.stop_size(), 0);
  EXPECT_EQ(p.update_in_place_size(), 3);
}

}  // namespace
}  // namespace orch::master::sched

namespace orch::master::sched {
namespace {

v1::Deployment CanaryDeployment(const v1::Job& job, int canaries, bool promoted = false) {
  v1::Deployment d = Deployment(job);
  auto* g = d.add_groups();
  g->set_name("g");
  g->set_desired_total(job.groups(0).count());
  g->set_desired_canaries(canaries);
  g->set_promoted(promoted);
  return d;
}

int Canaries(const v1::PlanCommand& p) {
  int n = 0;
  for (const auto& a : p.place()) n += a.deployment_status().canary();
  return n;
}

TEST(RollingUpdate, CanariesStandBesideTheOldAllocationsUntilPromoted) {
  Fleet f = RollingFleet(3, 1);
  auto d = CanaryDeployment(f.job, 1);
  auto p = Plan(f, d);
  EXPECT_EQ(p.stop_size(), 0);  // every old one keeps serving
  ASSERT_EQ(p.place_size(), 1);
  EXPECT_EQ(Canaries(p), 1);
  EXPECT_EQ(p.place(0).name(), "web.g[0]");  // named after the slot it will take over
  Apply(&f, p, d.id());
  f.allocs.back().mutable_deployment_status()->set_canary(true);
  EXPECT_EQ(Live(f, 0), 3);
  // Healthy or not, nothing more happens before promotion (and no scale
  // down: the canary does not count).
  MarkHealthy(&f, d.id());
  auto wait = Plan(f, d);
  EXPECT_EQ(wait.stop_size(), 0);
  EXPECT_EQ(wait.place_size(), 0);
  // Promoted (apply clears the flag): the old web.g[0] stops without a
  // replacement, and one more old one is replaced (max_parallel 1).
  d.mutable_groups(0)->set_promoted(true);
  f.allocs.back().mutable_deployment_status()->set_canary(false);
  auto after = Plan(f, d);
  EXPECT_EQ(after.stop_size(), 2);
  EXPECT_EQ(after.place_size(), 1);
  EXPECT_EQ(Canaries(after), 0);
  Apply(&f, after, d.id());
  MarkHealthy(&f, d.id());
  auto last = Plan(f, d);
  EXPECT_EQ(last.stop_size(), 1);
  EXPECT_EQ(last.place_size(), 1);
  Apply(&f, last, d.id());
  EXPECT_EQ(Live(f, 0), 0);
  EXPECT_EQ(Live(f, 1), 3);
}

TEST(RollingUpdate, ACanaryOfADeploymentThatEndedUnpromotedStops) {
  Fleet f = RollingFleet(3, 1);
  auto d = CanaryDeployment(f.job, 2);
  auto p = Plan(f, d);
  ASSERT_EQ(Canaries(p), 2);
  Apply(&f, p, d.id());
  for (auto& a : f.allocs) {
    if (a.deployment_id() == d.id()) a.mutable_deployment_status()->set_canary(true);
  }
  d.set_status(v1::Deployment::FAILED);
  auto failed = Plan(f, d);
  EXPECT_EQ(failed.stop_size(), 2);  // both canaries, and only them
  EXPECT_EQ(failed.place_size(), 0);
  for (const auto& id : failed.stop()) {
    for (const auto& a : f.allocs) {
      if (a.id() == id) {
        EXPECT_EQ(a.job_version(), 1u);
      }
    }
  }
  // Paused: the canaries stay, none is added.
  Fleet g = RollingFleet(3, 1);
  auto paused = CanaryDeployment(g.job, 1);
  paused.set_status(v1::Deployment::PAUSED);
  EXPECT_EQ(Plan(g, paused).place_size(), 0);
}

}  // namespace
}  // namespace orch::master::sched
