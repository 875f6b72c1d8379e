// Preemption: when no node has room, find the node where stopping the
// fewest, lowest-priority allocations (of jobs at least `gap` below the
// placing job's priority) makes room. Ties: the lower highest priority
// stopped, then the lower sum of priorities, then the node order.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "master/scheduler/feasibility.h"
#include "master/scheduler/node_table.h"

namespace orch::master::sched {

struct Preemption {
  uint32_t node = 0;
  std::vector<Resident> victims;
};

std::optional<Preemption> FindPreemption(const NodeTable& table, const std::vector<uint32_t>& eligible,
                                         const Request& r, int32_t priority, int gap);

}  // namespace orch::master::sched
