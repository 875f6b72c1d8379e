// MemberDirectory: who the members of a Raft cluster are, by name. Raft
// knows members by 64-bit ids; masters, operators and the transport know
// them by member id ("m1") with a Raft and a REST address. The directory
// maps one to the other, learns addresses from committed membership
// changes, the state's member table, --peers and --join, and keeps the view
// operators see (GET /v1/cluster/members).
// Thread safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "master/raft/raft.h"
#include "orch/v1/types.pb.h"

namespace orch::replication {

// The Raft id of member `id` (a stable 64-bit hash, never 0).
uint64_t RaftIdOf(const std::string& member_id);

class MemberDirectory {
 public:
  // Records `m` (its raft_id set) as it is, replacing what was known.
  void Put(const v1::Member& m);
  // Records members learned out of band (--join) unless already known.
  void AddKnown(const std::vector<v1::Member>& members);
  // A founding peer (--peers), unless the state already knows it.
  void AddPeer(const std::string& id, const std::string& raft_address);
  // Records a committed membership change; `member` is what the change's
  // context carried (may lack addresses, or even the id). Returns the
  // member as recorded (for a removal: as it was).
  v1::Member Apply(const raft::ConfChange& cc, v1::Member member);
  // A committed new REST address of member `id`.
  void SetHttpAddress(const std::string& id, const std::string& http_address);

  // The member id of `raft_id` ("raft-N" when unknown).
  std::string NameOf(uint64_t raft_id) const;
  std::optional<v1::Member> Find(const std::string& id) const;
  // Whether `id` is known under its own Raft id (a member, not a name).
  bool Contains(const std::string& id) const;
  // The REST address of the member with `raft_id` ("" when unknown).
  std::string HttpAddressOf(uint64_t raft_id) const;
  std::vector<v1::Member> All() const;

  // Rebuilds the operators' view from the configuration: voters and
  // learners with their names and addresses, the leader marked and, on the
  // leader, each member's match index. `r` is read on the caller's thread.
  void RefreshView(const raft::ConfState& conf, const raft::Raft& r);
  // The view as of the last RefreshView, sorted by member id.
  std::vector<v1::Member> View() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, v1::Member> members_;  // by member id
  std::map<uint64_t, std::string> names_;      // raft id -> member id
  std::vector<v1::Member> view_;
};

}  // namespace orch::replication
