// RaftNode's membership: committed membership changes applied to the core,
// the member directory and the state; proposing additions, promotions,
// removals and leadership transfers; announcing this master's REST address.
#include <spdlog/spdlog.h>

#include <thread>

#include "master/replication/raft_node.h"

namespace orch::replication {

using raft::ConfChange;
using raft::Entry;

Status RaftNode::ApplyConfChangeEntry(const Entry& e) {
  ConfChange cc;
  if (!cc.ParseFromString(e.data())) {
    spdlog::error("raft: entry {} is not a ConfChange; skipping it", e.index());
    return store_->MarkApplied(e.index());
  }
  conf_state_ = node_->ApplyConfChange(cc);
  v1::ConfChangeContext ctx;
  ctx.ParseFromString(cc.context());
  v1::Member member = ctx.member();
  const bool removed = cc.type() == ConfChange::REMOVE_NODE;
  member = directory_.Apply(cc, std::move(member));
  if (transport_ && cc.node_id() != raft_id_) {
    if (removed) {
      transport_->RemovePeer(cc.node_id());
    } else if (!member.raft_address().empty()) {
      transport_->SetPeer(cc.node_id(), member.raft_address());
    }
  }
  bool fresh = e.index() > store_->AppliedIndex();
  ORCH_RETURN_IF_ERROR(store_->ApplyMembership(e.index(), member, removed));
  if (fresh) {
    spdlog::info("raft: member {} {} (index {})", member.id(),
                 removed
                     ? "removed"
                     : (cc.type() == ConfChange::ADD_LEARNER ? "added as learner" : "is a voter"),
                 e.index());
  }
  if (ctx.request_id() != 0) Complete(ctx.request_id(), Status::Ok(), e.index());
  if (removed && cc.node_id() == raft_id_) {
    spdlog::warn("raft: this master ({}) was removed from the cluster", opts_.member_id);
    // It will never learn whether its other pending writes committed.
    FailAllWaiters(
        Status::DeadlineExceeded("master " + opts_.member_id +
                                 " was removed from the cluster; the write's outcome is unknown"));
  }
  return Status::Ok();
}

void RaftNode::AnnounceHttpAddress() {
  announced_ = true;
  if (opts_.http_address.empty()) return;
  auto me = directory_.Find(opts_.member_id);
  if (me && me->http_address() == opts_.http_address) return;
  // Proposed from the loop thread: do not wait for it here.
  v1::Command cmd;
  cmd.mutable_update_member()->set_id(opts_.member_id);
  cmd.mutable_update_member()->set_http_address(opts_.http_address);
  (void)node_->Propose(cmd.SerializeAsString());
}

Status RaftNode::ProposeConfChangeAndWait(ConfChange cc, const v1::Member& member,
                                          std::chrono::milliseconds timeout) {
  if (!leader_.load()) {
    std::string lead = LeaderId();
    return Status::Unavailable(lead.empty() ? "no leader to change the membership"
                                            : "membership changes go to the leader, " + lead);
  }
  uint64_t id = NewRequestId();
  v1::ConfChangeContext ctx;
  *ctx.mutable_member() = member;
  ctx.set_request_id(id);
  cc.set_context(ctx.SerializeAsString());
  auto out = Await(
      [&](ProposeDone done) {
        return Enqueue(
            id,
            [this, id, cc] {
              raft::Error err = node_->ProposeConfChange(cc);
              if (err == raft::Error::kConfChangePending) {
                Complete(id,
                         Status::FailedPrecondition(
                             "another membership change is still being applied; retry"),
                         0);
              } else if (err != raft::Error::kOk) {
                Complete(id,
                         Status::Unavailable("membership change dropped: not the leader any more"),
                         0);
              }
            },
            std::move(done));
      },
      timeout);
  if (!out) return Status::DeadlineExceeded("membership change not committed in time");
  return out->first;
}

Status RaftNode::AddMember(const v1::Member& member, bool learner,
                           std::chrono::milliseconds timeout) {
  if (directory_.Contains(member.id())) {
    return Status::AlreadyExists("member " + member.id() + " is already in the cluster");
  }
  v1::Member m = member;
  m.set_raft_id(RaftIdOf(m.id()));
  ConfChange cc;
  cc.set_type(learner ? ConfChange::ADD_LEARNER : ConfChange::ADD_NODE);
  cc.set_node_id(m.raft_id());
  return ProposeConfChangeAndWait(cc, m, timeout);
}

Status RaftNode::ChangeExistingMember(const std::string& id, ConfChange::Type type,
                                      std::chrono::milliseconds timeout) {
  auto m = directory_.Find(id);
  if (!m) return Status::NotFound("member " + id + " is not in the cluster");
  ConfChange cc;
  cc.set_type(type);
  cc.set_node_id(RaftIdOf(id));
  return ProposeConfChangeAndWait(cc, *m, timeout);
}

Status RaftNode::PromoteMember(const std::string& id, std::chrono::milliseconds timeout) {
  // Only a learner close to the leader's log becomes a voter (as etcd
  // refuses to promote a learner not in sync): a voter far behind counts in
  // the quorum without being able to acknowledge anything, and with one
  // other member down the cluster stops accepting writes until it caught up.
  uint64_t leader_match = 0, match = 0;
  bool learner = false;
  for (const auto& m : Members()) {
    if (m.leader()) leader_match = m.match_index();
    if (m.id() == id) {
      learner = m.role() == v1::Member::LEARNER;
      match = m.match_index();
    }
  }
  // leader_match is 0 where this master does not lead: the proposal fails
  // there anyway (writes reach the leader through forwarding).
  if (learner && leader_match > 0 && match + kMaxPromotionLag < leader_match) {
    return Status::FailedPrecondition(
        "learner " + id + " is " + std::to_string(leader_match - match) +
        " entries behind the leader (at most " + std::to_string(kMaxPromotionLag) +
        " to be promoted); wait until it has caught up");
  }
  return ChangeExistingMember(id, ConfChange::ADD_NODE, timeout);
}

Status RaftNode::RemoveMember(const std::string& id, std::chrono::milliseconds timeout) {
  return ChangeExistingMember(id, ConfChange::REMOVE_NODE, timeout);
}

Status RaftNode::TransferLeadership(const std::string& id, std::chrono::milliseconds timeout) {
  uint64_t target = RaftIdOf(id);
  if (!directory_.Find(id)) return Status::NotFound("member " + id + " is not in the cluster");
  {
    std::lock_guard lock(mu_);
    tasks_.push_back([this, target] { node_->TransferLeader(target); });
  }
  cv_.notify_one();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (lead_.load() == target) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Status::DeadlineExceeded("leadership did not move to " + id +
                                  " in time (is it caught up?)");
}

}  // namespace orch::replication
