// What a master checks of a snapshot received from the network before
// anything of it is saved: that the image is a sound SQLite database of
// ours (PRAGMA integrity_check), taken at the snapshot's index (its
// applied_index), and that its members table holds every voter and
// learner of the snapshot's configuration. A snapshot that fails is
// dropped; raft.db and state.db stay as they were.
// Thread safety: a pure function (its own in-memory connection).
#pragma once

#include <string>

#include "common/status.h"
#include "orch/v1/raft.pb.h"

namespace orch::master {

Status CheckSnapshotImage(const orch::v1::Snapshot& snapshot);

}  // namespace orch::master
