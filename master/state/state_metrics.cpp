#include "master/state/state_metrics.h"

#include <memory>
#include <mutex>

#include "common/sqlite_checkpointer.h"

namespace orch::master {

namespace {

std::vector<metrics::Sample> Samples(const std::map<std::string, double>& by_status) {
  std::vector<metrics::Sample> out;
  for (const auto& [status, n] : by_status) out.push_back({{status}, n});
  return out;
}

}  // namespace

void RegisterStateMetrics(metrics::Registry* m, const StateStore* store) {
  if (m == nullptr) return;
  // One CountState per scrape, shared by the four families (read by the
  // first, in name order: orch_allocations).
  struct Cache {
    std::mutex mu;
    StateStore::Counts counts;
  };
  auto cache = std::make_shared<Cache>();
  m->AddCallback("orch_allocations",
                 "Allocations by client status (PENDING, RUNNING, COMPLETE, FAILED, LOST).",
                 {"status"}, [store, cache] {
                   std::lock_guard lock(cache->mu);
                   cache->counts = store->CountState();
                   return Samples(cache->counts.allocations);
                 });
  m->AddCallback("orch_evaluations",
                 "Evaluations by status (PENDING and BLOCKED wait for the scheduler).", {"status"},
                 [cache] {
                   std::lock_guard lock(cache->mu);
                   return Samples(cache->counts.evaluations);
                 });
  m->AddCallback("orch_jobs", "Jobs in the state.", {}, [cache] {
    std::lock_guard lock(cache->mu);
    return std::vector<metrics::Sample>{{{}, cache->counts.jobs}};
  });
  m->AddCallback("orch_nodes", "Nodes by status (READY, DOWN, DRAINING).", {"status"}, [cache] {
    std::lock_guard lock(cache->mu);
    return Samples(cache->counts.nodes);
  });
  m->AddCallback(
      "orch_state_checkpoints_total",
      "Checkpoints of state.db: by its own thread (background), or by an apply's commit that "
      "found the WAL past its bound (inline: the apply waits for it).",
      {"where"},
      [store] {
        const auto c = store->CheckpointCounts();
        return std::vector<metrics::Sample>{{{"background"}, static_cast<double>(c.background)},
                                            {{"inline"}, static_cast<double>(c.inline_)}};
      },
      true);
  m->AddCallback(
      "orch_state_index", "The state's index (X-Orch-Index; past the Raft index after a restore).",
      {}, [store] {
        return std::vector<metrics::Sample>{{{}, static_cast<double>(store->StateIndex())}};
      });
}

}  // namespace orch::master
