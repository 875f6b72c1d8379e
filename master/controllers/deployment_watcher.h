// DeploymentWatcher: on the leader, judges every running deployment
// (master/deployments/judge.h) against its job's allocations and the clock,
// and proposes what it decides: allocations healthy or not, the next batch
// (an evaluation), success (the version becomes stable), failure and, with
// auto_revert, the job version that brings back the last stable spec. All
// of it lives in the replicated state, so a new leader carries on where the
// old one stopped. Reads only the deployments in progress and their jobs'
// allocations.
// Thread safety: not thread-safe; driven by the EvalWorker's thread.
#pragma once

#include "common/clock.h"
#include "master/replication/replicated_log.h"
#include "master/state/state_store.h"

namespace orch::master {

class DeploymentWatcher {
 public:
  DeploymentWatcher(StateStore* store, replication::ReplicatedLog* log, Clock* clock)
      : store_(store), log_(log), clock_(clock) {}

  // One pass; returns the updates proposed.
  int RunOnce();

 private:
  StateStore* store_;
  replication::ReplicatedLog* log_;
  Clock* clock_;
};

}  // namespace orch::master
