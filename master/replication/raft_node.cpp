#include "master/replication/raft_node.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "common/thread_priority.h"
#include "common/thread_name.h"
#include "master/raft/bootstrap.h"
#include "master/raft/cluster_id.h"
#include "master/raft/compaction.h"
#include "master/replication/snapshot_check.h"
#include "orch/v1/command.pb.h"

namespace orch::replication {
namespace {

using raft::ConfChange;
using raft::Entry;

// A round of ReadIndex out longer than this (lost on the way to a leader,
// or the leader gone) no longer holds back the reads behind it: they go in
// a round of their own. A round takes one heartbeat's round trip.
constexpr std::chrono::milliseconds kReadRoundPatience{1000};

uint64_t RandomU64() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng();
}

bool InConfig(const raft::ConfState& cs, uint64_t id) {
  return std::find(cs.voters().begin(), cs.voters().end(), id) != cs.voters().end() ||
         std::find(cs.learners().begin(), cs.learners().end(), id) != cs.learners().end();
}

// A MsgSnap the core built from the latest stored snapshot, for a member
// that snapshot's configuration does not name (added after it was taken):
// the member must refuse it, and would until enough entries made a newer
// one. As etcd does, the leader sends instead a snapshot of its state at the
// applied index, with the membership as it is now (stored, so later sends
// to it reuse it). An error leaves the message as it was.
Status RebuildSnapshotFor(v1::Message* m, StateMachine* store, SqliteStorage* storage,
                          uint64_t applied, const raft::ConfState& conf, uint64_t* snapshot_index) {
  if (InConfig(m->snapshot().metadata().conf_state(), m->to())) return Status::Ok();
  if (!InConfig(conf, m->to()) || applied <= *snapshot_index) {
    return Status::FailedPrecondition("no newer state to send than the stored snapshot");
  }
  ORCH_ASSIGN_OR_RETURN(std::string image, store->SerializeImage());
  ORCH_RETURN_IF_ERROR(storage->CreateSnapshot(applied, conf, std::move(image)));
  *snapshot_index = applied;
  auto snap = storage->GetSnapshot();
  if (!snap.ok()) return Status::Internal("the snapshot just taken cannot be read back");
  *m->mutable_snapshot() = std::move(snap.value);
  return Status::Ok();
}

// The orch_raft_proposals_total outcome of a proposal's status.
const char* ProposalOutcome(const Status& st) {
  return st.ok()                                      ? "ok"
         : st.code() == StatusCode::kUnavailable      ? "unavailable"
         : st.code() == StatusCode::kDeadlineExceeded ? "timeout"
         : st.code() == StatusCode::kInvalidArgument  ? "invalid"
                                                      : "refused";
}

Status NotCommittedIn(std::chrono::milliseconds timeout) {
  return Status::DeadlineExceeded("write not committed within " + std::to_string(timeout.count()) +
                                  "ms (it may still commit): is a majority of masters reachable?");
}

}  // namespace

bool RaftNode::NeverCommitted(const Status& st) {
  const std::string& m = st.message();
  return st.code() == StatusCode::kUnavailable &&
         (m.rfind(kReplaced, 0) == 0 || m.rfind(kDropped, 0) == 0);
}

uint64_t RaftNode::NewRequestId() {
  std::lock_guard lock(rng_mu_);
  return rng_() | 1;
}

RaftNode::RaftNode(const RaftNodeOptions& opts, StateMachine* store)
    : opts_(opts),
      raft_id_(RaftIdOf(opts.member_id)),
      store_(store),
      rng_(opts.seed != 0 ? opts.seed ^ 0x9e3779b97f4a7c15ULL : RandomU64()) {}

RaftNode::~RaftNode() { Close(); }

Result<std::unique_ptr<RaftNode>> RaftNode::Open(const RaftNodeOptions& opts,
                                                 const std::string& data_dir, StateMachine* store) {
  std::unique_ptr<RaftNode> log(new RaftNode(opts, store));
  ORCH_RETURN_IF_ERROR(log->Init(data_dir));
  return log;
}

Status RaftNode::Init(const std::string& data_dir) {
  ORCH_ASSIGN_OR_RETURN(storage_, SqliteStorage::Open(data_dir));
  opened_empty_ = storage_->IsEmpty() && storage_->ClusterId() == 0;
  if (storage_->IsEmpty() && !opts_.initial_peers.empty()) {
    // A new cluster: the founding voters are the first entries of the log,
    // with their addresses, so every member (and any added later) learns
    // the membership from the log itself. Its id comes from the founders,
    // so founders given different member lists refuse each other's frames
    // instead of writing different entries at the same index.
    ORCH_RETURN_IF_ERROR(
        storage_->SetClusterId(raft::ClusterIdOf(opts_.initial_peers)).WithContext("bootstrap"));
    std::vector<uint64_t> ids;
    for (const auto& [id, addr] : opts_.initial_peers) ids.push_back(RaftIdOf(id));
    raft::BootstrapState boot = raft::MakeBootstrapState(ids);
    for (auto& e : boot.entries) {
      ConfChange cc;
      if (!cc.ParseFromString(e.data()))
        return Status::Internal("bootstrap entry is not a ConfChange");
      for (const auto& [id, addr] : opts_.initial_peers) {
        if (RaftIdOf(id) != cc.node_id()) continue;
        v1::ConfChangeContext ctx;
        ctx.mutable_member()->set_id(id);
        ctx.mutable_member()->set_raft_id(cc.node_id());
        ctx.mutable_member()->set_raft_address(addr);
        ctx.mutable_member()->set_role(v1::Member::VOTER);
        cc.set_context(ctx.SerializeAsString());
      }
      e.set_data(cc.SerializeAsString());
    }
    ORCH_RETURN_IF_ERROR(storage_->Save(&boot.hard_state, boot.entries, nullptr, true));
    spdlog::info("raft: bootstrapped cluster {} of {} voter(s)",
                 raft::FormatClusterId(storage_->ClusterId()), ids.size());
  } else if (storage_->IsEmpty()) {
    spdlog::info("raft: starting empty; waiting to be added to a cluster");
  } else if (storage_->ClusterId() == 0) {
    spdlog::warn(
        "raft: this data dir predates cluster ids: frames from the Raft port are not checked "
        "for their cluster (only for membership)");
  }
  cluster_id_ = storage_->ClusterId();
  // A snapshot persisted but not yet applied to state.db (crash in between,
  // or state.db rolled back): bring the state machine up to it first.
  snapshot_index_ = storage_->SnapshotMeta().index();
  if (snapshot_index_ > store_->AppliedIndex()) {
    auto snap = storage_->GetSnapshot();
    if (!snap.ok())
      return Status::Internal(
          "cannot read the persisted snapshot (missing or corrupt file, see above)");
    ORCH_RETURN_IF_ERROR(store_->RestoreImage(snap.value.data()));
  }
  for (const auto& m : store_->ListMembers()) directory_.Put(m);
  for (const auto& [id, addr] : opts_.initial_peers) directory_.AddPeer(id, addr);
  raft::Config c;
  c.id = raft_id_;
  c.storage = storage_.get();
  // Re-deliver everything after the snapshot: membership changes must be
  // re-applied to the core; state.db skips commands it already applied.
  c.applied = snapshot_index_;
  c.election_tick = opts_.election_ticks;
  c.heartbeat_tick = opts_.heartbeat_ticks;
  c.check_quorum = true;
  c.pre_vote = true;
  c.max_size_per_msg = 1 << 20;
  c.max_inflight_msgs = 256;
  c.max_inflight_bytes = 32 << 20;  // and at most 32 MiB unacknowledged per follower
  c.max_uncommitted_entries_size = 64 << 20;
  c.seed = opts_.seed != 0 ? opts_.seed : RandomU64();
  auto node = raft::RawNode::Create(c);
  if (!node.ok()) return Status::InvalidArgument("raft: invalid configuration");
  node_ = std::move(node.value);
  conf_state_ = storage_->GetInitialState().conf_state;
  applied_ = snapshot_index_;
  next_snapshot_at_ = snapshot_index_ + opts_.snapshot_entries;
  return Status::Ok();
}

Status RaftNode::AdoptClusterId(uint64_t id) {
  if (id == 0) return Status::Ok();  // a cluster founded before cluster ids
  ORCH_RETURN_IF_ERROR(storage_->SetClusterId(id));
  cluster_id_ = id;
  return Status::Ok();
}

void RaftNode::AddKnownMembers(const std::vector<v1::Member>& members) {
  directory_.AddKnown(members);
}

Transport::Callbacks RaftNode::TransportCallbacks() {
  Transport::Callbacks cb;
  cb.on_message = [this](v1::Message m) {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      inbox_.push_back(std::move(m));
    }
    cv_.notify_one();
  };
  cb.on_snapshot_status = [this](uint64_t to, bool ok) {
    std::lock_guard lock(mu_);
    tasks_.push_back([this, to, ok] { node_->ReportSnapshot(to, ok); });
  };
  cb.on_unreachable = [this](uint64_t to) {
    std::lock_guard lock(mu_);
    tasks_.push_back([this, to] { node_->ReportUnreachable(to); });
  };
  cb.on_peer_down = [this](uint64_t id) {
    std::unique_lock lock(mu_);
    tasks_.push_back([this, id] {
      const raft::Raft& r = node_->raft();
      if (r.state() != raft::StateType::kFollower || r.lead() != id) return;
      spdlog::info(
          "raft: leader {} is down (its connection closed, a dial refused); electing a new one "
          "without waiting out the election timeout",
          NameOf(id));
      node_->ForgetLeader();
    });
    lock.unlock();
    cv_.notify_one();  // at once, not at the next tick
  };
  return cb;
}

void RaftNode::Start(Transport* transport) {
  transport_ = transport;
  if (transport_) {
    for (const auto& m : directory_.All()) {
      if (m.raft_id() != raft_id_ && !m.raft_address().empty())
        transport_->SetPeer(m.raft_id(), m.raft_address());
    }
  }
  if (opts_.own_thread) {
    apply_thread_ = std::thread([this] {
      NameThisThread("raft-apply");
      ApplyLoop();
    });
    thread_ = std::thread([this] {
      NameThisThread("raft-loop");
      Loop();
    });
  }
}

void RaftNode::Loop() {
  auto next_tick = std::chrono::steady_clock::now() + opts_.tick;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      for (;;) {
        if (closed_ || !inbox_.empty() || !tasks_.empty()) break;
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_tick || (!lingering_.empty() && now >= linger_until_)) break;
        // Recomputed at each wake: a lingering proposal may bring the
        // deadline forward.
        cv_.wait_until(lock, lingering_.empty() ? next_tick : std::min(next_tick, linger_until_));
      }
      if (closed_) break;
    }
    auto now = std::chrono::steady_clock::now();
    bool ticked = now >= next_tick;
    if (ticked) {
      next_tick += opts_.tick;
      if (next_tick < now) next_tick = now + opts_.tick;  // we fell behind; do not burst
    }
    if (!Pump(ticked).ok()) return;
  }
}

Status RaftNode::Pump(bool tick) {
  std::deque<v1::Message> msgs;
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard lock(mu_);
    if (closed_) return Status::Unavailable("master " + opts_.member_id + " has stopped");
    // Reads waiting behind a round out so long it was likely lost go out
    // in a round of their own, even when no later read comes to send them.
    if (tick) StartReadRoundIfDueLocked();
    msgs.swap(inbox_);
    tasks.swap(tasks_);
    // Lingering proposals join this Ready after the others (clients' writes
    // apply, and are answered, before the background work), or go alone
    // once they have waited long enough.
    if (!lingering_.empty() &&
        (!tasks.empty() || std::chrono::steady_clock::now() >= linger_until_)) {
      tasks.insert(tasks.end(), std::make_move_iterator(lingering_.begin()),
                   std::make_move_iterator(lingering_.end()));
      lingering_.clear();
    }
  }
  // The log or the state machine cannot be written (disk full, I/O error):
  // continuing would risk acknowledging what is not durable.
  auto stop_on = [this](const Status& st) {
    spdlog::critical("raft: {}; this master stops taking part until restarted", st.ToString());
    Stop(Status::Unavailable("master " + opts_.member_id + " cannot persist: " + st.message()));
    return st;
  };
  Status apply_failed;
  {
    std::lock_guard lock(apply_mu_);
    apply_failed = apply_error_;
  }
  if (!apply_failed.ok()) return stop_on(apply_failed);
  for (auto& m : msgs) {
    if (Admit(m)) (void)node_->Step(m);
  }
  for (auto& t : tasks) t();
  if (tick) {
    node_->Tick();
    ExpireWaiters();
  }
  while (node_->HasReady()) {
    const auto started = std::chrono::steady_clock::now();
    Status st = HandleReady();
    NoteSlowReady(std::chrono::steady_clock::now() - started);
    if (!st.ok()) return stop_on(st);
  }
  // The state machine's open transaction, when due, checked once a tick
  // while no apply runs (StateMachine::CommitAppliedIfDue).
  if (tick && ApplyIdle()) {
    if (Status st = store_->CommitAppliedIfDue(); !st.ok()) return stop_on(st);
  }
  // Members() is for operators: refreshing it once a tick keeps the
  // per-message path free of this bookkeeping.
  if (tick) directory_.RefreshView(conf_state_, node_->raft());
  if (lead_.load() != raft::kNone && !announced_) AnnounceHttpAddress();
  // A lone voter need not wait a whole election timeout to lead.
  if (!leader_ && conf_state_.voters_size() == 1 && conf_state_.voters(0) == raft_id_ &&
      node_->raft().state() == raft::StateType::kFollower) {
    (void)node_->Campaign();
  }
  return Status::Ok();
}

void RaftNode::Stop(const Status& why) {
  {
    // Closed first, so that no waiter registers after those failed below.
    std::lock_guard lock(mu_);
    closed_ = true;
    leader_ = false;
    lead_ = 0;
  }
  FailAllWaiters(why);
}

// Whether a message from the network may reach the core. Only members of
// the configuration speak Raft to us (a master not yet in any
// configuration, being added, must hear its new leader first); a snapshot
// must hold a sound state image before the core may install it, since
// installing persists it.
bool RaftNode::Admit(const v1::Message& m) {
  bool known = conf_state_.voters_size() == 0;  // not in a cluster yet: learning it
  for (uint64_t id : conf_state_.voters()) known = known || id == m.from();
  for (uint64_t id : conf_state_.learners()) known = known || id == m.from();
  const char* why = nullptr;
  Status snap;
  if (!known) {
    why = "not a member";
  } else if (m.type() == v1::Message::MSG_SNAP) {
    snap = CheckSnapshotImage(m.snapshot());
    if (!snap.ok()) why = "bad snapshot";
  }
  if (why == nullptr) return true;
  ++refused_msgs_;
  // At most one line per second: a flood must not fill the disk.
  auto now = std::chrono::steady_clock::now();
  if (now - last_refusal_log_ >= std::chrono::seconds(1)) {
    last_refusal_log_ = now;
    spdlog::warn("raft: dropped {} from {} ({}{}{}); {} dropped so far",
                 v1::Message::Type_Name(m.type()), m.from(), why, snap.ok() ? "" : ": ",
                 snap.ok() ? "" : snap.message(), refused_msgs_.load());
  }
  return false;
}

Status RaftNode::HandleReady() {
  raft::Ready rd = node_->GetReady();
  const uint64_t term = node_->raft().term();
  const uint64_t old = lead_.load();
  if (rd.soft_state || term != term_.load()) {
    // Under mu_, so that LeaderAndTerm() sees the pair as one.
    std::lock_guard lock(mu_);
    if (rd.soft_state) lead_ = rd.soft_state->lead;
    term_ = term;
  }
  if (rd.soft_state) {
    leader_ = rd.soft_state->state == raft::StateType::kLeader;
    if (old != rd.soft_state->lead) {
      if (leader_changes_) leader_changes_->Inc();
      if (rd.soft_state->lead == raft::kNone) {
        spdlog::info("raft: {} lost its leader (term {})", opts_.member_id, node_->raft().term());
      } else {
        spdlog::info("raft: leader is now {} (term {})", NameOf(rd.soft_state->lead),
                     node_->raft().term());
      }
      announced_ = false;
    }
  }
  const raft::HardState* hs = rd.hard_state ? &*rd.hard_state : nullptr;
  const raft::Snapshot* snap = rd.snapshot ? &*rd.snapshot : nullptr;
  // A leader sends before it writes (the Raft thesis, 10.2.1; etcd's server
  // does the same): the followers write the entries while it does, so a
  // commit waits for one disk write instead of two in a row. It applies
  // nothing it has not written: entries commit in a later Ready, or in this
  // one after the Save below. A follower's answers say what it has written,
  // so they wait for the Save; so does a snapshot to send (it waits for the
  // applies).
  const bool send_first =
      leader_ && transport_ && !rd.messages.empty() &&
      std::none_of(rd.messages.begin(), rd.messages.end(),
                   [](const v1::Message& m) { return m.type() == v1::Message::MSG_SNAP; });
  if (send_first) transport_->Send(std::move(rd.messages));
  if (hs || snap || !rd.entries.empty()) {
    const auto t = std::chrono::steady_clock::now();
    ORCH_RETURN_IF_ERROR(storage_->Save(hs, rd.entries, snap, rd.must_sync || snap != nullptr));
    last_ready_.persist = std::chrono::steady_clock::now() - t;
    last_ready_.entries = rd.entries.size();
    last_ready_.bytes = 0;
    for (const auto& e : rd.entries) last_ready_.bytes += e.data().size();
    if (persist_seconds_) {
      persist_seconds_->Observe(std::chrono::duration<double>(last_ready_.persist).count());
    }
  }
  if (snap) {
    WaitApplied();
    ORCH_RETURN_IF_ERROR(store_->RestoreImage(snap->data()));
    applied_ = snap->metadata().index();
    snapshot_index_ = applied_;
    next_snapshot_at_ = snapshot_index_ + opts_.snapshot_entries;
    NoteSnapshotImage(applied_bytes_.load(), snap->data().size());
    conf_state_ = snap->metadata().conf_state();
    for (const auto& m : store_->ListMembers()) {
      directory_.Put(m);
      if (transport_ && m.raft_id() != raft_id_) transport_->SetPeer(m.raft_id(), m.raft_address());
    }
    spdlog::info("raft: installed snapshot at index {} from the leader", applied_.load());
  }
  for (auto& m : rd.messages) {
    if (m.type() != v1::Message::MSG_SNAP) continue;
    WaitApplied();  // the image sent is of the state at applied_
    const uint64_t was = m.snapshot().metadata().index();
    Status st =
        RebuildSnapshotFor(&m, store_, storage_.get(), applied_, conf_state_, &snapshot_index_);
    if (!st.ok()) {
      spdlog::warn("raft: snapshot at {} for {} predates it: {}", was, NameOf(m.to()),
                   st.message());
    } else if (m.snapshot().metadata().index() != was) {
      spdlog::info("raft: snapshot at {} predates member {}; sending one at {}", was,
                   NameOf(m.to()), m.snapshot().metadata().index());
    }
  }
  if (!send_first && transport_ && !rd.messages.empty()) transport_->Send(std::move(rd.messages));
  bool conf_change = false;
  std::size_t committed_bytes = 0;
  for (const auto& e : rd.committed_entries) {
    conf_change = conf_change || e.type() == Entry::CONF_CHANGE;
    committed_bytes += e.data().size();
  }
  // In the loop: without an apply thread; a membership change (it applies
  // to the core as well); a small batch when nothing waits to apply before
  // it, unless applying in the loop lately took longer than its budget.
  const auto now = std::chrono::steady_clock::now();
  if (!apply_thread_.joinable() || conf_change ||
      (committed_bytes < opts_.inline_apply_bytes && now >= inline_paused_until_ && ApplyIdle())) {
    WaitApplied();
    ORCH_RETURN_IF_ERROR(ApplyAndAnswer(rd.committed_entries, rd.read_states));
    if (apply_thread_.joinable() &&
        std::chrono::steady_clock::now() - now > opts_.inline_apply_budget) {
      inline_paused_until_ = std::chrono::steady_clock::now() + kInlineApplyPause;
    }
    node_->Advance(rd);
    return MaybeSnapshot();
  }
  node_->Advance(rd);
  if (!rd.committed_entries.empty() || !rd.read_states.empty()) {
    ApplyJob job;
    job.bytes = committed_bytes;
    job.entries = std::move(rd.committed_entries);
    job.reads = std::move(rd.read_states);
    std::unique_lock lock(apply_mu_);
    // At most 64 MiB waiting to apply: past that the loop waits for the
    // apply thread (memory stays bounded if applying falls behind).
    apply_cv_.wait(lock, [&] {
      return apply_queued_bytes_ + job.bytes <= (std::size_t{64} << 20) || apply_queue_.empty() ||
             apply_stop_ || !apply_error_.ok();
    });
    apply_queued_bytes_ += job.bytes;
    apply_queue_.push_back(std::move(job));
    apply_cv_.notify_all();
    return Status::Ok();
  }
  return ApplyIdle() ? MaybeSnapshot() : Status::Ok();
}

void RaftNode::NoteSlowReady(std::chrono::steady_clock::duration took) {
  const auto persist = last_ready_.persist;
  last_ready_.persist = {};
  // Past half the shortest election timeout the peers may start an election.
  if (took < opts_.tick * opts_.election_ticks / 2) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_slow_log_ < std::chrono::seconds(1)) return;
  last_slow_log_ = now;
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  spdlog::warn(
      "raft: one Ready took {} ms (persisting {} entries, {} bytes: {} ms); the peers may start an "
      "election",
      ms(took), last_ready_.entries, last_ready_.bytes, ms(persist));
}

Status RaftNode::ApplyAndAnswer(const std::vector<Entry>& entries,
                                const std::vector<raft::ReadState>& reads) {
  ORCH_RETURN_IF_ERROR(ApplyEntries(entries));
  for (const auto& rs : reads) {
    std::shared_ptr<PendingRead> pr;
    bool started = false;
    {
      std::lock_guard lock(mu_);
      auto it = reads_.find(rs.request_ctx);
      if (it == reads_.end()) continue;
      pr = it->second;
      reads_.erase(it);
      if (rs.request_ctx == read_round_) {
        read_round_.clear();
        started = StartReadRoundIfDueLocked();  // what arrived meanwhile, as one round
      }
    }
    if (started) cv_.notify_one();
    for (auto& [ticket, done] : pr->reads) done(rs.index);
  }
  return Status::Ok();
}

void RaftNode::ApplyLoop() {
  for (;;) {
    ApplyJob job;
    {
      std::unique_lock lock(apply_mu_);
      applying_ = false;
      apply_cv_.notify_all();
      apply_cv_.wait(lock, [&] { return apply_stop_ || !apply_queue_.empty(); });
      if (apply_stop_) return;
      job = std::move(apply_queue_.front());
      apply_queue_.pop_front();
      apply_queued_bytes_ -= job.bytes;
      applying_ = true;
    }
    Status st = ApplyAndAnswer(job.entries, job.reads);
    bool idle = false;
    {
      std::lock_guard lock(apply_mu_);
      if (!st.ok()) {
        // The loop stops the node when it sees this; nothing more applies.
        apply_error_ = st;
        applying_ = false;
        apply_cv_.notify_all();
        break;
      }
      idle = apply_queue_.empty();
    }
    if (idle && SnapshotDue()) {
      // A snapshot may be due: the loop takes it while nothing applies.
      {
        std::lock_guard lock(mu_);
        tasks_.push_back([this] {
          if (ApplyIdle()) (void)MaybeSnapshot();
        });
      }
      cv_.notify_one();
    }
  }
  // The loop notices apply_error_ at its next turn (a tick at most).
}

void RaftNode::WaitApplied() {
  if (!apply_thread_.joinable()) return;
  std::unique_lock lock(apply_mu_);
  apply_cv_.wait(lock, [&] {
    return (apply_queue_.empty() && !applying_) || apply_stop_ || !apply_error_.ok();
  });
}

bool RaftNode::ApplyIdle() {
  if (!apply_thread_.joinable()) return true;
  std::lock_guard lock(apply_mu_);
  return apply_queue_.empty() && !applying_;
}

Status RaftNode::ApplyEntries(const std::vector<Entry>& entries) {
  // Consecutive commands apply in one state.db transaction; a membership
  // change ends a batch (it applies on its own, to the core and the store).
  std::vector<v1::Command> cmds(entries.size());
  std::vector<StateMachine::Entry> batch;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    std::vector<Status> outcomes;
    ORCH_RETURN_IF_ERROR(store_->ApplyBatch(batch, &outcomes));
    for (std::size_t k = 0; k < batch.size(); ++k) {
      const v1::Command* cmd = batch[k].cmd;
      if (cmd == nullptr) continue;
      if (cmd->has_update_member() && outcomes[k].ok()) {
        directory_.SetHttpAddress(cmd->update_member().id(), cmd->update_member().http_address());
      }
      if (cmd->request_id() != 0) Complete(cmd->request_id(), outcomes[k], batch[k].index);
    }
    batch.clear();
    return Status::Ok();
  };
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.type() == Entry::CONF_CHANGE) {
      ORCH_RETURN_IF_ERROR(flush());
      ORCH_RETURN_IF_ERROR(ApplyConfChangeEntry(e));
    } else if (!e.data().empty() && cmds[i].ParseFromString(e.data())) {
      batch.push_back({e.index(), &cmds[i]});
    } else {
      // A leader's empty entry, or (never expected) an unreadable one.
      if (!e.data().empty())
        spdlog::error("raft: entry {} is not a Command; skipping it", e.index());
      batch.push_back({e.index(), nullptr});
    }
    FailReplacedProposals(e.index(), cmds[i].request_id());
    applied_bytes_ += e.data().size();
    applied_ = e.index();
  }
  return flush();
}

void RaftNode::FailReplacedProposals(uint64_t index, uint64_t request_id) {
  uint64_t replaced = 0;
  {
    std::lock_guard lock(proposed_mu_);
    while (!proposed_at_.empty() && proposed_at_.begin()->first <= index) {
      auto [at, id] = *proposed_at_.begin();
      proposed_at_.erase(proposed_at_.begin());
      // Below `index` (a snapshot went past it): its fate is unknown here.
      if (at == index && id != request_id) replaced = id;
    }
  }
  if (replaced != 0) {
    Complete(replaced,
             Status::Unavailable(std::string(kReplaced) +
                                 ": a new leader replaced it (a leader change); retry"),
             0);
  }
}

Status RaftNode::MaybeSnapshot() {
  if (snapshot_in_flight_ || !SnapshotDue() || applied_ == 0) return Status::Ok();
  // A read of state.db begun here, between applies, sees exactly the state
  // at applied_; reading the image, writing and fsyncing it (what grows
  // with the state) run on their own thread while this one keeps ticking,
  // replicating and applying.
  snapshot_index_ = applied_;  // the next attempt after another interval, whatever happens
  next_snapshot_at_ = snapshot_index_ + opts_.snapshot_entries;
  auto read = store_->BeginImageRead(nullptr);
  auto prepared = read.ok() ? storage_->PrepareSnapshot(applied_, conf_state_, "") : read.status();
  if (!prepared.ok()) {
    spdlog::error("raft: cannot take a snapshot at index {}: {}", applied_.load(),
                  prepared.status().ToString());
    return Status::Ok();
  }
  snapshot_in_flight_ = true;
  auto pending = std::make_shared<SqliteStorage::PendingSnapshot>(std::move(prepared).value());
  auto work = [this, pending, at = applied_bytes_.load(),
               read = std::shared_ptr<StateImage>(std::move(read).value())]() mutable {
    const auto start = std::chrono::steady_clock::now();
    auto image = read->Serialize();
    read.reset();  // ends the read transaction
    const auto serialized = std::chrono::steady_clock::now();
    Status written = image.status();
    if (written.ok()) {
      pending->snap.set_data(std::move(image).value());
      written = SqliteStorage::WriteSnapshotFile(pending.get());
    }
    using std::chrono::duration_cast, std::chrono::milliseconds;
    const int64_t read_ms = duration_cast<milliseconds>(serialized - start).count();
    const int64_t write_ms =
        duration_cast<milliseconds>(std::chrono::steady_clock::now() - serialized).count();
    std::lock_guard lock(mu_);
    tasks_.push_back([this, pending, written, read_ms, write_ms, at] {
      NoteSnapshotImage(at, written.ok() ? pending->snap.data().size() : 0);
      FinishSnapshot(std::move(*pending), written, read_ms, write_ms);
    });
    cv_.notify_all();
  };
  if (opts_.run_off_loop) {
    opts_.run_off_loop(std::move(work));
  } else {
    if (snapshot_thread_.joinable()) snapshot_thread_.join();  // the last one has posted its result
    snapshot_thread_ = std::thread([work = std::move(work)]() mutable {
      NameThisThread("raft-snapshot");
      RunThisThreadAsBulkWork();
      work();
    });
  }
  return Status::Ok();
}

bool RaftNode::SnapshotDue() const {
  return applied_.load() >= next_snapshot_at_.load() &&
         applied_bytes_.load() >= snapshot_due_bytes_.load();
}

void RaftNode::NoteSnapshotImage(uint64_t at, uint64_t image_bytes) {
  const uint64_t cheap = opts_.cheap_image_bytes;
  snapshot_due_bytes_ = at + (image_bytes > cheap ? image_bytes - cheap : 0);
}

void RaftNode::FinishSnapshot(SqliteStorage::PendingSnapshot p, const Status& written,
                              int64_t read_ms, int64_t write_ms) {
  snapshot_in_flight_ = false;
  const uint64_t index = p.snap.metadata().index();
  const std::size_t bytes = p.snap.data().size();
  Status st = written.ok() ? storage_->CommitSnapshot(std::move(p)) : written;
  if (st.code() == StatusCode::kFailedPrecondition) {
    // A newer snapshot came from the leader (or was taken for a new
    // member) while this one was written: it is simply not needed.
    spdlog::info("raft: snapshot at index {} not kept: {}", index, st.message());
    return;
  }
  if (!st.ok()) {
    // Nothing was recorded and the log is intact: try again after another
    // `snapshot_entries` entries (a full disk stops the log soon anyway).
    spdlog::error("raft: snapshot at index {} failed: {}", index, st.ToString());
    return;
  }
  // The leader keeps the entries its followers still need (a snapshot in
  // flight, a follower a little behind), as long as they are not too far
  // behind; a follower's own log has no one to keep entries for.
  const raft::Raft& r = node_->raft();
  static const std::map<uint64_t, raft::Progress> kNone;
  const uint64_t max_hold = 4 * std::max(opts_.snapshot_entries, opts_.keep_entries);
  uint64_t compact =
      raft::CompactionIndex(index, opts_.keep_entries, max_hold, raft_id_,
                            r.state() == raft::StateType::kLeader ? r.progress() : kNone);
  // Compact(i) keeps entry i: the log then starts after what may go.
  if (compact > 0 && compact + 1 > storage_->FirstIndex()) {
    if (Status c = storage_->Compact(compact + 1); !c.ok()) {
      spdlog::error("raft: compacting the log up to {}: {}", compact, c.ToString());
    }
  }
  if (snapshots_) {
    snapshots_->Inc();
    snapshot_bytes_->Set(static_cast<double>(bytes));
    snapshot_seconds_->Observe(static_cast<double>(read_ms + write_ms) / 1000);
  }
  spdlog::info(
      "raft: snapshot at index {} ({} bytes, read in {} ms and written in {} ms off the Raft "
      "thread), "
      "log kept from index {}",
      index, bytes, read_ms, write_ms, storage_->FirstIndex());
}

std::shared_ptr<RaftNode::Waiter> RaftNode::TakeWaiterLocked(uint64_t id) {
  auto it = waiters_.find(id);
  if (it == waiters_.end()) return nullptr;
  std::shared_ptr<Waiter> w = std::move(it->second);
  waiters_.erase(it);
  if (w->deadline) deadlines_.erase(*w->deadline);
  return w;
}

void RaftNode::Complete(uint64_t request_id, Status status, uint64_t index) {
  std::shared_ptr<Waiter> w;
  {
    std::lock_guard lock(mu_);
    w = TakeWaiterLocked(request_id);
    if (!w) return;  // proposed elsewhere, or given up on
  }
  w->done(std::move(status), index);
}

void RaftNode::ExpireWaiters() {
  std::vector<std::shared_ptr<Waiter>> expired;
  {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
      const uint64_t id = deadlines_.begin()->second;
      deadlines_.erase(deadlines_.begin());
      auto it = waiters_.find(id);
      if (it == waiters_.end()) continue;  // never: its deadline goes with it
      it->second->deadline.reset();        // erased just above
      expired.push_back(TakeWaiterLocked(id));
    }
  }
  for (auto& w : expired) w->done(NotCommittedIn(w->timeout), 0);
}

void RaftNode::FailAllWaiters(const Status& status) {
  std::map<uint64_t, std::shared_ptr<Waiter>> waiters;
  std::map<std::string, std::shared_ptr<PendingRead>> reads;
  PendingRead next;
  {
    std::lock_guard lock(mu_);
    waiters.swap(waiters_);
    deadlines_.clear();
    reads.swap(reads_);
    next.reads.swap(next_reads_.reads);
    read_round_.clear();
  }
  for (auto& [id, w] : waiters) w->done(status, 0);  // their deadlines went with them
  for (auto& [ctx, r] : reads) {
    for (auto& [ticket, done] : r->reads) done(status);
  }
  for (auto& [ticket, done] : next.reads) done(status);
}

void RaftNode::RegisterMetrics(metrics::Registry* m) {
  if (m == nullptr) return;
  m->AddCallback("orch_raft_term", "The Raft term this master is in.", {}, [this] {
    return std::vector<metrics::Sample>{{{}, static_cast<double>(term_.load())}};
  });
  m->AddCallback("orch_raft_leader", "1 when this master leads the Raft quorum.", {}, [this] {
    return std::vector<metrics::Sample>{{{}, leader_.load() ? 1.0 : 0.0}};
  });
  m->AddCallback(
      "orch_raft_applied_index", "Raft index of the last entry applied to the state.", {}, [this] {
        return std::vector<metrics::Sample>{{{}, static_cast<double>(store_->AppliedIndex())}};
      });
  m->AddCallback(
      "orch_raft_refused_messages_total",
      "Raft messages dropped before the core (non-members, unsound snapshots).", {},
      [this] {
        return std::vector<metrics::Sample>{{{}, static_cast<double>(refused_msgs_.load())}};
      },
      true);
  leader_changes_ = &m->AddCounter("orch_raft_leader_changes_total",
                                   "Times this master saw the leader change (or be lost).")
                         .With({});
  proposals_ = &m->AddCounter(
      "orch_raft_proposals_total",
      "Commands proposed through this master, by outcome (ok; refused by the state machine; "
      "unavailable: no leader; timeout; invalid: too large or unstorable).",
      {"outcome"});
  commit_seconds_ =
      &m->AddHistogram("orch_raft_commit_duration_seconds",
                       "From a proposal to its entry committed and applied on this master.", {},
                       metrics::LatencyBuckets())
           .With({});
  persist_seconds_ =
      &m->AddHistogram("orch_raft_persist_duration_seconds",
                       "Writing a Ready's entries and hard state to raft.db, fsync included.", {},
                       metrics::LatencyBuckets())
           .With({});
  snapshots_ =
      &m->AddCounter("orch_raft_snapshots_total", "Raft snapshots this master took.").With({});
  snapshot_bytes_ =
      &m->AddGauge("orch_raft_snapshot_size_bytes", "Size of the last snapshot taken.").With({});
  snapshot_seconds_ = &m->AddHistogram("orch_raft_snapshot_duration_seconds",
                                       "Reading and writing a snapshot (off the Raft thread).", {},
                                       metrics::LatencyBuckets())
                           .With({});
}

void RaftNode::CountProposal(const char* outcome, std::chrono::steady_clock::time_point started) {
  if (proposals_ == nullptr) return;
  proposals_->With({outcome}).Inc();
  if (std::strcmp(outcome, "ok") == 0) {
    commit_seconds_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
}

Result<uint64_t> RaftNode::Propose(const v1::Command& cmd, std::chrono::milliseconds timeout) {
  return ProposeAndWait(cmd, timeout);
}

Result<uint64_t> RaftNode::ProposeBackground(const v1::Command& cmd,
                                             std::chrono::milliseconds timeout) {
  return ProposeAndWait(cmd, timeout, /*linger=*/true);
}

std::size_t RaftNode::lingering() const {
  std::lock_guard lock(mu_);
  return lingering_.size();
}

void RaftNode::ProposeThen(const v1::Command& cmd, std::chrono::milliseconds timeout,
                           ReplicatedLog::ProposeDone done) {
  const auto started = std::chrono::steady_clock::now();
  ProposeWithin(cmd, timeout, [this, started, done = std::move(done)](Status st, uint64_t index) {
    CountProposal(ProposalOutcome(st), started);
    if (!st.ok()) return done(std::move(st));
    done(index);
  });
}

namespace {

// Why a command cannot go into the log, or OK.
Status CheckCommandBytes(const std::string& data) {
  // An entry must fit one transport frame (16 MiB) with room to spare, or
  // it could never reach the followers and replication would stop behind it.
  if (data.size() > RaftNode::kMaxCommandBytes) {
    return Status::InvalidArgument(
        "the request is " + std::to_string(data.size()) + " bytes once encoded, more than the " +
        std::to_string(RaftNode::kMaxCommandBytes) + " a log entry may hold");
  }
  // A command that would not parse back (e.g. a string that is not UTF-8)
  // could never be applied, and its write would hang: refuse it here.
  if (v1::Command check; !check.ParseFromString(data)) {
    return Status::InvalidArgument(
        "the request holds data that cannot be stored (text must be UTF-8)");
  }
  return Status::Ok();
}

}  // namespace

uint64_t RaftNode::Enqueue(uint64_t id, std::function<void()> propose, ProposeDone done,
                           std::optional<std::chrono::milliseconds> give_up_after, bool linger) {
  auto w = std::make_shared<Waiter>();
  w->done = std::move(done);
  {
    std::lock_guard lock(mu_);
    if (!closed_) {
      if (give_up_after) {
        w->timeout = *give_up_after;
        w->deadline = deadlines_.emplace(std::chrono::steady_clock::now() + *give_up_after, id);
      }
      waiters_[id] = w;
      if (linger && tasks_.empty() && opts_.own_thread && opts_.background_linger.count() > 0) {
        if (lingering_.empty())
          linger_until_ = std::chrono::steady_clock::now() + opts_.background_linger;
        lingering_.push_back(std::move(propose));
      } else {
        tasks_.push_back(std::move(propose));
      }
      w.reset();
    }
  }
  if (w) {
    w->done(Status::Unavailable("master " + opts_.member_id + " is shutting down"), 0);
    return 0;
  }
  cv_.notify_one();
  return id;
}

uint64_t RaftNode::ProposeAsync(const v1::Command& cmd, ProposeDone done) {
  return ProposeWithin(cmd, std::nullopt, std::move(done));
}

uint64_t RaftNode::ProposeWithin(const v1::Command& cmd_in,
                                 std::optional<std::chrono::milliseconds> give_up_after,
                                 ProposeDone done, bool linger) {
  if (lead_.load() == raft::kNone) {
    done(Status::Unavailable(
             "no leader: the masters are electing one (or cannot reach a majority); retry shortly"),
         0);
    return 0;
  }
  v1::Command cmd = cmd_in;
  uint64_t id = NewRequestId();
  cmd.set_request_id(id);
  std::string data = cmd.SerializeAsString();
  if (Status st = CheckCommandBytes(data); !st.ok()) {
    done(std::move(st), 0);
    return 0;
  }
  return Enqueue(
      id,
      [this, id, data = std::move(data)]() mutable {
        raft::Error err = node_->Propose(std::move(data));
        if (err == raft::Error::kOk && node_->raft().state() == raft::StateType::kLeader) {
          std::lock_guard lock(proposed_mu_);
          proposed_at_[node_->raft().log().LastIndex()] = id;
        } else if (err != raft::Error::kOk) {
          Complete(id,
                   Status::Unavailable(std::string(kDropped) +
                                       ": no leader to take it (election in progress?)"),
                   0);
        }
      },
      std::move(done), give_up_after, linger);
}

std::optional<std::pair<Status, uint64_t>> RaftNode::Await(
    const std::function<uint64_t(ProposeDone)>& start, std::chrono::milliseconds timeout) {
  auto p = std::make_shared<std::promise<std::pair<Status, uint64_t>>>();
  auto fut = p->get_future();
  const uint64_t ticket = start([p](Status st, uint64_t index) {
    p->set_value({std::move(st), index});
  });
  if (fut.wait_for(timeout) != std::future_status::ready) {
    Abandon(ticket);
    return std::nullopt;
  }
  return fut.get();
}

void RaftNode::Abandon(uint64_t ticket) {
  if (ticket == 0) return;
  std::lock_guard lock(mu_);
  if (TakeWaiterLocked(ticket)) return;
  auto drop = [ticket](PendingRead& batch) {
    return std::erase_if(batch.reads, [ticket](const auto& r) { return r.first == ticket; }) > 0;
  };
  if (drop(next_reads_)) return;
  for (auto it = reads_.begin(); it != reads_.end(); ++it) {
    if (!drop(*it->second)) continue;
    // A round nobody waits for any more is forgotten; if it was the one
    // out, the reads behind it need not wait for it.
    if (it->second->reads.empty()) {
      if (it->first == read_round_) read_round_.clear();
      reads_.erase(it);
      if (StartReadRoundIfDueLocked()) cv_.notify_one();
    }
    return;
  }
}

Result<uint64_t> RaftNode::ProposeAndWait(const v1::Command& cmd, std::chrono::milliseconds timeout,
                                          bool linger) {
  const auto started = std::chrono::steady_clock::now();
  auto out = Await(
      [&](ProposeDone done) { return ProposeWithin(cmd, std::nullopt, std::move(done), linger); },
      timeout);
  Result<uint64_t> result = NotCommittedIn(timeout);
  if (out) result = out->first.ok() ? Result<uint64_t>(out->second) : Result<uint64_t>(out->first);
  CountProposal(ProposalOutcome(result.status()), started);
  return result;
}

uint64_t RaftNode::ReadIndexAsync(std::function<void(Result<uint64_t>)> done) {
  if (lead_.load() == raft::kNone) {
    done(Status::Unavailable(
        "no leader: cannot serve a consistent read; retry, or use ?stale=true"));
    return 0;
  }
  const uint64_t ticket = NewRequestId();
  bool started = false;
  {
    std::lock_guard lock(mu_);
    if (!closed_) {
      next_reads_.reads.emplace_back(ticket, std::move(done));
      // A round out answers only reads that were waiting when it began
      // (a later read may need a later index): this one waits for the
      // next, begun when that one is answered -- or now, if there is none
      // or it has been out so long it was likely lost.
      started = StartReadRoundIfDueLocked();
      done = nullptr;
    }
  }
  if (done) {
    done(Status::Unavailable("master " + opts_.member_id + " is shutting down"));
    return 0;
  }
  if (started) cv_.notify_one();
  return ticket;
}

bool RaftNode::StartReadRoundIfDueLocked() {
  if (closed_ || next_reads_.reads.empty()) return false;
  if (!read_round_.empty() &&
      std::chrono::steady_clock::now() - read_round_began_ <= kReadRoundPatience)
    return false;
  StartReadRoundLocked();
  return true;
}

void RaftNode::StartReadRoundLocked() {
  std::string ctx = std::to_string(NewRequestId());
  auto round = std::make_shared<PendingRead>();
  round->reads.swap(next_reads_.reads);
  reads_[ctx] = std::move(round);
  read_round_ = ctx;
  read_round_began_ = std::chrono::steady_clock::now();
  ++read_rounds_;
  tasks_.push_back([this, ctx] { (void)node_->ReadIndex(ctx); });
}

Status RaftNode::ReadBarrier(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto p = std::make_shared<std::promise<Result<uint64_t>>>();
  auto fut = p->get_future();
  const uint64_t ticket =
      ReadIndexAsync([p](Result<uint64_t> index) { p->set_value(std::move(index)); });
  if (fut.wait_until(deadline) != std::future_status::ready) {
    Abandon(ticket);
    return Status::Unavailable(
        "leader did not confirm a consistent read in time; retry, or use ?stale=true");
  }
  auto index = fut.get();
  if (!index.ok()) return index.status();
  uint64_t want = *index;
  while (store_->AppliedIndex() < want) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Status::Unavailable("this master is catching up; retry");
    store_->WaitForIndexAbove(want - 1, left);
  }
  return Status::Ok();
}

bool RaftNode::IsLeader() const { return leader_.load(); }

std::string RaftNode::LeaderId() const {
  uint64_t lead = lead_.load();
  return lead == raft::kNone ? "" : directory_.NameOf(lead);
}

RaftNode::LeaderTerm RaftNode::LeaderAndTerm() const {
  uint64_t lead = 0;
  LeaderTerm out;
  {
    std::lock_guard lock(mu_);
    out.term = term_.load();
    lead = lead_.load();
  }
  if (lead != raft::kNone) out.leader_id = directory_.NameOf(lead);
  return out;
}

std::string RaftNode::NameOf(uint64_t raft_id) const { return directory_.NameOf(raft_id); }

void RaftNode::Close() {
  {
    std::lock_guard lock(mu_);
    if (closed_ && !thread_.joinable()) return;
    closed_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  {
    // What is still queued is in the log: it applies again at the next start.
    std::lock_guard lock(apply_mu_);
    apply_stop_ = true;
  }
  apply_cv_.notify_all();
  if (apply_thread_.joinable()) apply_thread_.join();
  // A snapshot still being written is finished but not recorded: Open
  // removes its file next time.
  if (snapshot_thread_.joinable()) snapshot_thread_.join();
  {
    std::lock_guard lock(mu_);
    leader_ = false;
    lead_ = raft::kNone;  // a closed master follows no one
  }
  FailAllWaiters(Status::Unavailable("master " + opts_.member_id + " is shutting down"));
}

std::string RaftNode::LeaderHttpAddress() const { return directory_.HttpAddressOf(lead_.load()); }

std::vector<v1::Member> RaftNode::Members() const { return directory_.View(); }

}  // namespace orch::replication
