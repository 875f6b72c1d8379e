// GarbageCollector: on the leader, deletes what the state no longer needs --
// complete and failed evaluations, terminal allocations nothing refers to,
// dead jobs (with their versions, deployments, evaluations and allocations)
// and ended deployments -- once they are older than their thresholds
// (GcOptions; Nomad-like defaults). A pass looks at `batch` rows of each
// table from where the last one stopped, so its cost is bounded however
// large the state; a GC command carries the ids found, and the state machine
// checks each again (state/gc_rules.h) when it applies.
// Thread safety: not thread-safe; driven by the EvalWorker's thread (the
// forced collection, CollectAll, may run on any thread: it keeps its own
// cursor).
#pragma once

#include "common/clock.h"
#include "common/status.h"
#include "master/replication/replicated_log.h"
#include "master/state/gc_rules.h"
#include "master/state/state_store.h"

namespace orch::master {

struct GcTotals {
  int evaluations = 0, allocations = 0, jobs = 0, deployments = 0;
  uint64_t index = 0;  // of the last GC entry (0: none)
  int total() const { return evaluations + allocations + jobs + deployments; }
};

class GarbageCollector {
 public:
  GarbageCollector(StateStore* store, replication::ReplicatedLog* log, Clock* clock,
                   GcOptions options = {})
      : store_(store), log_(log), clock_(clock), options_(options) {}

  void set_options(const GcOptions& o) { options_ = o; }
  // One pass when the interval has passed since the last (the leader's loop
  // calls it every round); what it proposed.
  GcTotals MaybeRun();
  // One pass now.
  Result<GcTotals> RunOnce();
  // Leadership lost: the next leader pass starts at the tables' beginning.
  void Reset() { cursor_ = {}; }

 private:
  StateStore* store_;
  replication::ReplicatedLog* log_;
  Clock* clock_;
  GcOptions options_;
  StateStore::GcCursor cursor_;
  int64_t last_run_ms_ = 0;
};

// A forced collection (POST /v1/system/gc, `orchctl system gc`): every
// threshold 0 and the whole state, a batch at a time. Leader only.
Result<GcTotals> CollectAll(StateStore* store, replication::ReplicatedLog* log, Clock* clock,
                            int batch = 5000);

}  // namespace orch::master
