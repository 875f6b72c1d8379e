// Storage: the read side of the durable Raft log that the core consults.
// The driver (not the core) writes to it after handling a Ready, so
// everything the core reads here is already persisted. Entries and the
// hard state are separate concerns on purpose (etcd left a TODO to split
// them); implementations decide how to keep them.
// Thread-safety: the core calls it from its single owning thread only;
// implementations need no locking unless the driver shares them.
#pragma once

#include <cstdint>
#include <vector>

#include "master/raft/error.h"
#include "orch/v1/raft.pb.h"

namespace orch::raft {

using orch::v1::ConfChange;
using orch::v1::ConfState;
using orch::v1::Entry;
using orch::v1::HardState;
using orch::v1::Message;
using orch::v1::Snapshot;

// Passed as max_bytes when there is no limit.
inline constexpr uint64_t kNoLimit = UINT64_MAX;

struct InitialState {
  HardState hard_state;
  ConfState conf_state;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // The persisted hard state and the membership as of the latest snapshot.
  virtual InitialState GetInitialState() const = 0;
  // Entries in [lo, hi), at most max_bytes in total but always at least one
  // entry when any is available. kCompacted if lo was compacted away,
  // kUnavailable if hi goes past the last index.
  virtual Result<std::vector<Entry>> Entries(uint64_t lo, uint64_t hi,
                                             uint64_t max_bytes) const = 0;
  // Term of entry i; valid for i in [FirstIndex()-1, LastIndex()]. The term
  // of FirstIndex()-1 comes from the snapshot so log matching still works.
  virtual Result<uint64_t> Term(uint64_t i) const = 0;
  // Index of the first entry still in the log (older ones are in the
  // snapshot).
  virtual uint64_t FirstIndex() const = 0;
  virtual uint64_t LastIndex() const = 0;
  // The most recent snapshot. kSnapshotTemporarilyUnavailable makes the
  // leader retry later.
  virtual Result<Snapshot> GetSnapshot() const = 0;
};

// Serialized size used for byte budgets (messages, inflight bytes).
inline uint64_t EntrySize(const Entry& e) { return e.ByteSizeLong(); }

// Keeps a prefix of ents whose total size is within max_bytes, but never
// drops the first entry: progress must be possible with one large entry.
void LimitSize(std::vector<Entry>* ents, uint64_t max_bytes);

}  // namespace orch::raft
