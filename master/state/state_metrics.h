// The cluster state as metrics (orch_jobs, orch_nodes{status},
// orch_evaluations{status}, orch_allocations{status}, orch_state_index),
// read from the StateStore at each scrape (StateStore::CountState).
// Thread safety: the callbacks are thread-safe; `store` must outlive every
// scrape of `registry`.
#pragma once

#include "common/metrics.h"
#include "master/state/state_store.h"

namespace orch::master {

void RegisterStateMetrics(metrics::Registry* registry, const StateStore* store);

}  // namespace orch::master
