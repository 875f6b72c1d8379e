// AllocGc: removes the directories (<data_dir>/allocs/<id>: task dirs,
// rotated logs, exit records) of allocations this agent no longer tracks,
// once nothing was written in them for `after` — the masters dropped them
// and the reconciler forgot them, so nobody will ask for their logs again.
// Directories of tracked allocations, or holding a task a driver still
// knows, are never touched. The reconcile loop calls MaybeCollect on every
// pass; it sweeps at most once per `interval`.
// Thread safety: not thread-safe; owned by the reconcile loop.
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>

#include "common/clock.h"

namespace orch::agent {

class AllocGc {
 public:
  AllocGc(std::string data_dir, std::chrono::milliseconds after, Clock* clock,
          std::chrono::milliseconds interval = std::chrono::minutes(1));

  // `keep` names the allocation ids that must stay; asked only when a sweep
  // is due. Returns how many directories were removed.
  int MaybeCollect(const std::function<std::set<std::string>()>& keep);
  int Collect(const std::set<std::string>& keep);

 private:
  std::string allocs_dir_;
  std::chrono::milliseconds after_;
  Clock* clock_;
  std::chrono::milliseconds interval_;
  int64_t last_sweep_ms_ = 0;
};

}  // namespace orch::agent
