// Raft safety properties, checked after every simulated tick: election
// safety, log matching, leader completeness and (in ApplyEntry) state
// machine safety.
#include <algorithm>

#include "tests/sim/sim_node.h"
#include "tests/sim/simulation.h"

namespace orch::sim {

using orch::raft::ConfChange;
using orch::raft::ConfState;
using orch::raft::Entry;
using orch::raft::Error;
using orch::raft::Message;
using orch::raft::StateType;

void Simulation::RecordCommits(Node& n) {
  const auto& r = n.raw->raft();
  const auto& log = r.log();
  uint64_t from = std::max(n.seen_commit + 1, log.FirstIndex());
  for (uint64_t i = from; i <= log.committed(); ++i) {
    auto t = log.Term(i);
    if (!t.ok()) continue;
    auto [it, fresh] = committed_.emplace(i, Committed{t.value, r.term()});
    if (!fresh && it->second.term != t.value) {
      Fail("node " + std::to_string(n.id) + " committed term " + std::to_string(t.value) +
           " at index " + std::to_string(i) + " where term " + std::to_string(it->second.term) +
           " was committed");
      return;
    }
  }
  n.seen_commit = std::max(n.seen_commit, log.committed());
}

void Simulation::CheckLogMatching(Node& a, Node& b) {
  const auto& la = a.raw->raft().log();
  const auto& lb = b.raw->raft().log();
  const uint64_t lo = std::max(la.FirstIndex(), lb.FirstIndex()) - 1;
  const uint64_t hi = std::min(la.LastIndex(), lb.LastIndex());
  if (lo > hi) return;
  // If two logs agree on the term at some index, they agree on everything
  // before it.
  uint64_t i = hi;
  while (i > lo && la.Term(i).value != lb.Term(i).value) --i;
  if (la.Term(i).value != lb.Term(i).value) return;  // no common entry
  for (uint64_t j = lo; j <= i; ++j) {
    if (la.Term(j).value != lb.Term(j).value) {
      Fail("log matching: nodes " + std::to_string(a.id) + " and " + std::to_string(b.id) +
           " agree at index " + std::to_string(i) + " but differ at " + std::to_string(j));
      return;
    }
  }
}

void Simulation::CheckInvariants() {
  std::vector<Node*> live;
  for (auto& [id, n] : nodes_) {
    if (n->raw) live.push_back(n.get());
  }
  for (Node* n : live) {
    RecordCommits(*n);
    const auto& r = n->raw->raft();
    if (r.state() != StateType::kLeader) continue;
    // Election safety.
    auto [it, fresh] = leader_of_term_.emplace(r.term(), n->id);
    if (!fresh && it->second != n->id) {
      Fail("election safety: nodes " + std::to_string(it->second) + " and " +
           std::to_string(n->id) + " both lead term " + std::to_string(r.term()));
      return;
    }
    // Leader completeness: the newest entry known committed before this
    // term is in this leader's log (log matching covers the prefix).
    for (auto c = committed_.rbegin(); c != committed_.rend(); ++c) {
      if (c->second.observed_in >= r.term()) continue;
      const uint64_t idx = c->first;
      if (idx + 1 >= r.log().FirstIndex()) {
        auto t = r.log().Term(idx);
        if (idx > r.log().LastIndex() || !t.ok() || t.value != c->second.term) {
          Fail("leader completeness: leader " + std::to_string(n->id) + " of term " +
               std::to_string(r.term()) + " lacks committed index " + std::to_string(idx));
          return;
        }
      }
      break;
    }
  }
  for (size_t i = 0; i < live.size() && !failure_; ++i) {
    for (size_t j = i + 1; j < live.size() && !failure_; ++j) {
      CheckLogMatching(*live[i], *live[j]);
    }
  }
}

}  // namespace orch::sim
