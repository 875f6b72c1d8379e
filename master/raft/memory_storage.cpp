#include "master/raft/memory_storage.h"

#include <algorithm>

namespace orch::raft {

void LimitSize(std::vector<Entry>* ents, uint64_t max_bytes) {
  if (ents->empty() || max_bytes == kNoLimit) return;
  uint64_t size = EntrySize((*ents)[0]);
  size_t limit = 1;
  for (; limit < ents->size(); ++limit) {
    size += EntrySize((*ents)[limit]);
    if (size > max_bytes) break;
  }
  ents->resize(limit);
}

MemoryStorage::MemoryStorage() : ents_(1) {}

InitialState MemoryStorage::GetInitialState() const {
  return InitialState{hard_state_, snapshot_.metadata().conf_state()};
}

Result<std::vector<Entry>> MemoryStorage::Entries(uint64_t lo, uint64_t hi,
                                                  uint64_t max_bytes) const {
  if (lo <= offset()) return Error::kCompacted;
  if (hi > LastIndex() + 1) return Error::kUnavailable;
  if (ents_.size() == 1) return Error::kUnavailable;  // only the dummy
  std::vector<Entry> out(ents_.begin() + (lo - offset()), ents_.begin() + (hi - offset()));
  LimitSize(&out, max_bytes);
  return out;
}

Result<uint64_t> MemoryStorage::Term(uint64_t i) const {
  if (i < offset()) return Error::kCompacted;
  if (i - offset() >= ents_.size()) return Error::kUnavailable;
  return ents_[i - offset()].term();
}

uint64_t MemoryStorage::FirstIndex() const { return offset() + 1; }

uint64_t MemoryStorage::LastIndex() const { return offset() + ents_.size() - 1; }

Result<Snapshot> MemoryStorage::GetSnapshot() const { return snapshot_; }

Error MemoryStorage::ApplySnapshot(const Snapshot& snap) {
  if (snapshot_.metadata().index() >= snap.metadata().index()) {
    return Error::kSnapOutOfDate;
  }
  snapshot_ = snap;
  ents_.assign(1, Entry());
  ents_[0].set_index(snap.metadata().index());
  ents_[0].set_term(snap.metadata().term());
  return Error::kOk;
}

Result<Snapshot> MemoryStorage::CreateSnapshot(uint64_t i, const ConfState* cs, std::string data) {
  if (i <= snapshot_.metadata().index()) return Error::kSnapOutOfDate;
  RAFT_CHECK(i <= LastIndex());
  auto* md = snapshot_.mutable_metadata();
  md->set_index(i);
  md->set_term(ents_[i - offset()].term());
  if (cs != nullptr) *md->mutable_conf_state() = *cs;
  snapshot_.set_data(std::move(data));
  return snapshot_;
}

Error MemoryStorage::Compact(uint64_t compact_index) {
  if (compact_index <= offset()) return Error::kCompacted;
  RAFT_CHECK(compact_index <= LastIndex());
  const size_t i = compact_index - offset();
  std::vector<Entry> next;
  next.reserve(ents_.size() - i);
  Entry dummy;
  dummy.set_index(ents_[i].index());
  dummy.set_term(ents_[i].term());
  next.push_back(std::move(dummy));
  for (size_t k = i + 1; k < ents_.size(); ++k) {
    next.push_back(std::move(ents_[k]));
  }
  ents_ = std::move(next);
  return Error::kOk;
}

Error MemoryStorage::Append(const std::vector<Entry>& entries) {
  if (entries.empty()) return Error::kOk;
  const uint64_t first = FirstIndex();
  const uint64_t last = entries[0].index() + entries.size() - 1;
  if (last < first) return Error::kOk;  // all already compacted
  // Skip the part that is already compacted.
  size_t skip = first > entries[0].index() ? first - entries[0].index() : 0;
  const uint64_t start = entries[skip].index();
  RAFT_CHECK(start <= LastIndex() + 1);  // no gap
  ents_.resize(start - offset());        // drop a conflicting suffix
  ents_.insert(ents_.end(), entries.begin() + skip, entries.end());
  return Error::kOk;
}

}  // namespace orch::raft
