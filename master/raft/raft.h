// Raft: the consensus state machine of one node (roles, election,
// replication, snapshots, ReadIndex, membership, leadership transfer).
// Pure and deterministic: inputs are Tick() and Step(); outputs accumulate
// in messages_ / read_states_ and in the RaftLog's unstable part, which
// RawNode turns into a Ready. No clocks, threads, I/O or global randomness.
// Thread-safety: none; one owner thread (or strand) drives it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "master/raft/config.h"
#include "master/raft/log.h"
#include "master/raft/progress.h"
#include "master/raft/quorum.h"
#include "master/raft/read_only.h"

namespace orch::raft {

enum class StateType { kFollower, kCandidate, kLeader, kPreCandidate };
const char* StateName(StateType s);

// A ReadIndex request whose index is now safe to read at: once the
// application has applied `index`, it may answer the request `request_ctx`.
struct ReadState {
  uint64_t index = 0;
  std::string request_ctx;
};

inline constexpr uint64_t kNone = 0;
// Context of a vote request sent because of MsgTimeoutNow; voters then
// ignore their leader lease (the old leader asked for it).
inline constexpr const char* kCampaignTransfer = "CampaignTransfer";

class Raft {
 public:
  // REQUIRES: c.Validate() == kOk.
  explicit Raft(const Config& c);
  Raft(const Raft&) = delete;
  Raft& operator=(const Raft&) = delete;

  void Tick();
  // Feeds one message, local (term 0: MsgHup, MsgProp, MsgBeat, ...) or
  // from a peer. Returns kProposalDropped for proposals that cannot be
  // accepted; other errors only for misuse.
  Error Step(Message m);
  // A follower told by a side channel that its leader is gone (the driver's
  // transport found nothing listening where the leader was) forgets it, as
  // etcd's ForgetLeader: as a leaderless follower it grants pre-votes at
  // once (no lease to protect), and it campaigns after a short wait (1
  // tick, plus 2 for each voter but the gone leader with a lower id, so
  // that followers that all saw the leader go take turns instead of
  // splitting the vote) instead of a whole election timeout. Hearing from a
  // leader again makes it an ordinary follower. No effect on a leader, a
  // candidate, or a follower without a leader.
  void ForgetLeader();
  // Applies a committed conf change; call when its entry is applied.
  ConfState ApplyConfChange(const ConfChange& cc);
  // True if an unapplied conf change is in the leader's log.
  bool HasPendingConfChange() const { return pending_conf_index_ > log_.applied(); }

  // Entries were committed (and handed out to apply): they no longer count
  // against max_uncommitted_entries_size.
  void ReduceUncommittedSize(const std::vector<Entry>& committed);

  // The membership right now.
  ConfState GetConfState() const;
  std::set<uint64_t> Voters() const;

  // Output queues, drained by RawNode.
  std::vector<Message> TakeMessages();
  std::vector<ReadState> TakeReadStates();
  const std::vector<Message>& messages() const { return messages_; }
  const std::vector<ReadState>& read_states() const { return read_states_; }

  HardState GetHardState() const;
  uint64_t id() const { return id_; }
  uint64_t term() const { return term_; }
  uint64_t vote() const { return vote_; }
  uint64_t lead() const { return lead_; }
  StateType state() const { return state_; }
  uint64_t lead_transferee() const { return lead_transferee_; }
  bool is_learner() const;
  RaftLog& log() { return log_; }
  const RaftLog& log() const { return log_; }
  const std::map<uint64_t, Progress>& progress() const { return prs_; }
  Progress* progress(uint64_t id);
  int randomized_election_timeout() const { return randomized_election_timeout_; }
  int election_elapsed() const { return election_elapsed_; }
  size_t pending_read_count() const { return read_only_.PendingCount(); }

  // Role changes; public so tests can set up a scenario directly.
  void BecomeFollower(uint64_t term, uint64_t lead);
  void BecomeCandidate();
  void BecomePreCandidate();
  void BecomeLeader();

 private:
  enum class CampaignType { kPreElection, kElection, kTransfer };

  // raft.cpp: roles, ticks, term handling, elections.
  void Reset(uint64_t term);
  void ResetRandomizedElectionTimeout();
  void TickElection();
  void TickHeartbeat();
  bool Promotable() const;
  bool PastElectionTimeout() const { return election_elapsed_ >= randomized_election_timeout_; }
  void Hup(CampaignType t);
  void Campaign(CampaignType t);
  VoteResult Poll(uint64_t id, bool granted);
  void HandleVoteRequest(const Message& m);
  Error StepFollower(Message m);
  Error StepCandidate(Message m);
  void Send(Message m);

  // raft_leader.cpp: what only a leader does.
  Error StepLeader(Message m);
  void HandleAppendResponse(const Message& m, Progress* pr);
  void HandleHeartbeatResponse(const Message& m, Progress* pr);
  void HandleTransferLeader(const Message& m, Progress* pr);
  void HandleReadIndex(const Message& m);
  void SendReadIndexResponse(const ReadIndexStatus& rs);
  bool CommittedEntryInCurrentTerm() const;
  void ReleasePendingReadIndexMessages();
  bool AppendEntry(std::vector<Entry> es);
  bool MaybeCommit();
  bool QuorumActive() const;

  // raft_replication.cpp: sending and receiving the log.
  void SendAppend(uint64_t to) { MaybeSendAppend(to, true); }
  bool MaybeSendAppend(uint64_t to, bool send_if_empty);
  void BcastAppend();
  void SendHeartbeat(uint64_t to, const std::string& ctx);
  void BcastHeartbeat();
  void BcastHeartbeatWithCtx(const std::string& ctx);
  void SendTimeoutNow(uint64_t to);
  void HandleAppendEntries(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleSnapshot(const Message& m);
  bool Restore(const Snapshot& s);

  // raft_conf.cpp: membership.
  void ApplyInitialConf(const ConfState& cs);
  void AddNode(uint64_t id, bool learner);
  void RemoveNode(uint64_t id);
  void AbortLeaderTransfer() { lead_transferee_ = kNone; }
  Progress MakeProgress(bool learner) const;

  const uint64_t id_;
  const Config cfg_;
  uint64_t term_ = 0;
  uint64_t vote_ = kNone;
  RaftLog log_;
  std::map<uint64_t, Progress> prs_;  // ordered: deterministic iteration
  StateType state_ = StateType::kFollower;
  std::map<uint64_t, bool> votes_;
  std::vector<Message> messages_;
  std::vector<ReadState> read_states_;
  uint64_t lead_ = kNone;
  uint64_t lead_transferee_ = kNone;
  // Index of the latest conf change entry the leader appended; no new one
  // is accepted until it is applied (one change at a time).
  uint64_t pending_conf_index_ = 0;
  uint64_t uncommitted_size_ = 0;
  ReadOnly read_only_;
  // ReadIndex requests received before the leader committed an entry of
  // its term: the commit index is not known to be current until then.
  std::vector<Message> pending_read_index_messages_;
  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace orch::raft
