// Unstable: the tail of the Raft log (and possibly an incoming snapshot)
// that the core has accepted but the driver has not yet persisted. It is
// handed out in Ready and dropped here once Advance says it is stable.
// Thread-safety: none; owned by one RaftLog.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "master/raft/storage.h"

namespace orch::raft {

class Unstable {
 public:
  explicit Unstable(uint64_t offset) : offset_(offset) {}

  // Index of the first entry after a pending snapshot, if there is one.
  std::optional<uint64_t> MaybeFirstIndex() const;
  std::optional<uint64_t> MaybeLastIndex() const;
  std::optional<uint64_t> MaybeTerm(uint64_t i) const;

  // Entries up to (i, t) were persisted. Ignored if the entry at i was
  // replaced meanwhile (its term differs), since the new one is not durable.
  void StableTo(uint64_t i, uint64_t t);
  void StableSnapTo(uint64_t i);
  void Restore(const Snapshot& s);
  // REQUIRES: ents non-empty and starting at or before LastIndex()+1.
  void TruncateAndAppend(const std::vector<Entry>& ents);
  // Entries [lo, hi). REQUIRES: offset <= lo <= hi <= offset + size.
  std::vector<Entry> Slice(uint64_t lo, uint64_t hi) const;

  uint64_t offset() const { return offset_; }
  const std::vector<Entry>& entries() const { return entries_; }
  const std::optional<Snapshot>& snapshot() const { return snapshot_; }

 private:
  std::optional<Snapshot> snapshot_;
  std::vector<Entry> entries_;
  uint64_t offset_;  // index of entries_[0]
};

}  // namespace orch::raft
