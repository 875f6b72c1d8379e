#include "master/raft/quorum.h"

#include <algorithm>
#include <functional>

namespace orch::raft {

uint64_t CommittedIndex(std::vector<uint64_t> matches) {
  if (matches.empty()) return 0;
  std::sort(matches.begin(), matches.end(), std::greater<>());
  // With n voters a majority is n/2+1; the (n/2+1)-th largest match is held
  // by at least that many voters.
  return matches[matches.size() / 2];
}

VoteResult TallyVotes(const std::set<uint64_t>& voters, const std::map<uint64_t, bool>& votes) {
  if (voters.empty()) return VoteResult::kWon;
  size_t granted = 0, missing = 0;
  for (uint64_t id : voters) {
    auto it = votes.find(id);
    if (it == votes.end()) {
      ++missing;
    } else if (it->second) {
      ++granted;
    }
  }
  const size_t q = voters.size() / 2 + 1;
  if (granted >= q) return VoteResult::kWon;
  if (granted + missing >= q) return VoteResult::kPending;
  return VoteResult::kLost;
}

bool HasQuorum(const std::set<uint64_t>& voters, const std::set<uint64_t>& ids) {
  std::map<uint64_t, bool> votes;
  for (uint64_t id : ids) votes[id] = true;
  return !voters.empty() && TallyVotes(voters, votes) == VoteResult::kWon;
}

}  // namespace orch::raft
