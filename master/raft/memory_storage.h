// MemoryStorage: an in-memory Storage for tests and the simulator. Its
// content stands for "what is on disk": a simulated crash keeps exactly the
// MemoryStorage and drops everything else.
// Thread-safety: none; one owner (the driver) reads and writes it.
#pragma once

#include <cstdint>
#include <vector>

#include "master/raft/storage.h"

namespace orch::raft {

class MemoryStorage : public Storage {
 public:
  MemoryStorage();

  InitialState GetInitialState() const override;
  Result<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi, uint64_t max_bytes) const override;
  Result<uint64_t> Term(uint64_t i) const override;
  uint64_t FirstIndex() const override;
  uint64_t LastIndex() const override;
  Result<Snapshot> GetSnapshot() const override;

  void SetHardState(const HardState& hs) { hard_state_ = hs; }
  const HardState& hard_state() const { return hard_state_; }

  // Replaces the whole content with snap (a follower installing a snapshot
  // sent by the leader). kSnapOutOfDate if snap is not newer.
  Error ApplySnapshot(const Snapshot& snap);
  // Records a snapshot of the state machine as of applied index i, so the
  // log before it may be compacted. kSnapOutOfDate if i is not newer.
  // REQUIRES: i <= LastIndex().
  Result<Snapshot> CreateSnapshot(uint64_t i, const ConfState* cs, std::string data);
  // Drops entries before compact_index. kCompacted if already gone.
  // REQUIRES: compact_index <= LastIndex().
  Error Compact(uint64_t compact_index);
  // Appends entries, replacing any existing suffix they conflict with.
  // REQUIRES: entries are contiguous and leave no gap after LastIndex().
  Error Append(const std::vector<Entry>& entries);

 private:
  uint64_t offset() const { return ents_[0].index(); }

  HardState hard_state_;
  Snapshot snapshot_;
  // ents_[0] is a dummy holding the index and term of the last compacted
  // entry (the snapshot's), so Term(FirstIndex()-1) can be answered.
  std::vector<Entry> ents_;
};

}  // namespace orch::raft
