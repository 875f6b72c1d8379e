#include "master/raft/compaction.h"

#include <algorithm>

namespace orch::raft {

uint64_t CompactionIndex(uint64_t applied, uint64_t keep_entries, uint64_t max_hold, uint64_t self,
                         const std::map<uint64_t, Progress>& progress) {
  if (applied <= keep_entries) return 0;
  uint64_t compact = applied - keep_entries;
  for (const auto& [id, pr] : progress) {
    if (id == self) continue;
    // The last index the follower is known (or about to be known) to hold:
    // the leader sends from the entry after it, with its term.
    uint64_t holds = 0;
    switch (pr.state) {
      case ProgressState::kSnapshot:
        holds = pr.pending_snapshot;
        break;
      case ProgressState::kProbe:
        holds = pr.next > 0 ? pr.next - 1 : 0;
        break;
      case ProgressState::kReplicate:
        holds = pr.match;
        break;
    }
    if (applied - std::min(holds, applied) > max_hold) continue;
    compact = std::min(compact, holds);
  }
  return compact;
}

}  // namespace orch::raft
