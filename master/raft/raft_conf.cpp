// Membership: one change at a time, applied when its entry is applied.
#include "master/raft/raft.h"

namespace orch::raft {

Progress Raft::MakeProgress(bool learner) const {
  return Progress(log_.LastIndex() + 1, cfg_.max_inflight_msgs, cfg_.max_inflight_bytes, learner);
}

void Raft::ApplyInitialConf(const ConfState& cs) {
  for (uint64_t id : cs.voters()) {
    auto [it, _] = prs_.insert_or_assign(id, MakeProgress(false));
    if (id == id_) it->second.match = log_.LastIndex();
  }
  for (uint64_t id : cs.learners()) {
    auto [it, _] = prs_.insert_or_assign(id, MakeProgress(true));
    if (id == id_) it->second.match = log_.LastIndex();
  }
}

std::set<uint64_t> Raft::Voters() const {
  std::set<uint64_t> v;
  for (const auto& [id, pr] : prs_) {
    if (!pr.is_learner) v.insert(id);
  }
  return v;
}

ConfState Raft::GetConfState() const {
  ConfState cs;
  for (const auto& [id, pr] : prs_) {
    if (pr.is_learner) {
      cs.add_learners(id);
    } else {
      cs.add_voters(id);
    }
  }
  return cs;
}

ConfState Raft::ApplyConfChange(const ConfChange& cc) {
  switch (cc.type()) {
    case ConfChange::ADD_NODE:
      AddNode(cc.node_id(), false);
      break;
    case ConfChange::ADD_LEARNER:
      AddNode(cc.node_id(), true);
      break;
    case ConfChange::REMOVE_NODE:
      RemoveNode(cc.node_id());
      break;
    default:
      break;
  }
  return GetConfState();
}

void Raft::AddNode(uint64_t id, bool learner) {
  if (id == kNone) return;
  auto it = prs_.find(id);
  if (it == prs_.end()) {
    it = prs_.emplace(id, MakeProgress(learner)).first;
    if (id == id_) it->second.match = log_.LastIndex();
  } else if (it->second.is_learner && !learner) {
    it->second.is_learner = false;  // promotion
  } else {
    // Already there in that role, or a voter demotion to learner which we
    // do not support (it would need joint consensus to be safe).
    return;
  }
  // A new member has not had the chance to talk to us; counting it as
  // inactive could make check-quorum depose a healthy leader.
  it->second.recent_active = true;
  if (state_ == StateType::kLeader && id != id_) {
    // A promotion changes the quorum; a new node needs the log.
    if (MaybeCommit()) {
      ReleasePendingReadIndexMessages();
      BcastAppend();
    } else {
      SendAppend(id);
    }
  }
}

void Raft::RemoveNode(uint64_t id) {
  if (prs_.erase(id) == 0) return;
  if (id == id_ && state_ == StateType::kLeader) {
    // A leader outside the configuration cannot count itself; step down
    // and let the remaining voters elect one of their own.
    BecomeFollower(term_, kNone);
    return;
  }
  if (Voters().empty()) return;
  if (state_ == StateType::kLeader) {
    // The quorum shrank: entries may now be committed.
    if (MaybeCommit()) {
      ReleasePendingReadIndexMessages();
      BcastAppend();
    }
    if (lead_transferee_ == id) AbortLeaderTransfer();
  }
}

}  // namespace orch::raft
