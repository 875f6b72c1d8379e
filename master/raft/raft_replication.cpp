// Shipping the log: MsgApp/MsgSnap/heartbeats out of the leader, and how a
// follower accepts them.
#include <algorithm>

#include "master/raft/raft.h"

namespace orch::raft {

bool Raft::MaybeSendAppend(uint64_t to, bool send_if_empty) {
  Progress* pr = progress(to);
  if (pr == nullptr || pr->IsPaused()) return false;
  Message m;
  m.set_to(to);
  auto term = log_.Term(pr->next - 1);
  auto ents = log_.Entries(pr->next, cfg_.max_size_per_msg);
  if (term.ok() && ents.ok() && ents.value.empty() && !send_if_empty) {
    return false;
  }
  const bool need_snapshot = !term.ok() || !ents.ok() || pr->next - 1 < log_.FirstIndex() - 1;
  if (need_snapshot) {
    // The entries the follower needs were compacted: send the snapshot.
    // Only to a follower we heard from lately; a dead one would just make
    // us build and ship snapshots for nothing.
    if (!pr->recent_active) return false;
    auto snap = log_.GetSnapshot();
    if (!snap.ok()) return false;  // temporarily unavailable: retry later
    const auto& md = snap.value.metadata();
    RAFT_CHECK(md.index() != 0);
    m.set_type(Message::MSG_SNAP);
    *m.mutable_snapshot() = std::move(snap.value);
    pr->BecomeSnapshot(m.snapshot().metadata().index());
    Send(std::move(m));
    return true;
  }
  m.set_type(Message::MSG_APP);
  m.set_index(pr->next - 1);
  m.set_log_term(term.value);
  m.set_commit(log_.committed());
  uint64_t bytes = 0;
  for (auto& e : ents.value) {
    bytes += EntrySize(e);
    *m.add_entries() = std::move(e);
  }
  if (const int n = m.entries_size(); n > 0) {
    const uint64_t last = m.entries(n - 1).index();
    switch (pr->state) {
      case ProgressState::kReplicate:
        pr->OptimisticUpdate(last);
        pr->inflights.Add(last, bytes);
        break;
      case ProgressState::kProbe:
        pr->probe_sent = true;  // one probe at a time
        break;
      case ProgressState::kSnapshot:
        RAFT_CHECK(false);  // IsPaused() excluded it
    }
  }
  Send(std::move(m));
  return true;
}

void Raft::BcastAppend() {
  for (const auto& [id, pr] : prs_) {
    if (id != id_) SendAppend(id);
  }
}

void Raft::SendHeartbeat(uint64_t to, const std::string& ctx) {
  const Progress& pr = prs_.at(to);
  // Never make a follower commit past what it is known to hold: its log
  // might still contain a conflicting suffix there.
  Message m;
  m.set_type(Message::MSG_HEARTBEAT);
  m.set_to(to);
  m.set_commit(std::min(pr.match, log_.committed()));
  m.set_context(ctx);
  Send(std::move(m));
}

void Raft::BcastHeartbeat() { BcastHeartbeatWithCtx(read_only_.LastPendingRequestCtx()); }

void Raft::BcastHeartbeatWithCtx(const std::string& ctx) {
  for (const auto& [id, pr] : prs_) {
    if (id != id_) SendHeartbeat(id, ctx);
  }
}

void Raft::SendTimeoutNow(uint64_t to) {
  Message m;
  m.set_type(Message::MSG_TIMEOUT_NOW);
  m.set_to(to);
  Send(std::move(m));
}

namespace {

// A leader's entries follow m.index() one by one, with terms that never go
// down (nor below the term at m.index()). Anything else did not come from a
// correct leader; acting on it could index past the entries or rewrite the
// log, so it is dropped.
bool WellFormedAppend(const Message& m) {
  uint64_t prev_term = m.log_term();
  for (int i = 0; i < m.entries_size(); ++i) {
    const auto& e = m.entries(i);
    if (e.index() != m.index() + 1 + static_cast<uint64_t>(i)) return false;
    if (e.term() < prev_term || e.term() == 0) return false;  // real entries have a term
    prev_term = e.term();
  }
  return m.index() <= UINT64_MAX - static_cast<uint64_t>(m.entries_size());
}

}  // namespace

void Raft::HandleAppendEntries(const Message& m) {
  if (!WellFormedAppend(m)) return;
  Message resp;
  resp.set_type(Message::MSG_APP_RESP);
  resp.set_to(m.from());
  if (m.index() < log_.committed()) {
    // Already committed here; tell the leader how far we are.
    resp.set_index(log_.committed());
    Send(std::move(resp));
    return;
  }
  std::vector<Entry> ents(m.entries().begin(), m.entries().end());
  if (auto last = log_.MaybeAppend(m.index(), m.log_term(), m.commit(), ents)) {
    resp.set_index(*last);
    Send(std::move(resp));
    return;
  }
  // Mismatch at m.index(). Hint the largest index at or below it whose term
  // is <= the leader's term there: no entry after the hint can match, and
  // the leader can skip a whole term of entries at once.
  const uint64_t hint_index = std::min(m.index(), log_.LastIndex());
  auto [idx, term] = log_.FindConflictByTerm(hint_index, m.log_term());
  resp.set_index(m.index());
  resp.set_reject(true);
  resp.set_reject_hint(idx);
  resp.set_log_term(term);
  Send(std::move(resp));
}

void Raft::HandleHeartbeat(const Message& m) {
  // A correct leader never sends past what we hold (SendHeartbeat); a
  // forged or corrupt heartbeat must not move commit past our log.
  log_.CommitTo(std::min(m.commit(), log_.LastIndex()));
  Message resp;
  resp.set_type(Message::MSG_HEARTBEAT_RESP);
  resp.set_to(m.from());
  resp.set_context(m.context());
  Send(std::move(resp));
}

void Raft::HandleSnapshot(const Message& m) {
  Message resp;
  resp.set_type(Message::MSG_APP_RESP);
  resp.set_to(m.from());
  if (Restore(m.snapshot())) {
    resp.set_index(log_.LastIndex());
  } else {
    resp.set_index(log_.committed());
  }
  Send(std::move(resp));
}

bool Raft::Restore(const Snapshot& s) {
  const auto& md = s.metadata();
  if (md.index() <= log_.committed()) return false;
  if (md.term() == 0) return false;  // no real snapshot has term 0
  if (state_ != StateType::kFollower) {
    // Only a leader of our term sends snapshots, so we should already be a
    // follower; be defensive rather than corrupt state.
    BecomeFollower(term_ + 1, kNone);
    return false;
  }
  const auto& cs = md.conf_state();
  const bool found =
      std::find(cs.voters().begin(), cs.voters().end(), id_) != cs.voters().end() ||
      std::find(cs.learners().begin(), cs.learners().end(), id_) != cs.learners().end();
  if (!found) return false;  // not for us (stale or misrouted)
  if (log_.MatchTerm(md.index(), md.term())) {
    // We already hold the snapshot's last entry: just fast-forward commit.
    log_.CommitTo(md.index());
    return false;
  }
  log_.Restore(s);
  prs_.clear();
  ApplyInitialConf(cs);
  return true;
}

}  // namespace orch::raft
