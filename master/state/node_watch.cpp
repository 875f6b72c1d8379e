// Node watches: when each node or one of its allocations last changed, kept
// in memory so that an agent's allocation watch (GET /v1/nodes/{id}/
// allocations?index=N) is woken only by its own node's changes and learns its
// index without reading the table or waiting for an apply.
#include "master/state/state_store.h"

namespace orch::master {

void StateStore::NoteNodeChangeLocked(const std::string& node_id) {
  if (node_id.empty()) return;
  pending_node_watch_.emplace_back(node_id, apply_index_);
}

std::vector<std::pair<std::string, uint64_t>> StateStore::CommitNodeWatchLocked() {
  std::vector<std::pair<std::string, uint64_t>> keys;
  if (pending_node_watch_.empty()) return keys;
  keys.reserve(pending_node_watch_.size());
  {
    std::lock_guard lock(node_brief_mu_);
    for (auto& [id, index] : pending_node_watch_) {
      uint64_t& at = node_watch_[id];
      if (index <= at) continue;  // a node changed twice in one run: once is enough
      at = index;
      keys.emplace_back(NodeWatchKey(id), index);
    }
  }
  pending_node_watch_.clear();
  return keys;
}

void StateStore::ResetNodeWatchLocked(uint64_t state_index) {
  pending_node_watch_.clear();
  std::lock_guard lock(node_brief_mu_);
  node_watch_.clear();
  node_watch_floor_ = state_index;
}

uint64_t StateStore::NodeAllocationsIndex(const std::string& id) const {
  std::lock_guard lock(node_brief_mu_);
  auto it = node_watch_.find(id);
  return it == node_watch_.end() ? node_watch_floor_ : std::max(node_watch_floor_, it->second);
}

}  // namespace orch::master
