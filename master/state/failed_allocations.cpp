// What is kept in memory of every allocation, with every allocation write
// and delete (and rebuilt on open, restore and rollback): failed
// allocations and their replacements, so that the leader's job watch finds
// the failures to reschedule and the replacements in flight without reading
// every allocation each pass; each allocation's client status, so that
// /metrics counts them without reading them; and what the live ones claim,
// summed per node, so that a node's `allocated` is read without them.
#include <algorithm>
#include <limits>

#include "master/model/allocation.h"
#include "master/state/state_store.h"

namespace orch::master {

namespace {

bool FailedButWanted(const v1::Allocation& a) {
  return a.client_status() == v1::Allocation::FAILED && a.desired_status() == v1::Allocation::RUN;
}

// Its place in alloc_status_count_ (a value this build does not know
// counts as unspecified).
v1::Allocation::ClientStatus Counted(v1::Allocation::ClientStatus s) {
  return v1::Allocation::ClientStatus_IsValid(s) ? s : v1::Allocation::CLIENT_STATUS_UNSPECIFIED;
}

// Adds (sign 1) or takes away (-1) what a live allocation claims on its node.
template <typename ClaimedByNode, typename Brief>
void Claim(ClaimedByNode* claimed, const std::string& node_id, const Brief& b, int sign) {
  if (!b.live) return;
  auto it = claimed->try_emplace(node_id).first;
  auto& c = it->second;
  c.cpu += sign * static_cast<__int128>(b.cpu);
  c.memory += sign * static_cast<__int128>(b.memory);
  c.disk += sign * static_cast<__int128>(b.disk);
  // A node that holds nothing keeps no entry (nodes come and go).
  if (c.cpu == 0 && c.memory == 0 && c.disk == 0) claimed->erase(it);
}

int64_t Saturated(__int128 v) {
  if (v > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (v < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

}  // namespace

void StateStore::SetAllocatedLocked(v1::Node* node) const {
  Claimed c;
  if (auto it = node_claimed_.find(node->id()); it != node_claimed_.end()) c = it->second;
  node->mutable_allocated()->set_cpu(Saturated(c.cpu));
  node->mutable_allocated()->set_memory(Saturated(c.memory));
  node->mutable_allocated()->set_disk(Saturated(c.disk));
}

void StateStore::NoteAllocationLocked(const v1::Allocation& a) {
  const v1::Allocation::ClientStatus status = Counted(a.client_status());
  const AllocBrief brief{status, IsLive(a), a.resources().cpu(), a.resources().memory(),
                         a.resources().disk()};
  auto [at, added] = alloc_brief_.try_emplace(a.id(), brief);
  if (!added) {
    --alloc_status_count_[at->second.status];
    Claim(&node_claimed_, a.node_id(), at->second, -1);
    at->second = brief;
  }
  Claim(&node_claimed_, a.node_id(), brief, 1);
  ++alloc_status_count_[status];
  if (FailedButWanted(a)) {
    failed_run_[a.id()] = a.job_id();
  } else {
    failed_run_.erase(a.id());
  }
  if (!a.previous_allocation().empty())
    replacement_of_[a.previous_allocation()] = {a.id(), a.job_id()};
}

void StateStore::ForgetAllocationLocked(const v1::Allocation& a) {
  if (auto at = alloc_brief_.find(a.id()); at != alloc_brief_.end()) {
    --alloc_status_count_[at->second.status];
    Claim(&node_claimed_, a.node_id(), at->second, -1);
    alloc_brief_.erase(at);
  }
  failed_run_.erase(a.id());
  replacement_of_.erase(a.id());
  auto it = replacement_of_.find(a.previous_allocation());
  if (it != replacement_of_.end() && it->second.alloc_id == a.id()) replacement_of_.erase(it);
}

void StateStore::RebuildAllocationBriefsLocked() {
  ++briefs_epoch_;  // the scheduling cache reads the tables again
  failed_run_.clear();
  replacement_of_.clear();
  alloc_brief_.clear();
  node_claimed_.clear();
  alloc_status_count_ = {};
  for (const auto& a : LoadMany<v1::Allocation>("SELECT data FROM allocations", {}))
    NoteAllocationLocked(a);
}

std::vector<std::pair<std::string, bool>> StateStore::FailedAllocations() const {
  std::lock_guard lock(mu_);
  std::vector<std::pair<std::string, bool>> out;
  out.reserve(failed_run_.size());
  for (const auto& [id, job] : failed_run_) out.emplace_back(id, replacement_of_.count(id) > 0);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> StateStore::ReplacementOf(const std::string& alloc_id) const {
  std::lock_guard lock(mu_);
  auto it = replacement_of_.find(alloc_id);
  if (it == replacement_of_.end()) return std::nullopt;
  return it->second.alloc_id;
}

}  // namespace orch::master
