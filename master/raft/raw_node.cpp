#include "master/raft/raw_node.h"

namespace orch::raft {

bool IsLocalMessage(Message::Type t) {
  return t == Message::MSG_HUP || t == Message::MSG_BEAT || t == Message::MSG_UNREACHABLE ||
         t == Message::MSG_SNAP_STATUS || t == Message::MSG_CHECK_QUORUM;
}

bool IsResponseMessage(Message::Type t) {
  return t == Message::MSG_APP_RESP || t == Message::MSG_VOTE_RESP ||
         t == Message::MSG_HEARTBEAT_RESP || t == Message::MSG_UNREACHABLE ||
         t == Message::MSG_PRE_VOTE_RESP;
}

bool IsEmptyHardState(const HardState& hs) {
  return hs.term() == 0 && hs.vote() == 0 && hs.commit() == 0;
}

bool HardStateEqual(const HardState& a, const HardState& b) {
  return a.term() == b.term() && a.vote() == b.vote() && a.commit() == b.commit();
}

Result<std::unique_ptr<RawNode>> RawNode::Create(const Config& c) {
  if (Error e = c.Validate(); e != Error::kOk) return e;
  return std::unique_ptr<RawNode>(new RawNode(c));
}

RawNode::RawNode(const Config& c) : raft_(c) {
  prev_soft_ = CurrentSoftState();
  prev_hard_ = raft_.GetHardState();
}

Error RawNode::Campaign() {
  Message m;
  m.set_type(Message::MSG_HUP);
  return raft_.Step(std::move(m));
}

Error RawNode::Propose(std::string data) {
  Message m;
  m.set_type(Message::MSG_PROP);
  m.set_from(raft_.id());
  auto* e = m.add_entries();
  e->set_type(Entry::NORMAL);
  e->set_data(std::move(data));
  return raft_.Step(std::move(m));
}

Error RawNode::ProposeConfChange(const ConfChange& cc) {
  if (raft_.state() == StateType::kLeader && raft_.HasPendingConfChange()) {
    return Error::kConfChangePending;
  }
  Message m;
  m.set_type(Message::MSG_PROP);
  m.set_from(raft_.id());
  auto* e = m.add_entries();
  e->set_type(Entry::CONF_CHANGE);
  e->set_data(cc.SerializeAsString());
  return raft_.Step(std::move(m));
}

Error RawNode::Step(const Message& m) {
  if (IsLocalMessage(m.type())) return Error::kStepLocalMsg;
  // Term 0 marks a local message inside the core; from a peer only a
  // forwarded proposal or read-index request travels without a term.
  // (Found by the raft_frame fuzzer: a MsgVote of term 0 made the core
  // answer with term 0, which it refuses to send, and abort.)
  if (m.term() == 0 && m.type() != Message::MSG_PROP && m.type() != Message::MSG_READ_INDEX) {
    return Error::kStepLocalMsg;
  }
  if (IsResponseMessage(m.type()) && raft_.progress(m.from()) == nullptr &&
      raft_.state() == StateType::kLeader) {
    return Error::kStepPeerNotFound;
  }
  return raft_.Step(m);
}

Error RawNode::ReadIndex(std::string ctx) {
  Message m;
  m.set_type(Message::MSG_READ_INDEX);
  m.add_entries()->set_data(std::move(ctx));
  return raft_.Step(std::move(m));
}

void RawNode::TransferLeader(uint64_t transferee) {
  Message m;
  m.set_type(Message::MSG_TRANSFER_LEADER);
  m.set_from(transferee);
  raft_.Step(std::move(m));
}

void RawNode::ReportUnreachable(uint64_t id) {
  Message m;
  m.set_type(Message::MSG_UNREACHABLE);
  m.set_from(id);
  raft_.Step(std::move(m));
}

void RawNode::ReportSnapshot(uint64_t id, bool ok) {
  Message m;
  m.set_type(Message::MSG_SNAP_STATUS);
  m.set_from(id);
  m.set_reject(!ok);
  raft_.Step(std::move(m));
}

bool RawNode::HasReady() const {
  if (!(CurrentSoftState() == prev_soft_)) return true;
  const HardState hs = raft_.GetHardState();
  if (!IsEmptyHardState(hs) && !HardStateEqual(hs, prev_hard_)) return true;
  const RaftLog& log = raft_.log();
  return log.HasPendingSnapshot() || log.HasUnstableEntries() || log.HasNextEntries() ||
         !raft_.messages().empty() || !raft_.read_states().empty();
}

Ready RawNode::GetReady() {
  Ready rd;
  RaftLog& log = raft_.log();
  rd.entries = log.UnstableEntries();
  rd.committed_entries = log.NextEntries();
  rd.messages = raft_.TakeMessages();
  rd.read_states = raft_.TakeReadStates();
  const SoftState ss = CurrentSoftState();
  if (!(ss == prev_soft_)) {
    rd.soft_state = ss;
    prev_soft_ = ss;
  }
  const HardState hs = raft_.GetHardState();
  if (!HardStateEqual(hs, prev_hard_)) rd.hard_state = hs;
  if (log.HasPendingSnapshot()) rd.snapshot = log.GetSnapshot().value;
  // A new term or vote, or new entries, must survive a crash before any
  // message acting on them leaves; a commit index alone may be re-learned.
  rd.must_sync =
      !rd.entries.empty() ||
      (rd.hard_state && (hs.term() != prev_hard_.term() || hs.vote() != prev_hard_.vote()));
  return rd;
}

void RawNode::Advance(const Ready& rd) {
  RaftLog& log = raft_.log();
  if (rd.hard_state) prev_hard_ = *rd.hard_state;
  if (!rd.entries.empty()) {
    const Entry& last = rd.entries.back();
    log.StableTo(last.index(), last.term());
  }
  if (rd.snapshot) {
    log.StableSnapTo(rd.snapshot->metadata().index());
    log.AppliedTo(rd.snapshot->metadata().index());
  }
  if (!rd.committed_entries.empty()) {
    raft_.ReduceUncommittedSize(rd.committed_entries);
    log.AppliedTo(rd.committed_entries.back().index());
  }
}

Status RawNode::GetStatus() const {
  Status s;
  s.id = raft_.id();
  s.hard_state = raft_.GetHardState();
  s.soft_state = CurrentSoftState();
  s.applied = raft_.log().applied();
  if (raft_.state() == StateType::kLeader) {
    for (const auto& [id, pr] : raft_.progress()) {
      s.progress.emplace_back(id, pr.ToString());
    }
  }
  return s;
}

}  // namespace orch::raft
