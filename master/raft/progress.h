// Progress: the leader's view of one follower's log. In Probe state the
// leader sends one MsgApp per heartbeat interval until it finds where the
// logs match; in Replicate state it streams entries optimistically, bounded
// by Inflights; in Snapshot state it waits for a snapshot to be installed.
// Thread-safety: none; owned by the leader's Raft instance.
#pragma once

#include <cstdint>
#include <string>

#include "master/raft/inflights.h"

namespace orch::raft {

enum class ProgressState { kProbe, kReplicate, kSnapshot };
const char* ProgressStateName(ProgressState s);

class Progress {
 public:
  Progress(uint64_t next, size_t max_inflight, uint64_t max_inflight_bytes, bool is_learner)
      : next(next), is_learner(is_learner), inflights(max_inflight, max_inflight_bytes) {}

  void BecomeProbe();
  void BecomeReplicate();
  void BecomeSnapshot(uint64_t snapshot_index);
  // A MsgAppResp acknowledged index n. Returns false if it was stale.
  bool MaybeUpdate(uint64_t n);
  // Entries up to n were just sent (Replicate state pipelining).
  void OptimisticUpdate(uint64_t n) { next = n + 1; }
  // A MsgApp at `rejected` was refused; match_hint is the follower's
  // suggestion of where to retry. Returns false if the rejection is stale.
  bool MaybeDecrTo(uint64_t rejected, uint64_t match_hint);
  // Should the leader hold back MsgApp to this follower?
  bool IsPaused() const;
  std::string ToString() const;

  uint64_t match = 0;
  uint64_t next;
  ProgressState state = ProgressState::kProbe;
  // In Snapshot state: the index of the snapshot being sent.
  uint64_t pending_snapshot = 0;
  // Heard from since the last check-quorum round.
  bool recent_active = false;
  // In Probe state: a MsgApp is outstanding, wait for a reply or heartbeat.
  bool probe_sent = false;
  bool is_learner;
  Inflights inflights;
};

}  // namespace orch::raft
