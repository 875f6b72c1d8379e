// RaftLog: the node's view of the replicated log, the persisted part
// (Storage) followed by the unstable tail, plus the committed and applied
// cursors. Invariant: applied <= committed <= LastIndex().
// Thread-safety: none; owned by one Raft instance.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "master/raft/log_unstable.h"
#include "master/raft/storage.h"

namespace orch::raft {

class RaftLog {
 public:
  // storage must outlive the log. max_next_ents_size bounds the committed
  // entries handed out for application in one Ready.
  RaftLog(const Storage* storage, uint64_t max_next_ents_size);

  // Appends ents after checking that our entry at `index` has `log_term`
  // (the log matching check of AppendEntries). Returns the last index of the
  // new entries, or nullopt if the check failed.
  std::optional<uint64_t> MaybeAppend(uint64_t index, uint64_t log_term, uint64_t committed,
                                      const std::vector<Entry>& ents);
  // Appends unconditionally, truncating any conflicting suffix.
  // REQUIRES: ents[0].index()-1 >= committed (never rewrite committed data).
  uint64_t Append(const std::vector<Entry>& ents);
  // Index of the first entry in ents that conflicts with (or extends) the
  // log, or 0 if all of them are already present.
  uint64_t FindConflict(const std::vector<Entry>& ents) const;
  // The largest index <= index whose term is <= term, with its term. Used
  // to skip a whole term of mismatching entries in one round trip.
  std::pair<uint64_t, uint64_t> FindConflictByTerm(uint64_t index, uint64_t term) const;

  std::vector<Entry> UnstableEntries() const { return unstable_.entries(); }
  bool HasUnstableEntries() const { return !unstable_.entries().empty(); }
  // Committed entries not yet applied, bounded by max_next_ents_size.
  std::vector<Entry> NextEntries() const;
  bool HasNextEntries() const;
  bool HasPendingSnapshot() const { return unstable_.snapshot().has_value(); }
  Result<Snapshot> GetSnapshot() const;

  uint64_t FirstIndex() const;
  uint64_t LastIndex() const;
  uint64_t LastTerm() const;
  // Term of entry i; 0 (with kOk) outside [FirstIndex()-1, LastIndex()].
  Result<uint64_t> Term(uint64_t i) const;
  bool MatchTerm(uint64_t i, uint64_t term) const;
  // Is a log ending at (lasti, term) at least as up to date as ours?
  bool IsUpToDate(uint64_t lasti, uint64_t term) const;

  // Entries from i to the end, at most max_bytes (at least one).
  Result<std::vector<Entry>> Entries(uint64_t i, uint64_t max_bytes) const;
  // Entries [lo, hi). kCompacted if lo < FirstIndex().
  // REQUIRES: hi <= LastIndex()+1.
  Result<std::vector<Entry>> Slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;
  std::vector<Entry> AllEntries() const;

  // REQUIRES: to_commit <= LastIndex().
  void CommitTo(uint64_t to_commit);
  // Commits max_index if it is in `term`: a leader only commits entries of
  // its own term by counting replicas (Raft paper 5.4.2).
  bool MaybeCommit(uint64_t max_index, uint64_t term);
  void AppliedTo(uint64_t i);
  void StableTo(uint64_t i, uint64_t t) { unstable_.StableTo(i, t); }
  void StableSnapTo(uint64_t i) { unstable_.StableSnapTo(i); }
  void Restore(const Snapshot& s);

  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }
  const Storage& storage() const { return *storage_; }

 private:
  const Storage* storage_;
  Unstable unstable_;
  uint64_t committed_;
  uint64_t applied_;
  uint64_t max_next_ents_size_;
};

}  // namespace orch::raft
