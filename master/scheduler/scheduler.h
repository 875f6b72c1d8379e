// Scheduler: turns one evaluation into a plan (DESIGN.md section 4).
// Reconcile decides what to stop and which slots need a placement; each
// placement takes the static-feasible nodes of its group (cached per
// constraint set in the NodeTable's seeded random order), gathers up to k
// candidates with room (power-of-k: k = max(min_k, log2(eligible)); small
// clusters score every node), scores them (bin-packing, balance, load, job
// anti-affinity, spread: see scoring.h) and takes the best. When nothing
// has room, a job at least `preemption_gap` above others may preempt them.
// Placements and stops are applied to the table as the plan is built, so
// several evaluations scheduled against one table see each other.
// Thread safety: not thread-safe (owns scratch space); one per thread.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "master/scheduler/config.h"
#include "master/scheduler/explain.h"
#include "master/scheduler/feasibility.h"
#include "master/scheduler/node_table.h"
#include "master/scheduler/rng.h"
#include "orch/v1/api.pb.h"
#include "orch/v1/command.pb.h"
#include "orch/v1/types.pb.h"

namespace orch::master::sched {

struct JobInput {
  v1::Evaluation eval;
  bool job_exists = false;
  v1::Job job;
  std::vector<v1::Allocation> allocs;  // the job's allocations, any status
  int64_t now_ms = 0;                  // for drain deadlines
  std::optional<v1::Deployment> deployment;  // the job's newest (rolling updates)
};

class Scheduler {
 public:
  Scheduler(NodeTable* table, const SchedulerConfig& cfg, std::function<std::string()> new_id);

  // The plan for `in`. With `explain`, also what was placed where with the
  // per-term scores, what would be preempted, and why groups could not be
  // placed.
  v1::PlanCommand Schedule(const JobInput& in, v1::PlanResponse* explain = nullptr);

  // Candidates scored so far (benchmarks).
  uint64_t scored() const { return scored_; }

 private:
  struct Spread;
  struct Group;
  struct Choice {
    uint32_t node = 0;
    double score = 0;
    int evaluated = 0;
  };
  bool Select(Group& g, Choice* out);
  double Score(Group& g, uint32_t node, v1::PlannedPlacement* explain);
  void Consider(Group& g, uint32_t node);
  void PlaceAt(Group& g, uint32_t node, const std::string& name, const std::string& previous, double score,
               int evaluated, v1::PlanCommand* plan, v1::PlanResponse* explain);
  FilterTally Tally(Group& g, const std::vector<uint32_t>* only);
  bool TryPreempt(Group& g, const std::vector<uint32_t>& nodes, const std::string& name,
                  const std::string& previous, v1::PlanCommand* plan, v1::PlanResponse* explain);

  NodeTable* table_;
  SchedulerConfig cfg_;
  std::function<std::string()> new_id_;
  Rng rng_;
  // Per job being scheduled: its live allocations per node (sparse reset).
  std::vector<uint16_t> job_here_;
  std::vector<uint32_t> touched_;
  std::vector<uint32_t> cand_;
  std::vector<int32_t> ports_;
  std::map<std::string, bool> preempted_jobs_;
  uint64_t scored_ = 0;
};

// The one-job form used by the masters' tests and the plan endpoint.
struct SchedulerInput {
  v1::Evaluation eval;
  bool job_exists = false;
  v1::Job job;
  std::vector<v1::Allocation> allocs;  // the job's allocations
  std::vector<v1::Node> nodes;         // with `allocated` derived and `load` overlaid
  // Live allocations of other jobs (ports in use, preemption candidates)
  // and the priorities of their jobs.
  std::vector<v1::Allocation> other_allocs;
  std::map<std::string, int32_t> priorities;
  std::function<std::string()> new_id;
  int64_t now_ms = 0;
  SchedulerConfig config;
  std::optional<v1::Deployment> deployment;  // the job's newest
};

v1::PlanCommand ComputePlan(const SchedulerInput& in, v1::PlanResponse* explain = nullptr);

}  // namespace orch::master::sched
