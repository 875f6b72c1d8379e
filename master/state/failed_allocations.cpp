// Failed allocations and their replacements, kept in memory with every
// allocation write and delete (and rebuilt on open, restore and rollback),
// so that the leader's job watch finds the failures to reschedule and the
// replacements in flight without reading every allocation each pass.
#include <algorithm>

#include "master/state/state_store.h"

namespace orch::master {

namespace {

bool FailedButWanted(const v1::Allocation& a) {
  return a.client_status() == v1::Allocation::FAILED && a.desired_status() == v1::Allocation::RUN;
}

}  // namespace

void StateStore::NoteAllocationLocked(const v1::Allocation& a) {
  if (FailedButWanted(a)) {
    failed_run_[a.id()] = a.job_id();
  } else {
    failed_run_.erase(a.id());
  }
  if (!a.previous_allocation().empty())
    replacement_of_[a.previous_allocation()] = {a.id(), a.job_id()};
}

void StateStore::ForgetAllocationLocked(const v1::Allocation& a) {
  failed_run_.erase(a.id());
  replacement_of_.erase(a.id());
  auto it = replacement_of_.find(a.previous_allocation());
  if (it != replacement_of_.end() && it->second.alloc_id == a.id()) replacement_of_.erase(it);
}

void StateStore::ForgetJobAllocationsLocked(const std::string& job_id) {
  std::erase_if(failed_run_, [&](const auto& kv) { return kv.second == job_id; });
  std::erase_if(replacement_of_, [&](const auto& kv) { return kv.second.job_id == job_id; });
}

void StateStore::RebuildAllocationBriefsLocked() {
  ++briefs_epoch_;  // the scheduling cache reads the tables again
  failed_run_.clear();
  replacement_of_.clear();
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
