#include "master/replication/member_directory.h"

#include <algorithm>

namespace orch::replication {

uint64_t RaftIdOf(const std::string& member_id) {
  // FNV-1a: stable across builds and machines, unlike std::hash.
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : member_id) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h == 0 ? 1 : h;
}

void MemberDirectory::Put(const v1::Member& m) {
  std::lock_guard lock(mu_);
  members_[m.id()] = m;
  names_[m.raft_id()] = m.id();
}

void MemberDirectory::AddKnown(const std::vector<v1::Member>& members) {
  std::lock_guard lock(mu_);
  for (v1::Member m : members) {
    if (m.id().empty() || m.raft_address().empty()) continue;
    m.set_raft_id(RaftIdOf(m.id()));
    if (!members_.count(m.id())) members_[m.id()] = m;
    names_[m.raft_id()] = m.id();
  }
}

void MemberDirectory::AddPeer(const std::string& id, const std::string& raft_address) {
  std::lock_guard lock(mu_);
  if (!members_.count(id)) {
    v1::Member m;
    m.set_id(id);
    m.set_raft_id(RaftIdOf(id));
    m.set_raft_address(raft_address);
    members_[id] = m;
  }
  names_[RaftIdOf(id)] = id;
}

v1::Member MemberDirectory::Apply(const raft::ConfChange& cc, v1::Member member) {
  const bool removed = cc.type() == raft::ConfChange::REMOVE_NODE;
  std::lock_guard lock(mu_);
  auto name = names_.find(cc.node_id());
  if (member.id().empty() && name != names_.end()) member = members_[name->second];
  if (member.id().empty()) member.set_id("raft-" + std::to_string(cc.node_id()));
  member.set_raft_id(cc.node_id());
  member.set_role(cc.type() == raft::ConfChange::ADD_LEARNER ? v1::Member::LEARNER
                                                             : v1::Member::VOTER);
  if (removed) {
    members_.erase(member.id());
    names_.erase(cc.node_id());
  } else {
    auto& known = members_[member.id()];
    if (member.http_address().empty()) member.set_http_address(known.http_address());
    if (member.raft_address().empty()) member.set_raft_address(known.raft_address());
    known = member;
    names_[cc.node_id()] = member.id();
  }
  return member;
}

void MemberDirectory::SetHttpAddress(const std::string& id, const std::string& http_address) {
  std::lock_guard lock(mu_);
  auto it = members_.find(id);
  if (it != members_.end()) it->second.set_http_address(http_address);
}

std::string MemberDirectory::NameOf(uint64_t raft_id) const {
  std::lock_guard lock(mu_);
  auto it = names_.find(raft_id);
  return it == names_.end() ? "raft-" + std::to_string(raft_id) : it->second;
}

std::optional<v1::Member> MemberDirectory::Find(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto it = members_.find(id);
  if (it == members_.end()) return std::nullopt;
  return it->second;
}

bool MemberDirectory::Contains(const std::string& id) const {
  std::lock_guard lock(mu_);
  return members_.count(id) && names_.count(RaftIdOf(id));
}

std::string MemberDirectory::HttpAddressOf(uint64_t raft_id) const {
  std::lock_guard lock(mu_);
  auto name = names_.find(raft_id);
  if (name == names_.end()) return "";
  auto it = members_.find(name->second);
  return it == members_.end() ? "" : it->second.http_address();
}

std::vector<v1::Member> MemberDirectory::All() const {
  std::lock_guard lock(mu_);
  std::vector<v1::Member> out;
  for (const auto& [id, m] : members_) out.push_back(m);
  return out;
}

void MemberDirectory::RefreshView(const raft::ConfState& conf, const raft::Raft& r) {
  std::vector<v1::Member> view;
  for (uint64_t id : conf.voters()) {
    v1::Member m;
    m.set_raft_id(id);
    m.set_role(v1::Member::VOTER);
    view.push_back(m);
  }
  for (uint64_t id : conf.learners()) {
    v1::Member m;
    m.set_raft_id(id);
    m.set_role(v1::Member::LEARNER);
    view.push_back(m);
  }
  std::lock_guard lock(mu_);
  for (auto& m : view) {
    auto name = names_.find(m.raft_id());
    if (name != names_.end()) {
      const v1::Member& known = members_[name->second];
      m.set_id(known.id());
      m.set_raft_address(known.raft_address());
      m.set_http_address(known.http_address());
    } else {
      m.set_id("raft-" + std::to_string(m.raft_id()));
    }
    m.set_leader(m.raft_id() == r.lead());
    if (r.state() == raft::StateType::kLeader) {
      auto it = r.progress().find(m.raft_id());
      if (it != r.progress().end()) m.set_match_index(it->second.match);
    }
  }
  std::sort(view.begin(), view.end(),
            [](const v1::Member& a, const v1::Member& b) { return a.id() < b.id(); });
  view_ = std::move(view);
}

std::vector<v1::Member> MemberDirectory::View() const {
  std::lock_guard lock(mu_);
  return view_;
}

}  // namespace orch::replication
