// A group's `update` block with Nomad's defaults filled in, and the health
// rule a deployment judges its allocations by.
// Thread safety: pure functions.
#pragma once

#include <cstdint>

#include "orch/v1/types.pb.h"

namespace orch::master {

struct RollingUpdate {
  bool enabled = false;  // a service group with an update block, max_parallel > 0
  int max_parallel = 1;
  int64_t min_healthy_ms = 10'000;
  int64_t healthy_deadline_ms = 300'000;
  int64_t progress_deadline_ms = 600'000;
  bool auto_revert = false;
  bool checks = true;  // health_check: checks (else task_states)
  int canary = 0;
  bool auto_promote = false;
};

RollingUpdate EffectiveUpdate(const v1::Job& job, const v1::TaskGroup& g);

// Whether moving an allocation from `before` to `after` of its group needs
// new processes: a task's command, args, env, image, resources, driver,
// check or service, or the group's ports changed. Count, constraints,
// spread, restart, migrate and update settings do not.
bool DestructiveChange(const v1::TaskGroup& before, const v1::TaskGroup& after);

// Whether any group of `job` rolls (a new version gets a deployment).
bool JobRolls(const v1::Job& job);

// Running, every task running, and (with `checks`) every check passing.
bool RunningHealthy(const v1::Allocation& a, bool checks);

}  // namespace orch::master
