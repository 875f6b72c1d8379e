// Garbage collection rules: what the state may forget, as pure functions of
// the objects and a cutoff time (an object last changed at or before the
// cutoff is old enough). The leader's collector uses them to find garbage
// and the state machine to check each id again when it applies the GC
// command, so both always agree. Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "orch/v1/types.pb.h"

namespace orch::master {

// Thresholds (how old garbage must be) and the batch size of one pass.
struct GcOptions {
  int64_t interval_ms = 60'000;
  int64_t eval_threshold_ms = 3'600'000;        // 1h, as Nomad's eval_gc_threshold
  int64_t alloc_threshold_ms = 3'600'000;       // terminal allocations: 1h
  int64_t job_threshold_ms = 4 * 3'600'000;     // dead jobs: 4h, as job_gc_threshold
  int64_t deployment_threshold_ms = 3'600'000;  // 1h, as deployment_gc_threshold
  int batch = 5000;                             // rows looked at per table per pass
};

// A complete or failed evaluation last changed at or before `cutoff_ms`.
bool EvalCollectable(const v1::Evaluation& e, int64_t cutoff_ms);

// A terminal allocation last changed at or before `cutoff_ms` that nothing
// needs any more: its job is gone or stopped, or the scheduler stopped it,
// or a newer allocation replaced it (`siblings`: the job's allocations).
// Kept while it counts for the job's running deployment (`active_deployment`)
// and, for a live job, while it is the newest word on its slot (a batch
// task that completed, a failure still to be rescheduled or given up on).
bool AllocCollectable(const v1::Allocation& a, const v1::Job* job, const std::vector<v1::Allocation>& siblings,
                      const std::string& active_deployment, int64_t cutoff_ms);

// A dead job: stopped, or a batch job whose allocations all ended, with no
// live allocation and no evaluation still to run, whose last change (submit,
// stop, an allocation's or evaluation's update) is at or before `cutoff_ms`.
bool JobCollectable(const v1::Job& job, const std::vector<v1::Allocation>& allocs,
                    const std::vector<v1::Evaluation>& evals, int64_t cutoff_ms);

// A deployment that ended (successful, failed, cancelled) at or before
// `cutoff_ms` and is not its job's latest (which `orchctl job status` and
// auto_revert still read).
bool DeploymentCollectable(const v1::Deployment& d, bool latest_of_job, int64_t cutoff_ms);

}  // namespace orch::master
