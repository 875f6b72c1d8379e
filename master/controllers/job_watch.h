// JobWatch: the leader's periodic controllers that create evaluations the
// state changes alone do not:
//  - drain progress: a draining node still has live allocations and a
//    group has fewer than migrate.max_parallel replacements in flight (or
//    the drain deadline passed) -> evaluate the job (trigger DRAINED);
//  - system jobs: a node became ready (joined, came back, drain undone)
//    -> evaluate every system job (trigger NODE_JOINED);
//  - failed allocations of service and batch jobs -> evaluate the job
//    (trigger ALLOC_FAILED) when they fail and again when their reschedule
//    delay (master/scheduler/reschedule.h) is over.
// Never while the job already has a pending evaluation.
// Thread safety: not thread-safe; driven by the EvalWorker's thread.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "common/clock.h"
#include "master/replication/replicated_log.h"
#include "master/state/state_store.h"

namespace orch::master {

class JobWatch {
 public:
  JobWatch(StateStore* store, replication::ReplicatedLog* log, Clock* clock)
      : store_(store), log_(log), clock_(clock) {}

  // One pass; returns the evaluations proposed.
  int RunOnce();
  // Forget what was seen (leadership lost): the next leader pass starts
  // over (every ready node counts as joined once).
  void Reset();

 private:
  StateStore* store_;
  replication::ReplicatedLog* log_;
  Clock* clock_;
  bool primed_ = false;
  std::set<std::string> ready_;
  // Failed alloc id -> 1: evaluated at the failure, 2: after its delay.
  std::map<std::string, uint64_t> failure_seen_;
};

}  // namespace orch::master
