// RaftNode: the ReplicatedLog of a master in a Raft quorum. It owns the
// pure Raft core (RawNode) on one thread (its own, or the caller's through
// Pump() in a simulation) and drives its Ready loop: persist
// the log and hard state (SqliteStorage, raft.db), then send messages
// (Transport), then apply committed entries to the StateStore (state.db)
// and answer waiting proposals and reads.
//
// - Proposals carry a random request id; whichever master proposed one
//   finds its waiter when the entry applies, so followers' proposals (which
//   the core forwards to the leader) are acknowledged the same way.
// - Reads use ReadIndex: the leader confirms it still leads, then the read
//   waits until that index is applied locally.
// - Every `snapshot_entries` applied entries, state.db's image becomes a
//   Raft snapshot, once the log since the last one also holds as many
//   bytes as that one's image (less 1 MiB: small images are cheap). A
//   snapshot costs about its image's size, so snapshots then cost at most
//   about what the log writes, however large the state. The log before it
//   is compacted (keeping
//   `keep_entries` for followers that are only a little behind, and on the
//   leader what a follower being sent a snapshot needs after it:
//   raft::CompactionIndex).
// Thread safety: public methods are thread-safe; callbacks from the
// transport only enqueue.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "common/status.h"
#include "master/raft/raw_node.h"
#include "master/replication/member_directory.h"
#include "master/replication/replicated_log.h"
#include "master/replication/sqlite_storage.h"
#include "master/replication/state_machine.h"
#include "master/replication/transport.h"
#include "orch/v1/types.pb.h"

namespace orch::replication {

struct RaftNodeOptions {
  std::string member_id;     // "m1"
  std::string raft_address;  // this member's transport address
  std::string http_address;  // this member's REST address (announced to peers)
  // Founding voters (this member included) of a new cluster: id -> raft
  // address. Empty: start empty and wait to be added (--join).
  std::vector<std::pair<std::string, std::string>> initial_peers;
  std::chrono::milliseconds tick{50};
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  uint64_t snapshot_entries = 10000;
  uint64_t keep_entries = 5000;
  uint64_t seed = 0;  // 0: random (also seeds request ids, so a seeded node replays exactly)
  // false: no thread of its own; the owner drives the node with Pump() (a
  // deterministic simulation, tests/sim/driver_simulation.h).
  bool own_thread = true;
  // Where a snapshot's image is serialized and its file written, off the
  // Raft loop. Unset: a thread of the node's own. A simulation queues the
  // work and runs it when its schedule says so.
  std::function<void(std::function<void()>)> run_off_loop;
  // Committed entries of fewer bytes than this apply in the loop itself
  // when the apply thread is idle (small writes stay as quick as before:
  // handing them all to another thread cost a quarter of the REST write
  // rate at 256 clients); larger batches go to the apply thread. 0: all
  // do. An apply in the loop that took longer than inline_apply_budget
  // (agents' reports of many allocations on a busy machine took 500 ms)
  // sends every batch to the apply thread for the next 5 s.
  std::size_t inline_apply_bytes = 256 << 10;
  std::chrono::milliseconds inline_apply_budget{100};
  // A snapshot waits until the log since the last one holds as many bytes
  // as that one's image, less this (see the top of this file).
  uint64_t cheap_image_bytes = 1 << 20;
  // How long a background proposal (ProposeBackground: the leader's plans)
  // waits for another proposal to share its Ready, and so its disk write,
  // when it finds none queued. Each job submission commits one entry and
  // its plan another: sent alone, the plan took a disk write of its own on
  // every master, which the next submission waited behind (one client's
  // writes ran at half the rate). 0, or no thread of the node's own (a
  // deterministic simulation): no wait.
  std::chrono::microseconds background_linger{2000};
};

class RaftNode : public ReplicatedLog {
 public:
  // The largest command Propose takes: half the transport's frame limit.
  static constexpr std::size_t kMaxCommandBytes = 8 << 20;
  // PromoteMember refuses a learner further than this behind the leader.
  static constexpr uint64_t kMaxPromotionLag = 1000;
  // How the messages of NeverCommitted failures begin.
  static constexpr const char* kReplaced = "the write was not committed";
  static constexpr const char* kDropped = "proposal dropped";

  // Opens raft.db in `data_dir` (bootstrapping a new cluster from
  // initial_peers when it is empty) and brings `store` up to date with the
  // persisted snapshot. Does not start the loop: call Start().
  static Result<std::unique_ptr<RaftNode>> Open(const RaftNodeOptions& opts,
                                                const std::string& data_dir, StateMachine* store);
  ~RaftNode() override;

  // Members learned out of band (a new member asking an existing one, for
  // --join): their addresses, so this member can answer them before the
  // log has told it who they are. Call before Start().
  void AddKnownMembers(const std::vector<v1::Member>& members);

  // The cluster this master belongs to (raft/cluster_id.h): fixed at
  // bootstrap from the founders, adopted by a joining master, kept in
  // raft.db. 0 for a master still empty, or one whose data predates
  // cluster ids. Set before Start(); constant afterwards.
  uint64_t ClusterId() const { return cluster_id_; }
  // A joining master adopts the id of the cluster it joins (call before
  // Start). FailedPrecondition if this data dir belongs to another cluster.
  Status AdoptClusterId(uint64_t id);
  // Whether the data dir held nothing at Open: no log, no snapshot, no
  // cluster id (a new master, or one whose data dir was wiped).
  bool OpenedEmpty() const { return opened_empty_; }

  // Counts into `registry` (orch_raft_*: term, applied index, leader,
  // leader changes, proposals by outcome, commit and persist latency,
  // snapshots). Call before Start; the registry must outlive the log.
  void RegisterMetrics(metrics::Registry* registry);

  // The callbacks a Transport must call.
  Transport::Callbacks TransportCallbacks();
  // Starts the loop; `transport` must outlive the log.
  void Start(Transport* transport);

  // Without a thread of its own (own_thread false): one turn of the loop.
  // Steps the messages received, runs queued work, ticks the core when
  // `tick`, then persists, sends and applies every Ready. Not OK once the
  // node stopped because it cannot persist (it then does nothing more).
  Status Pump(bool tick);
  // Proposes without waiting: `done` gets the outcome and the entry's index
  // when it applies here (on the loop's thread, or at once when refused),
  // or Unavailable if this node stops first. It is never called when the
  // proposal is lost on the way to the leader: Abandon the returned ticket
  // (0 when `done` already ran) to stop waiting.
  using ProposeDone = std::function<void(Status, uint64_t)>;
  uint64_t ProposeAsync(const v1::Command& cmd, ProposeDone done);
  // A ReadIndex without waiting: `done` gets the index the read must see
  // applied (or an error). Same rules as ProposeAsync. Reads that arrive
  // while a round of the core's ReadIndex is out share the next round (as
  // etcd's server batches them): one heartbeat round confirms them all,
  // where one round each cost the leader a broadcast per read.
  uint64_t ReadIndexAsync(std::function<void(Result<uint64_t>)> done);
  // Rounds of the core's ReadIndex begun so far (each confirms a batch).
  uint64_t read_rounds() const { return read_rounds_.load(); }
  // Forgets a proposal or read still waiting; its `done` is not called.
  void Abandon(uint64_t ticket);
  // Whether a proposal's failure means it is not in any log and never will
  // be (dropped for want of a leader, or replaced at its index by another
  // leader's entry), rather than an unknown outcome (a timeout, a node
  // stopping). Clients may resubmit such a write without risk of doing it
  // twice.
  static bool NeverCommitted(const Status& status);

  // ReplicatedLog.
  Result<uint64_t> Propose(const v1::Command& cmd, std::chrono::milliseconds timeout) override;
  // Propose, after waiting up to background_linger for company.
  Result<uint64_t> ProposeBackground(const v1::Command& cmd,
                                     std::chrono::milliseconds timeout) override;
  // Background proposals waiting for company (tests).
  std::size_t lingering() const;
  // Holds no thread while it waits: `done` runs where the entry applies
  // (it must not block), or on the loop's tick past `timeout`.
  void ProposeThen(const v1::Command& cmd, std::chrono::milliseconds timeout,
                   ReplicatedLog::ProposeDone done) override;
  Status ReadBarrier(std::chrono::milliseconds timeout) override;
  bool IsLeader() const override;
  // Messages from the network dropped before the core: from a non-member,
  // or a snapshot whose image is not sound (tests, metrics).
  uint64_t refused_messages() const { return refused_msgs_.load(); }
  std::string LeaderId() const override;
  void Close() override;

  // Membership (the leader proposes; others answer Unavailable).
  Status AddMember(const v1::Member& member, bool learner, std::chrono::milliseconds timeout);
  Status PromoteMember(const std::string& id, std::chrono::milliseconds timeout);
  Status RemoveMember(const std::string& id, std::chrono::milliseconds timeout);
  Status TransferLeadership(const std::string& id, std::chrono::milliseconds timeout);
  // Members with role, and match index where this master leads.
  std::vector<v1::Member> Members() const;
  // The leader's REST address ("" when unknown), for forwarding writes.
  std::string LeaderHttpAddress() const;
  uint64_t Term() const { return term_.load(); }
  // The leader this master follows ("" when none) and the term it leads,
  // read together (the two atomics alone may pair one term's leader with
  // the next term).
  struct LeaderTerm {
    std::string leader_id;
    uint64_t term = 0;
  };
  LeaderTerm LeaderAndTerm() const;

 private:
  RaftNode(const RaftNodeOptions& opts, StateMachine* store);
  Status Init(const std::string& data_dir);
  void Loop();
  bool Admit(const v1::Message& m);
  Status HandleReady();
  Status ApplyEntries(const std::vector<raft::Entry>& entries);
  Status ApplyConfChangeEntry(const raft::Entry& e);
  // Entry `index` (carrying `request_id`, 0 for none) commits: a proposal
  // this node had appended there and that it is not can never commit.
  void FailReplacedProposals(uint64_t index, uint64_t request_id);
  Status MaybeSnapshot();
  // Large batches of committed entries are applied on a thread of their
  // own when the node has one (own_thread), as etcd's server applies:
  // applying a large entry (a plan of 10,000 placements takes seconds)
  // must not stop the loop from ticking, heartbeating and answering its
  // peers, or they elect another leader meanwhile. Entries go to it in
  // commit order; a small batch (inline_apply_bytes) applies in the loop
  // when nothing is queued and such applies have been quick; a membership
  // change, a snapshot to install or
  // to send waits until it has applied everything before (WaitApplied).
  // Without a thread of its own the node applies in the loop, as before
  // (deterministic).
  static constexpr std::chrono::seconds kInlineApplyPause{5};
  // Until then every batch goes to the apply thread (loop thread only).
  std::chrono::steady_clock::time_point inline_paused_until_;
  struct ApplyJob {
    std::vector<raft::Entry> entries;
    std::vector<raft::ReadState> reads;
    std::size_t bytes = 0;
  };
  void ApplyLoop();
  // Logs (at most once a second) a Ready that held the loop long enough
  // to risk an election, with what it persisted (loop thread).
  void NoteSlowReady(std::chrono::steady_clock::duration took);
  struct ReadyCost {
    std::chrono::steady_clock::duration persist{};
    std::size_t entries = 0, bytes = 0;
  };
  ReadyCost last_ready_;                                 // loop thread only
  std::chrono::steady_clock::time_point last_slow_log_;  // loop thread only
  // Applies `entries`, then answers `reads` (a read's index is committed,
  // hence applied, by then).
  Status ApplyAndAnswer(const std::vector<raft::Entry>& entries,
                        const std::vector<raft::ReadState>& reads);
  // Loop thread: blocks until the apply thread has applied every job
  // queued and holds none.
  void WaitApplied();
  bool ApplyIdle();
  // Records a snapshot written off the loop thread (loop thread).
  void FinishSnapshot(SqliteStorage::PendingSnapshot p, const Status& written, int64_t read_ms,
                      int64_t write_ms);
  void Complete(uint64_t request_id, Status status, uint64_t index);
  void FailAllWaiters(const Status& status);
  Status ProposeConfChangeAndWait(raft::ConfChange cc, const v1::Member& member,
                                  std::chrono::milliseconds timeout);
  Status ChangeExistingMember(const std::string& id, raft::ConfChange::Type type,
                              std::chrono::milliseconds timeout);
  void AnnounceHttpAddress();
  std::string NameOf(uint64_t raft_id) const;
  // A random id, never 0, for a proposal's waiter.
  uint64_t NewRequestId();
  // Fails every waiter and stops the node after an error persisting.
  void Stop(const Status& why);
  // Registers `done` as the waiter of request `id` and queues `propose`
  // (run on the loop thread); a closed node fails `done` at once. With
  // `give_up_after`, the waiter's deadline is set under the same lock. With
  // `linger`, `propose` waits for company in lingering_ when no task is
  // queued. The ticket: `id`, or 0 when `done` already ran.
  uint64_t Enqueue(uint64_t id, std::function<void()> propose, ProposeDone done,
                   std::optional<std::chrono::milliseconds> give_up_after = std::nullopt,
                   bool linger = false);
  // ProposeAsync, giving up at the first tick past `give_up_after` if set,
  // lingering (see Enqueue) if asked.
  uint64_t ProposeWithin(const v1::Command& cmd,
                         std::optional<std::chrono::milliseconds> give_up_after, ProposeDone done,
                         bool linger = false);
  // Runs `start` with a ProposeDone and waits up to `timeout` for it; on
  // timeout abandons the ticket `start` returned and gives nothing.
  std::optional<std::pair<Status, uint64_t>> Await(
      const std::function<uint64_t(ProposeDone)>& start, std::chrono::milliseconds timeout);

  struct Waiter {
    ProposeDone done;
    // When it gives up (ProposeThen), as its entry in deadlines_.
    std::optional<std::multimap<std::chrono::steady_clock::time_point, uint64_t>::iterator>
        deadline;
    std::chrono::milliseconds timeout{0};
  };
  // The reads one round of the core's ReadIndex answers: ticket, done.
  struct PendingRead {
    std::vector<std::pair<uint64_t, std::function<void(Result<uint64_t>)>>> reads;
  };

  RaftNodeOptions opts_;
  uint64_t raft_id_;
  uint64_t cluster_id_ = 0;
  bool opened_empty_ = false;
  StateMachine* store_;
  std::unique_ptr<SqliteStorage> storage_;
  std::unique_ptr<raft::RawNode> node_;  // loop thread only
  Transport* transport_ = nullptr;
  raft::ConfState conf_state_;  // loop thread only

  // Inputs to the loop, guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::Message> inbox_;
  std::deque<std::function<void()>> tasks_;  // run on the loop thread
  // Background proposals waiting for company: they join the next Pump's
  // tasks, once any task is queued or linger_until_ has passed.
  std::deque<std::function<void()>> lingering_;
  std::chrono::steady_clock::time_point linger_until_;
  std::map<uint64_t, std::shared_ptr<Waiter>> waiters_;
  // Waiters that give up at a deadline (mu_), soonest first: each tick
  // fails those past it (ExpireWaiters), looking at no other.
  std::multimap<std::chrono::steady_clock::time_point, uint64_t> deadlines_;
  void ExpireWaiters();
  // Removes waiter `id` and its deadline (mu_ held); null if none.
  std::shared_ptr<Waiter> TakeWaiterLocked(uint64_t id);
  std::map<std::string, std::shared_ptr<PendingRead>> reads_;  // by round
  // Reads waiting for the next round, and the round out (its context, ""
  // when none, and when it began: a round lost on the way to a leader
  // stops holding the next one back after kReadRoundPatience).
  PendingRead next_reads_;
  std::string read_round_;
  std::chrono::steady_clock::time_point read_round_began_;
  std::atomic<uint64_t> read_rounds_{0};
  // Starts a round with next_reads_ (mu_ held; the caller wakes the loop).
  void StartReadRoundLocked();
  // The same when reads wait and no round is out, or the one out is past
  // kReadRoundPatience; whether it started one.
  bool StartReadRoundIfDueLocked();
  // Proposals this node appended as leader: index -> request id (written
  // on the loop thread, read where entries apply). When another entry commits at that index (a new
  // leader replaced the entry), the proposal can never commit and its waiter is told so at once
  // instead of waiting out its timeout.
  std::map<uint64_t, uint64_t> proposed_at_;  // proposed_mu_
  std::mutex proposed_mu_;
  bool closed_ = false;
  // Members by name (thread-safe); its view is refreshed once a tick.
  MemberDirectory directory_;

  std::atomic<uint64_t> lead_{0};
  std::atomic<uint64_t> term_{0};
  std::atomic<bool> leader_{false};
  std::atomic<bool> announced_{false};
  std::atomic<uint64_t> refused_msgs_{0};
  std::chrono::steady_clock::time_point last_refusal_log_;  // loop thread only
  // The last entry applied (written where entries apply; the loop reads
  // it when the apply thread is idle).
  std::atomic<uint64_t> applied_{0};
  std::mutex apply_mu_;
  std::condition_variable apply_cv_;
  std::deque<ApplyJob> apply_queue_;    // apply_mu_
  std::size_t apply_queued_bytes_ = 0;  // apply_mu_
  bool applying_ = false;               // apply_mu_: the apply thread holds a job
  bool apply_stop_ = false;             // apply_mu_
  Status apply_error_;                  // apply_mu_: the first failure to apply
  std::thread apply_thread_;
  // snapshot_index_ + snapshot_entries, for the apply thread to tell the
  // loop a snapshot may be due.
  std::atomic<uint64_t> next_snapshot_at_{0};
  // The bytes of the entries applied since the node opened, and how many
  // must have applied before the next snapshot (see the top of this file).
  std::atomic<uint64_t> applied_bytes_{0};
  std::atomic<uint64_t> snapshot_due_bytes_{0};
  // Whether enough entries and bytes applied since the last snapshot.
  bool SnapshotDue() const;
  // After a snapshot of `image_bytes` begun when applied_bytes_ was `at`.
  void NoteSnapshotImage(uint64_t at, uint64_t image_bytes);
  uint64_t snapshot_index_ = 0;  // loop thread only: of the last snapshot taken or being written
  bool snapshot_in_flight_ = false;  // loop thread only
  std::thread snapshot_thread_;      // writes one snapshot file at a time
  // Metrics (RegisterMetrics; null until then).
  metrics::Counter* leader_changes_ = nullptr;
  metrics::Family<metrics::Counter>* proposals_ = nullptr;
  metrics::Histogram* commit_seconds_ = nullptr;
  metrics::Histogram* persist_seconds_ = nullptr;
  metrics::Counter* snapshots_ = nullptr;
  metrics::Gauge* snapshot_bytes_ = nullptr;
  metrics::Histogram* snapshot_seconds_ = nullptr;
  void CountProposal(const char* outcome, std::chrono::steady_clock::time_point started);
  Result<uint64_t> ProposeAndWait(const v1::Command& cmd, std::chrono::milliseconds timeout,
                                  bool linger = false);
  std::thread thread_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;  // request ids and read contexts (rng_mu_)
};

}  // namespace orch::replication
