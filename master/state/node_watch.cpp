// Node watches: an agent's allocation watch (GET /v1/nodes/{id}/
// allocations?index=N) waits on its node's key of the index waiters, which
// advances only when the node or one of its allocations changes; the
// waiters keep each key's index, so the watch learns it without reading
// the table or waiting for an apply. The services key works the same way
// for the balancers' watches of the service registry.
#include "master/state/state_store.h"

namespace orch::master {

void StateStore::NoteNodeChangeLocked(const std::string& node_id) {
  if (node_id.empty()) return;
  pending_node_watch_.emplace_back(NodeWatchKey(node_id), apply_index_);
}

// Once per transaction, not once per allocation of a service's plan.
void StateStore::NoteServicesChangeLocked() { pending_services_ = apply_index_; }

void StateStore::NoteServicesChangeOfJobLocked(const std::string& job_id) {
  if (auto b = jobs_brief_.find(job_id); b != jobs_brief_.end() && b->second.services) {
    NoteServicesChangeLocked();
  }
}

uint64_t StateStore::ServicesIndex() const { return waiters_.KeyIndex(ServicesWatchKey()); }

std::vector<std::pair<std::string, uint64_t>> StateStore::CommitNodeWatchLocked() {
  std::vector<std::pair<std::string, uint64_t>> keys;
  keys.swap(pending_node_watch_);
  if (pending_services_ != 0) keys.emplace_back(ServicesWatchKey(), pending_services_);
  pending_services_ = 0;
  return keys;
}

void StateStore::DropNodeWatchLocked() {
  pending_node_watch_.clear();
  pending_services_ = 0;
}

uint64_t StateStore::NodeAllocationsIndex(const std::string& id) const {
  return waiters_.KeyIndex(NodeWatchKey(id));
}

}  // namespace orch::master
