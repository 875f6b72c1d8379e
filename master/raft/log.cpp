#include "master/raft/log.h"

#include <algorithm>

namespace orch::raft {

RaftLog::RaftLog(const Storage* storage, uint64_t max_next_ents_size)
    : storage_(storage),
      unstable_(storage->LastIndex() + 1),
      committed_(storage->FirstIndex() - 1),
      applied_(storage->FirstIndex() - 1),
      max_next_ents_size_(max_next_ents_size) {}

std::optional<uint64_t> RaftLog::MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                             const std::vector<Entry>& ents) {
  // Term() answers 0 past the log, so "matches term 0" is no proof the
  // entry exists: an index past our log never matches (found by the
  // raft_frame fuzzer: an append at index 2^40 with log term 0 committed
  // past the log and aborted).
  if (index > LastIndex() || !MatchTerm(index, log_term)) return std::nullopt;
  const uint64_t last_new = index + ents.size();
  const uint64_t ci = FindConflict(ents);
  if (ci != 0) {
    // A conflict inside the committed prefix would mean two different
    // committed entries at one index: no correct leader sends that, so it
    // is refused (the sender gets a rejection) rather than applied.
    if (ci <= committed_) return std::nullopt;
    const uint64_t offset = index + 1;
    Append(std::vector<Entry>(ents.begin() + (ci - offset), ents.end()));
  }
  CommitTo(std::min({committed, last_new, LastIndex()}));
  return last_new;
}

uint64_t RaftLog::Append(const std::vector<Entry>& ents) {
  if (ents.empty()) return LastIndex();
  RAFT_CHECK(ents[0].index() - 1 >= committed_);
  unstable_.TruncateAndAppend(ents);
  return LastIndex();
}

uint64_t RaftLog::FindConflict(const std::vector<Entry>& ents) const {
  for (const auto& e : ents) {
    if (!MatchTerm(e.index(), e.term())) return e.index();
  }
  return 0;
}

std::pair<uint64_t, uint64_t> RaftLog::FindConflictByTerm(uint64_t index, uint64_t term) const {
  for (;;) {
    auto t = Term(index);
    if (!t.ok() || t.value <= term) return {index, t.ok() ? t.value : 0};
    --index;
  }
}

std::vector<Entry> RaftLog::NextEntries() const {
  const uint64_t off = std::max(applied_ + 1, FirstIndex());
  if (committed_ + 1 <= off) return {};
  auto r = Slice(off, committed_ + 1, max_next_ents_size_);
  RAFT_CHECK(r.ok());  // unapplied committed entries must never be compacted
  return std::move(r.value);
}

bool RaftLog::HasNextEntries() const {
  return committed_ + 1 > std::max(applied_ + 1, FirstIndex());
}

Result<Snapshot> RaftLog::GetSnapshot() const {
  if (unstable_.snapshot()) return *unstable_.snapshot();
  return storage_->GetSnapshot();
}

uint64_t RaftLog::FirstIndex() const {
  if (auto i = unstable_.MaybeFirstIndex()) return *i;
  return storage_->FirstIndex();
}

uint64_t RaftLog::LastIndex() const {
  if (auto i = unstable_.MaybeLastIndex()) return *i;
  return storage_->LastIndex();
}

uint64_t RaftLog::LastTerm() const {
  auto t = Term(LastIndex());
  RAFT_CHECK(t.ok());
  return t.value;
}

Result<uint64_t> RaftLog::Term(uint64_t i) const {
  const uint64_t dummy = FirstIndex() - 1;
  if (i < dummy || i > LastIndex()) return uint64_t{0};
  if (auto t = unstable_.MaybeTerm(i)) return *t;
  return storage_->Term(i);
}

bool RaftLog::MatchTerm(uint64_t i, uint64_t term) const {
  // Term() answers 0 outside [FirstIndex()-1, LastIndex()]; nothing we do not
  // hold can match (a forged snapshot of term 0 past our log once did).
  if (i + 1 < FirstIndex() || i > LastIndex()) return false;
  auto t = Term(i);
  return t.ok() && t.value == term;
}

bool RaftLog::IsUpToDate(uint64_t lasti, uint64_t term) const {
  return term > LastTerm() || (term == LastTerm() && lasti >= LastIndex());
}

Result<std::vector<Entry>> RaftLog::Entries(uint64_t i, uint64_t max_bytes) const {
  if (i > LastIndex()) return std::vector<Entry>{};
  return Slice(i, LastIndex() + 1, max_bytes);
}

Result<std::vector<Entry>> RaftLog::Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const {
  RAFT_CHECK(lo <= hi);
  if (lo < FirstIndex()) return Error::kCompacted;
  RAFT_CHECK(hi <= LastIndex() + 1);
  if (lo == hi) return std::vector<Entry>{};
  std::vector<Entry> out;
  const uint64_t off = unstable_.offset();
  if (lo < off) {
    auto stored = storage_->Entries(lo, std::min(hi, off), max_bytes);
    if (stored.error == Error::kCompacted) return Error::kCompacted;
    RAFT_CHECK(stored.ok());
    out = std::move(stored.value);
    // Storage stopped early because of the byte limit: do not go on.
    if (out.size() < std::min(hi, off) - lo) return out;
  }
  if (hi > off) {
    auto tail = unstable_.Slice(std::max(lo, off), hi);
    out.insert(out.end(), tail.begin(), tail.end());
  }
  LimitSize(&out, max_bytes);
  return out;
}

std::vector<Entry> RaftLog::AllEntries() const {
  for (;;) {
    auto r = Entries(FirstIndex(), kNoLimit);
    if (r.ok()) return std::move(r.value);
    RAFT_CHECK(r.error == Error::kCompacted);  // raced with compaction: retry
  }
}

void RaftLog::CommitTo(uint64_t to_commit) {
  if (committed_ >= to_commit) return;  // never decrease
  RAFT_CHECK(to_commit <= LastIndex());
  committed_ = to_commit;
}

bool RaftLog::MaybeCommit(uint64_t max_index, uint64_t term) {
  if (max_index <= committed_) return false;
  auto t = Term(max_index);
  if (t.error == Error::kCompacted) t.value = 0;
  if (t.value != term) return false;
  CommitTo(max_index);
  return true;
}

void RaftLog::AppliedTo(uint64_t i) {
  if (i == 0) return;
  RAFT_CHECK(committed_ >= i && i >= applied_);
  applied_ = i;
}

void RaftLog::Restore(const Snapshot& s) {
  committed_ = s.metadata().index();
  unstable_.Restore(s);
}

}  // namespace orch::raft
