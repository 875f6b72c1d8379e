// What a master checks of a snapshot received from the network before
// anything of it is saved: that the image is a sound SQLite database of
// ours (PRAGMA integrity_check), taken at the snapshot's index (its
// applied_index), and that its members table holds every voter and
// learner of the snapshot's configuration. A snapshot that fails is
// dropped; raft.db and state.db stay as they were.
// Thread safety: a pure function (its own in-memory connection).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "orch/v1/raft.pb.h"

namespace orch::replication {

Status CheckSnapshotImage(const orch::v1::Snapshot& snapshot);

// What an operator's state image (GET /v1/operator/snapshot) holds, once it
// proved a sound SQLite database of ours (the same checks, no members).
struct StateImageInfo {
  uint64_t applied_index = 0;  // the Raft index it was taken at
  uint64_t index = 0;          // its state index (StateStore::StateIndex)
  uint64_t size = 0;
  uint64_t jobs = 0, nodes = 0, allocations = 0, evaluations = 0, deployments = 0, acl_tokens = 0;
};
Result<StateImageInfo> CheckStateImage(const std::string& image);

}  // namespace orch::replication
