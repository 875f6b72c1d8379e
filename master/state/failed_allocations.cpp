// What is kept in memory of every allocation, with every allocation write
// and delete (and rebuilt on open, restore and rollback): failed
// allocations and their replacements, so that the leader's job watch finds
// the failures to reschedule and the replacements in flight without reading
// every allocation each pass; and each allocation's client status, so that
// /metrics counts them without reading them.
#include <algorithm>

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

}  // namespace

void StateStore::NoteAllocationLocked(const v1::Allocation& a) {
  const v1::Allocation::ClientStatus status = Counted(a.client_status());
  auto [at, added] = alloc_status_.try_emplace(a.id(), status);
  if (!added) {
    --alloc_status_count_[at->second];
    at->second = status;
  }
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
  if (auto at = alloc_status_.find(a.id()); at != alloc_status_.end()) {
    --alloc_status_count_[at->second];
    alloc_status_.erase(at);
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
  alloc_status_.clear();
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
