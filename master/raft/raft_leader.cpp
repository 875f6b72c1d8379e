// What only a leader does: accept proposals, track follower progress,
// commit, serve ReadIndex and hand leadership over.
#include <algorithm>

#include "master/raft/raft.h"

namespace orch::raft {

bool Raft::AppendEntry(std::vector<Entry> es) {
  uint64_t li = log_.LastIndex();
  uint64_t size = 0;
  for (size_t i = 0; i < es.size(); ++i) {
    es[i].set_term(term_);
    es[i].set_index(li + 1 + i);
    if (es[i].type() == Entry::TYPE_UNSPECIFIED) es[i].set_type(Entry::NORMAL);
    size += es[i].data().size();
  }
  // Bound memory when followers lag: refuse new data, but never the empty
  // entry a new leader appends (size 0).
  if (cfg_.max_uncommitted_entries_size > 0 && uncommitted_size_ > 0 && size > 0 &&
      uncommitted_size_ + size > cfg_.max_uncommitted_entries_size) {
    return false;
  }
  uncommitted_size_ += size;
  li = log_.Append(es);
  if (auto* self = progress(id_)) self->MaybeUpdate(li);
  // A single-voter cluster commits right away.
  MaybeCommit();
  return true;
}

void Raft::ReduceUncommittedSize(const std::vector<Entry>& committed) {
  uint64_t size = 0;
  for (const auto& e : committed) size += e.data().size();
  uncommitted_size_ = size >= uncommitted_size_ ? 0 : uncommitted_size_ - size;
}

bool Raft::MaybeCommit() {
  std::vector<uint64_t> matches;
  for (const auto& [id, pr] : prs_) {
    if (!pr.is_learner) matches.push_back(pr.match);
  }
  if (matches.empty()) return false;
  return log_.MaybeCommit(CommittedIndex(std::move(matches)), term_);
}

bool Raft::QuorumActive() const {
  std::set<uint64_t> active;
  for (const auto& [id, pr] : prs_) {
    if (id == id_ || pr.recent_active) active.insert(id);
  }
  return HasQuorum(Voters(), active);
}

bool Raft::CommittedEntryInCurrentTerm() const {
  auto t = log_.Term(log_.committed());
  return t.ok() && t.value == term_;
}

Error Raft::StepLeader(Message m) {
  switch (m.type()) {
    case Message::MSG_BEAT:
      BcastHeartbeat();
      return Error::kOk;
    case Message::MSG_CHECK_QUORUM:
      if (!QuorumActive()) BecomeFollower(term_, kNone);
      // Start the next observation window from scratch.
      for (auto& [id, pr] : prs_) {
        if (id != id_) pr.recent_active = false;
      }
      return Error::kOk;
    case Message::MSG_PROP: {
      if (m.entries_size() == 0) return Error::kProposalDropped;
      if (progress(id_) == nullptr) {
        // Removed from the configuration while still leading.
        return Error::kProposalDropped;
      }
      if (lead_transferee_ != kNone) return Error::kProposalDropped;
      std::vector<Entry> es(m.entries().begin(), m.entries().end());
      for (size_t i = 0; i < es.size(); ++i) {
        if (es[i].type() != Entry::CONF_CHANGE) continue;
        if (HasPendingConfChange()) {
          // One change at a time: keep the slot (callers may track it) but
          // make it a no-op.
          es[i] = Entry();
          es[i].set_type(Entry::NORMAL);
        } else {
          pending_conf_index_ = log_.LastIndex() + i + 1;
        }
      }
      if (!AppendEntry(std::move(es))) return Error::kProposalDropped;
      BcastAppend();
      return Error::kOk;
    }
    case Message::MSG_READ_INDEX:
      HandleReadIndex(m);
      return Error::kOk;
    default:
      break;
  }

  Progress* pr = progress(m.from());
  if (pr == nullptr) return Error::kOk;  // unknown or removed peer
  switch (m.type()) {
    case Message::MSG_APP_RESP:
      HandleAppendResponse(m, pr);
      break;
    case Message::MSG_HEARTBEAT_RESP:
      HandleHeartbeatResponse(m, pr);
      break;
    case Message::MSG_SNAP_STATUS:
      if (pr->state != ProgressState::kSnapshot) break;
      if (m.reject()) pr->pending_snapshot = 0;
      // Either way probe from here; on success BecomeProbe starts after
      // the snapshot. Wait for a heartbeat response before the next probe
      // (the follower may still be applying the snapshot).
      pr->BecomeProbe();
      pr->probe_sent = true;
      break;
    case Message::MSG_UNREACHABLE:
      // Optimistic pipelining assumed delivery; start over by probing.
      if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
      break;
    case Message::MSG_TRANSFER_LEADER:
      HandleTransferLeader(m, pr);
      break;
    default:
      break;
  }
  return Error::kOk;
}

void Raft::HandleAppendResponse(const Message& m, Progress* pr) {
  pr->recent_active = true;
  if (m.reject()) {
    // Fast back-off: the follower says where its log could match; with its
    // term at that index we can skip every entry of a mismatching term.
    uint64_t next_probe = m.reject_hint();
    if (m.log_term() > 0) {
      next_probe = log_.FindConflictByTerm(m.reject_hint(), m.log_term()).first;
    }
    if (pr->MaybeDecrTo(m.index(), next_probe)) {
      if (pr->state == ProgressState::kReplicate) pr->BecomeProbe();
      SendAppend(m.from());
    }
    return;
  }
  // A follower cannot hold what we never had: such an answer is forged or
  // corrupt, and would make us commit entries that do not exist.
  if (m.index() > log_.LastIndex()) return;
  const bool was_paused = pr->IsPaused();
  if (!pr->MaybeUpdate(m.index())) return;
  switch (pr->state) {
    case ProgressState::kProbe:
      pr->BecomeReplicate();
      break;
    case ProgressState::kSnapshot:
      // The follower caught up past the snapshot through some other path
      // (or installed it): it can take entries again.
      if (pr->match >= pr->pending_snapshot) {
        pr->BecomeProbe();
        pr->BecomeReplicate();
      }
      break;
    case ProgressState::kReplicate:
      pr->inflights.FreeLE(m.index());
      break;
  }
  if (MaybeCommit()) {
    ReleasePendingReadIndexMessages();
    BcastAppend();
  } else if (was_paused) {
    SendAppend(m.from());
  }
  // Fill the pipeline while the window allows (pipelining).
  while (MaybeSendAppend(m.from(), false)) {
  }
  if (m.from() == lead_transferee_ && pr->match == log_.LastIndex()) {
    SendTimeoutNow(m.from());
  }
}

void Raft::HandleHeartbeatResponse(const Message& m, Progress* pr) {
  pr->recent_active = true;
  pr->probe_sent = false;
  // The follower is alive: if acks were lost and the window is full, let
  // one more message through so replication cannot stall.
  if (pr->state == ProgressState::kReplicate && pr->inflights.Full()) {
    pr->inflights.FreeFirstOne();
  }
  if (pr->match < log_.LastIndex()) SendAppend(m.from());
  if (m.context().empty()) return;
  const auto* acks = read_only_.RecvAck(m.from(), m.context());
  if (acks == nullptr || !HasQuorum(Voters(), *acks)) return;
  for (const auto& rs : read_only_.Advance(m.context())) {
    SendReadIndexResponse(rs);
  }
}

void Raft::HandleTransferLeader(const Message& m, Progress* pr) {
  if (pr->is_learner) return;  // a learner cannot lead
  const uint64_t transferee = m.from();
  if (lead_transferee_ != kNone) {
    if (lead_transferee_ == transferee) return;  // already in progress
    AbortLeaderTransfer();
  }
  if (transferee == id_) return;
  // The transfer must finish within an election timeout (TickHeartbeat).
  election_elapsed_ = 0;
  lead_transferee_ = transferee;
  if (pr->match == log_.LastIndex()) {
    SendTimeoutNow(transferee);
  } else {
    SendAppend(transferee);  // catch it up first
  }
}

void Raft::HandleReadIndex(const Message& m) {
  if (m.entries_size() != 1) return;
  if (Voters().size() <= 1) {
    // Alone, our commit index is current by definition.
    ReadIndexStatus rs{m, log_.committed(), {}};
    SendReadIndexResponse(rs);
    return;
  }
  if (!CommittedEntryInCurrentTerm()) {
    // Until an entry of our term commits we do not know the latest commit
    // index (thesis 6.4, step 1); answer once it does.
    pending_read_index_messages_.push_back(m);
    return;
  }
  read_only_.AddRequest(log_.committed(), m);
  read_only_.RecvAck(id_, m.entries(0).data());
  BcastHeartbeatWithCtx(m.entries(0).data());
}

void Raft::ReleasePendingReadIndexMessages() {
  if (pending_read_index_messages_.empty()) return;
  if (!CommittedEntryInCurrentTerm()) return;
  auto msgs = std::move(pending_read_index_messages_);
  pending_read_index_messages_.clear();
  for (const auto& m : msgs) HandleReadIndex(m);
}

void Raft::SendReadIndexResponse(const ReadIndexStatus& rs) {
  const Message& req = rs.req;
  if (req.from() == kNone || req.from() == id_) {
    read_states_.push_back(ReadState{rs.index, req.entries(0).data()});
    return;
  }
  Message resp;
  resp.set_type(Message::MSG_READ_INDEX_RESP);
  resp.set_to(req.from());
  resp.set_index(rs.index);
  *resp.mutable_entries() = req.entries();
  Send(std::move(resp));
}

}  // namespace orch::raft
