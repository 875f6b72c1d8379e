// Property tests over seeded random clusters and job streams: no node ever
// exceeds its capacity, every allocation that can be placed is placed, and
// the same seed gives the same plans.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "master/scheduler/feasibility.h"
#include "master/scheduler/node_table.h"
#include "master/scheduler/scheduler.h"
#include "sched_util.h"

namespace orch::master::sched {
namespace {

struct World {
  std::vector<v1::Node> nodes;
  std::vector<v1::Job> jobs;
};

World RandomWorld(uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  World w;
  int n = pick(20, 300);
  const int64_t cpus[] = {2000, 4000, 8000, 16000};
  const int64_t mems[] = {2048, 4096, 8192, 16384};
  for (int i = 0; i < n; ++i) {
    auto node = testing::Node("n" + std::to_string(i), cpus[pick(0, 3)], mems[pick(0, 3)]);
    if (pick(0, 9) == 0) node.mutable_attributes()->set_os("windows");
    (*node.mutable_attributes()->mutable_labels())["zone"] = "z" + std::to_string(pick(0, 2));
    int s = pick(0, 19);
    if (s == 0) node.set_status(v1::Node::DOWN);
    if (s == 1) node.set_status(v1::Node::DRAINING);
    w.nodes.push_back(node);
  }
  int jobs = pick(5, 40);
  for (int j = 0; j < jobs; ++j) {
    auto job = testing::Job("job" + std::to_string(j), pick(1, 60), 50 * pick(1, 40), 64 * pick(1, 40));
    if (pick(0, 3) == 0) {
      auto* c = job.add_constraints();
      c->set_attribute("${attr.os}");
      c->set_value("linux");
    }
    if (pick(0, 4) == 0) job.mutable_groups(0)->add_spread()->set_attribute("${meta.zone}");
    if (pick(0, 6) == 0) job.add_constraints()->set_operator_("distinct_hosts");
    w.jobs.push_back(job);
  }
  return w;
}

// Schedules every job of `w` in turn against one table; checks the
// properties after each plan and returns the plans.
std::vector<v1::PlanCommand> RunWorld(const World& w, uint64_t seed) {
  SchedulerConfig cfg;
  cfg.seed = seed;
  NodeTable table(w.nodes, {}, {}, cfg);
  int counter = 0;
  Scheduler s(&table, cfg, [&] { return "a" + std::to_string(counter++); });
  std::map<std::string, std::pair<int64_t, int64_t>> used;
  std::map<std::string, std::map<std::string, int>> job_on;
  std::vector<v1::PlanCommand> plans;
  for (const auto& job : w.jobs) {
    JobInput in;
    in.eval.set_id("e-" + job.id());
    in.eval.set_job_id(job.id());
    in.job_exists = true;
    in.job = job;
    v1::PlanResponse why;
    auto plan = s.Schedule(in, &why);
    for (const auto& a : plan.place()) {
      auto& u = used[a.node_id()];
      u.first += a.resources().cpu();
      u.second += a.resources().memory();
      job_on[job.id()][a.node_id()]++;
    }
    // No node over capacity, nothing on an ineligible node.
    for (const auto& n : w.nodes) {
      auto it = used.find(n.id());
      if (it == used.end()) continue;
      EXPECT_LE(it->second.first, n.capacity().cpu()) << "seed " << seed << " node " << n.id();
      EXPECT_LE(it->second.second, n.capacity().memory()) << "seed " << seed << " node " << n.id();
      if (job_on[job.id()].count(n.id())) {
        EXPECT_EQ(n.status(), v1::Node::READY);
      }
    }
    // Whatever was left unplaced really had nowhere to go.
    if (plan.eval_status() == v1::Evaluation::BLOCKED) {
      Request r = MakeRequest(job, job.groups(0), 0);
      for (const auto& n : w.nodes) {
        if (!StaticInfeasible(n, job, job.groups(0)).empty()) continue;
        auto u = used[n.id()];
        bool room = u.first + r.cpu <= n.capacity().cpu() && u.second + r.mem <= n.capacity().memory();
        bool distinct_ok = !r.distinct_hosts || job_on[job.id()][n.id()] == 0;
        EXPECT_FALSE(room && distinct_ok) << "seed " << seed << ": " << job.id() << " left unplaced but node "
                                          << n.id() << " had room; " << plan.eval_description();
      }
    } else {
      EXPECT_EQ(plan.place_size(), job.groups(0).count());
    }
    plans.push_back(plan);
  }
  return plans;
}

TEST(SchedulerPropertyTest, NoOvercommitEverythingPlaceablePlaced) {
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    World w = RandomWorld(seed);
    RunWorld(w, seed);
    if (HasFailure()) break;
  }
}

TEST(SchedulerPropertyTest, SameSeedSamePlan) {
  for (uint32_t seed = 100; seed < 110; ++seed) {
    World w = RandomWorld(seed);
    auto a = RunWorld(w, seed);
    auto b = RunWorld(w, seed);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].SerializeAsString(), b[i].SerializeAsString()) << "seed " << seed << " plan " << i;
    }
  }
}

}  // namespace
}  // namespace orch::master::sched
