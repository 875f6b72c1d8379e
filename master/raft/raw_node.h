// RawNode: the driver-facing API of the Raft core. The driver feeds inputs
// (Tick, Step, Propose, ...) and repeatedly handles a Ready:
//   1. persist hard_state, entries and snapshot (durably);
//   2. then send messages (never before step 1: a vote or an ack must not
//      leave before what it promises is on disk);
//   3. apply committed_entries (call ApplyConfChange for conf changes) and
//      serve read_states once their index is applied;
//   4. call Advance(ready).
// Thread-safety: none; a single thread (or strand) owns a RawNode.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "master/raft/raft.h"

namespace orch::raft {

struct SoftState {
  uint64_t lead = kNone;
  StateType state = StateType::kFollower;
  bool operator==(const SoftState&) const = default;
};

struct Ready {
  // Volatile state, for observers (who leads now); set when it changed.
  std::optional<SoftState> soft_state;
  // Set when it changed; persist before sending messages.
  std::optional<HardState> hard_state;
  std::vector<ReadState> read_states;
  // To append to stable storage before sending messages.
  std::vector<Entry> entries;
  // A snapshot from the leader to install in storage (and the state
  // machine) before anything else.
  std::optional<Snapshot> snapshot;
  // Committed, to apply to the state machine (already persisted, or part of
  // `entries` of this very Ready).
  std::vector<Entry> committed_entries;
  // To send after persisting. A MsgSnap's outcome should be reported back
  // with ReportSnapshot.
  std::vector<Message> messages;
  // Whether entries/hard_state must be fsynced (vs. only written).
  bool must_sync = false;
};

struct Status {
  uint64_t id = 0;
  HardState hard_state;
  SoftState soft_state;
  uint64_t applied = 0;
  // Leader only: per-follower progress, as text for debugging.
  std::vector<std::pair<uint64_t, std::string>> progress;
};

class RawNode {
 public:
  // kInvalidConfig if the config is unusable.
  static Result<std::unique_ptr<RawNode>> Create(const Config& c);
  RawNode(const RawNode&) = delete;
  RawNode& operator=(const RawNode&) = delete;

  void Tick() { raft_.Tick(); }
  // Starts an election now (e.g. to bootstrap faster than a timeout).
  Error Campaign();
  // kProposalDropped if there is no leader to take it (or forwarding is
  // disabled), a transfer is in progress, or the node was removed.
  Error Propose(std::string data);
  // kConfChangePending if this node leads and a change is still unapplied.
  Error ProposeConfChange(const ConfChange& cc);
  // Call when a CONF_CHANGE entry is applied; returns the new membership
  // (to store with the next snapshot).
  ConfState ApplyConfChange(const ConfChange& cc) { return raft_.ApplyConfChange(cc); }
  // Feeds a message received from a peer. Local-only types are refused.
  Error Step(const Message& m);
  // Asks for a linearizable read: a ReadState with ctx comes back in a
  // later Ready (no answer if leadership is lost meanwhile; retry).
  Error ReadIndex(std::string ctx);
  // Asks the leader to hand leadership to transferee.
  void TransferLeader(uint64_t transferee);
  void ReportUnreachable(uint64_t id);
  void ReportSnapshot(uint64_t id, bool ok);
  // See Raft::ForgetLeader.
  void ForgetLeader() { raft_.ForgetLeader(); }

  bool HasReady() const;
  Ready GetReady();
  void Advance(const Ready& rd);
  Status GetStatus() const;

  Raft& raft() { return raft_; }
  const Raft& raft() const { return raft_; }

 private:
  explicit RawNode(const Config& c);
  SoftState CurrentSoftState() const { return {raft_.lead(), raft_.state()}; }

  Raft raft_;
  SoftState prev_soft_;
  HardState prev_hard_;
};

bool IsLocalMessage(Message::Type t);
bool IsResponseMessage(Message::Type t);
bool IsEmptyHardState(const HardState& hs);
bool HardStateEqual(const HardState& a, const HardState& b);

}  // namespace orch::raft
