// SchedulerConfig: the cluster-wide knobs of the scheduler (weights of the
// scoring terms, sample size, load target, preemption gap).
// Thread safety: a plain value.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace orch::master::sched {

struct SchedulerConfig {
  // Weights of the scoring terms in the weighted mean (0 turns one off).
  double w_binpack = 1.0;
  double w_balance = 1.0;  // complementary shapes (see scoring.h)
  double w_load = 1.0;
  double w_anti_affinity = 0.5;
  double w_spread = 1.0;
  // Trimaran TargetLoadPacking's target utilisation, in percent.
  double target_load = 70.0;
  // Candidates scored per placement; 0: max(min_k, ceil(log2(eligible))).
  int k = 0;
  int min_k = 4;
  // A job may preempt allocations of jobs at least this much lower.
  int preemption_gap = 10;
  // Seed of the node order (same seed, same input: same plan).
  uint64_t seed = 1;
  // Default port range when a node leaves its own unset.
  int32_t port_min = 20000;
  int32_t port_max = 32000;
};

// Applies "binpack=1,load=1,anti_affinity=0.5,spread=1,target_load=70"
// (any subset) to `cfg`; InvalidArgument naming the bad item otherwise.
Status ApplyWeights(const std::string& spec, SchedulerConfig* cfg);

}  // namespace orch::master::sched
