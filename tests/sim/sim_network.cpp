// The simulated network and fault injection: delay, loss, duplication,
// partitions, crashes and restarts.
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

bool Simulation::Blocked(uint64_t from, uint64_t to) const {
  return blocked_.count({from, to}) != 0;
}

void Simulation::InjectFaults(bool chaotic) {
  if (!chaotic) {
    blocked_.clear();
    // Decommission machines the cluster removed. One that missed its own
    // removal keeps campaigning in its stale configuration and, without
    // pre-vote or check-quorum, deposes every leader (thesis 4.2.3); an
    // operator shuts such machines down.
    const Node* newest = nullptr;
    for (const auto& [id, n] : nodes_) {
      if (n->raw && (newest == nullptr || n->applied > newest->applied)) newest = n.get();
    }
    std::set<uint64_t> members;
    if (newest != nullptr) {
      members.insert(newest->conf.voters().begin(), newest->conf.voters().end());
      members.insert(newest->conf.learners().begin(), newest->conf.learners().end());
    }
    for (auto& [id, n] : nodes_) {
      if (!members.empty() && !members.count(id)) {
        if (n->raw) CrashNode(*n);
        continue;
      }
      if (!n->raw) StartNode(*n);
    }
    return;
  }
  if (heal_at_ != 0 && now_ >= heal_at_) {
    blocked_.clear();
    heal_at_ = 0;
    Trace("heal partition");
  }
  std::vector<uint64_t> ids;
  for (const auto& [id, n] : nodes_) ids.push_back(id);
  if (blocked_.empty() && Chance(opts_.partition)) {
    std::string desc;
    if (Chance(0.6)) {
      // Symmetric: a minority (possibly with the leader) is cut off.
      std::vector<uint64_t> shuffled = ids;
      for (size_t i = shuffled.size(); i > 1; --i) {
        std::swap(shuffled[i - 1], shuffled[Rand(i)]);
      }
      const size_t k = 1 + Rand(shuffled.size() / 2);
      std::set<uint64_t> side(shuffled.begin(), shuffled.begin() + k);
      for (uint64_t a : ids) {
        for (uint64_t b : ids) {
          if (side.count(a) != side.count(b)) blocked_.insert({a, b});
        }
      }
      desc = "symmetric partition, minority size " + std::to_string(k);
    } else {
      // One-way: some links drop in one direction only (e.g. a leader that
      // can send but not hear, the classic check-quorum case).
      const int links = 1 + static_cast<int>(Rand(3));
      for (int i = 0; i < links; ++i) {
        const uint64_t a = ids[Rand(ids.size())], b = ids[Rand(ids.size())];
        if (a != b) blocked_.insert({a, b});
      }
      desc = "one-way partition";
    }
    heal_at_ = now_ + 20 + Rand(80);
    Trace(desc);
  }
  size_t down = 0;
  for (const auto& [id, n] : nodes_) down += n->raw ? 0 : 1;
  if (down < (opts_.num_voters - 1) / 2 && Chance(opts_.crash)) {
    // Half the time hit the leader: leader crashes with entries replicated
    // to some followers only are where commit rules go wrong (Figure 8).
    Node* lead = Leader();
    Node& victim = lead != nullptr && Chance(0.5) ? *lead : *nodes_[ids[Rand(ids.size())]];
    if (victim.raw) {
      CrashNode(victim);
      victim.restart_at = now_ + 10 + Rand(50);
    }
  }
  // Crashes right after a vote or term change was persisted (and its
  // messages sent), with a quick restart: the window in which forgetting
  // durable state would let a node vote twice in one term.
  for (auto& [id, n] : nodes_) {
    if (!n->crash_after_vote) continue;
    n->crash_after_vote = false;
    if (n->raw && down < (opts_.num_voters - 1) / 2) {
      CrashNode(*n);
      n->restart_at = now_ + 1 + Rand(4);
      ++down;
    }
  }
  for (auto& [id, n] : nodes_) {
    if (!n->raw && n->restart_at <= now_) StartNode(*n);
  }
}

void Simulation::Send(const Message& m) {
  ++stats_.messages;
  if (opts_.trace &&
      (m.type() == Message::MSG_VOTE || m.type() == Message::MSG_PRE_VOTE ||
       m.type() == Message::MSG_VOTE_RESP || m.type() == Message::MSG_PRE_VOTE_RESP)) {
    Trace(Message::Type_Name(m.type()) + " " + std::to_string(m.from()) + "->" +
          std::to_string(m.to()) + " term " + std::to_string(m.term()) +
          (m.reject() ? " reject" : ""));
  }
  if (m.type() == Message::MSG_SNAP) ++stats_.snapshots_sent;
  if (chaotic_ && Chance(opts_.drop)) {
    DropMessage(m);
    return;
  }
  const int copies = chaotic_ && Chance(opts_.duplicate) ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    in_flight_.push_back(InFlight{now_ + 1 + Rand(opts_.max_delay + 1), m});
  }
}

void Simulation::DropMessage(const Message& m) {
  // The transport tells the leader a snapshot did not arrive, otherwise it
  // would wait for it forever.
  if (m.type() != Message::MSG_SNAP) return;
  auto it = nodes_.find(m.from());
  if (it != nodes_.end() && it->second->raw) {
    it->second->raw->ReportSnapshot(m.to(), false);
  }
}

void Simulation::DeliverMessages() {
  std::vector<InFlight> due, later;
  for (auto& f : in_flight_) {
    (f.deliver_at <= now_ ? due : later).push_back(std::move(f));
  }
  in_flight_ = std::move(later);
  for (size_t i = due.size(); i > 1; --i) std::swap(due[i - 1], due[Rand(i)]);
  for (auto& f : due) {
    const Message& m = f.msg;
    auto it = nodes_.find(m.to());
    if (it == nodes_.end() || !it->second->raw || Blocked(m.from(), m.to())) {
      DropMessage(m);
      continue;
    }
    it->second->raw->Step(m);
    if (m.type() == Message::MSG_SNAP) {
      auto from = nodes_.find(m.from());
      if (from != nodes_.end() && from->second->raw) {
        from->second->raw->ReportSnapshot(m.to(), true);
      }
    }
  }
}

}  // namespace orch::sim
