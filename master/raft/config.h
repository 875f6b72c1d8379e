// Config: the parameters of one Raft node. Everything that makes a run
// differ (the election jitter) derives from `seed`, so a run is replayable.
// Thread-safety: plain value.
#pragma once

#include <cstdint>
#include <vector>

#include "master/raft/error.h"
#include "master/raft/storage.h"

namespace orch::raft {

struct Config {
  uint64_t id = 0;  // must be non-zero
  // Ticks without hearing from a leader before campaigning; the actual
  // timeout is drawn from [election_tick, 2*election_tick).
  int election_tick = 10;
  // Ticks between leader heartbeats. REQUIRES: < election_tick.
  int heartbeat_tick = 1;
  // Not owned; must outlive the node. Holds the persisted log.
  const Storage* storage = nullptr;
  // The last index the application has applied (for restarts); entries up
  // to it are not handed out again. REQUIRES: 0, or between the storage's
  // snapshot index and its hard state's commit.
  uint64_t applied = 0;
  // Byte budget of one MsgApp (at least one entry is always sent).
  uint64_t max_size_per_msg = 1 << 20;
  // Byte budget of the committed entries of one Ready.
  uint64_t max_committed_size_per_ready = kNoLimit;
  // The leader drops proposals once this many bytes are uncommitted
  // (0 = unlimited), bounding memory if followers are unreachable.
  uint64_t max_uncommitted_entries_size = 0;
  // Max unacknowledged MsgApp per follower in Replicate state.
  int max_inflight_msgs = 256;
  // Max unacknowledged bytes per follower (0 = unlimited).
  uint64_t max_inflight_bytes = 0;
  // A leader steps down if a quorum was not active within an election
  // timeout; followers with a live leader ignore vote requests.
  bool check_quorum = false;
  // Campaign only after a pre-vote round shows a majority would vote, so a
  // rejoining partitioned node cannot force a term bump.
  bool pre_vote = false;
  // Followers drop proposals instead of forwarding them to the leader.
  bool disable_proposal_forwarding = false;
  // Seeds the node's PRNG (mixed with id so peers differ).
  uint64_t seed = 0;
  // Initial membership when the storage has none (a new cluster). Ignored
  // when the storage's ConfState is non-empty.
  std::vector<uint64_t> peers;
  std::vector<uint64_t> learners;

  Error Validate() const {
    if (id == 0 || storage == nullptr || heartbeat_tick <= 0 || election_tick <= heartbeat_tick ||
        max_inflight_msgs <= 0 || max_size_per_msg == 0) {
      return Error::kInvalidConfig;
    }
    return Error::kOk;
  }
};

}  // namespace orch::raft
