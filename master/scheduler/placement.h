// The placeholder scheduler: for one evaluation, compare the job's groups
// with their live allocations and produce a plan. Each new allocation goes
// to the feasible ready node with the most free memory. The bin-packing,
// load-aware scheduler of DESIGN.md section 4 replaces Place() later; the
// reconciliation around it (what to place, what to stop) stays.
// Thread safety: pure functions.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "orch/v1/command.pb.h"
#include "orch/v1/types.pb.h"

namespace orch::master {

struct SchedulerInput {
  v1::Evaluation eval;
  bool job_exists = false;
  v1::Job job;
  std::vector<v1::Allocation> allocs;  // the job's allocations
  std::vector<v1::Node> nodes;         // with `allocated` derived
  std::function<std::string()> new_id;
};

// Returns the plan for the evaluation (never fails: what cannot be placed
// leaves the evaluation BLOCKED with a description saying why).
v1::PlanCommand ComputePlan(const SchedulerInput& in);

// Sum of a group's task resources.
v1::Resources GroupResources(const v1::TaskGroup& g);

}  // namespace orch::master
