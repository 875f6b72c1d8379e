// Majority quorum arithmetic: the commit index a set of voters agrees on,
// and the outcome of an election. Pure functions over plain containers.
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

namespace orch::raft {

enum class VoteResult { kPending, kLost, kWon };

// The largest index acknowledged by a majority of voters, given each
// voter's match index. 0 when there are no voters (nothing can commit).
uint64_t CommittedIndex(std::vector<uint64_t> matches);

// Tally of votes (id -> granted) among voters; ids not in voters (learners,
// removed nodes) are ignored. An empty voter set wins, like etcd, so a
// configuration without voters does not block forever.
VoteResult TallyVotes(const std::set<uint64_t>& voters, const std::map<uint64_t, bool>& votes);

// True if ids (e.g. nodes that acked a read, or were recently active)
// contain a majority of voters.
bool HasQuorum(const std::set<uint64_t>& voters, const std::set<uint64_t>& ids);

}  // namespace orch::raft
