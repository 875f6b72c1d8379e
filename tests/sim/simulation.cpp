#include "tests/sim/simulation.h"

#include <algorithm>
#include <iostream>

#include "master/raft/bootstrap.h"
#include "tests/sim/sim_node.h"

namespace orch::sim {

using orch::raft::ConfChange;
using orch::raft::Config;
using orch::raft::ConfState;
using orch::raft::Entry;
using orch::raft::Error;
using orch::raft::MemoryStorage;
using orch::raft::Message;
using orch::raft::RawNode;
using orch::raft::Ready;
using orch::raft::StateType;

namespace {
constexpr uint64_t kOpTimeoutTicks = 150;
}  // namespace

Simulation::Simulation(uint64_t seed, SimOptions opts) : seed_(seed), opts_(opts), rng_(seed) {}

Simulation::~Simulation() = default;

void Simulation::Trace(const std::string& what) {
  if (opts_.trace) std::cerr << "[t=" << now_ << "] " << what << "\n";
}

void Simulation::Fail(const std::string& what) {
  if (failure_) return;
  failure_ = "seed " + std::to_string(seed_) + " tick " + std::to_string(now_) + ": " + what;
}

Simulation::Node& Simulation::AddNode(uint64_t id, bool bootstrap) {
  auto n = std::make_unique<Node>();
  n->id = id;
  n->storage = std::make_unique<MemoryStorage>();
  if (bootstrap) {
    std::vector<uint64_t> voters;
    for (uint64_t v = 1; v <= opts_.num_voters; ++v) voters.push_back(v);
    auto bs = orch::raft::MakeBootstrapState(voters);
    n->storage->Append(bs.entries);
    n->storage->SetHardState(bs.hard_state);
  }
  Node& ref = *n;
  nodes_[id] = std::move(n);
  return ref;
}

void Simulation::StartNode(Node& n) {
  // Everything volatile is rebuilt from "disk": the snapshot, then the log
  // replay that Raft hands out as committed entries.
  const auto snap = n.storage->GetSnapshot().value;
  auto kv = KvStateMachine::Deserialize(snap.data());
  if (!kv) {
    Fail("node " + std::to_string(n.id) + ": corrupt snapshot");
    return;
  }
  n.kv = *kv;
  n.applied = snap.metadata().index();
  n.conf = snap.metadata().conf_state();
  n.seen_commit = 0;
  Config c;
  c.id = n.id;
  c.storage = n.storage.get();
  c.applied = n.applied;
  c.election_tick = 10;
  c.heartbeat_tick = 1;
  c.check_quorum = check_quorum_;
  c.pre_vote = pre_vote_;
  c.max_size_per_msg = max_size_per_msg_;
  c.max_inflight_msgs = 4;
  c.seed = rng_();
  auto r = RawNode::Create(c);
  if (!r.ok()) {
    Fail("cannot create node " + std::to_string(n.id));
    return;
  }
  n.raw = std::move(r.value);
  Trace("start node " + std::to_string(n.id) + " applied=" + std::to_string(n.applied));
}

void Simulation::CrashNode(Node& n) {
  Trace("crash node " + std::to_string(n.id));
  ++stats_.crashes;
  n.raw.reset();
  n.kv = KvStateMachine();
  // Writes in flight have an unknown outcome (stay pending in the history);
  // reads that never answered have no effect and are dropped.
  for (uint64_t op : n.writes) {
    pending_.erase(op);
    --outstanding_;
  }
  n.writes.clear();
  for (const auto& [ctx, op] : n.read_ctx) {
    discarded_.insert(op);
    pending_.erase(op);
    --outstanding_;
  }
  n.read_ctx.clear();
  for (const auto& [idx, op] : n.waiting_reads) {
    discarded_.insert(op);
    pending_.erase(op);
    --outstanding_;
  }
  n.waiting_reads.clear();
}

Simulation::Node* Simulation::Leader() {
  Node* best = nullptr;
  for (auto& [id, n] : nodes_) {
    if (!n->raw || n->raw->raft().state() != StateType::kLeader) continue;
    if (best == nullptr || n->raw->raft().term() > best->raw->raft().term()) {
      best = n.get();
    }
  }
  return best;
}

void Simulation::ExpireOps() {
  // Abandon ops that waited too long (lost proposal or leader change).
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now_ - it->second.since < kOpTimeoutTicks) {
      ++it;
      continue;
    }
    const uint64_t op = it->first;
    Node& n = *nodes_[it->second.node];
    if (it->second.is_write) {
      n.writes.erase(op);  // outcome unknown: stays pending in history
    } else {
      discarded_.insert(op);
      for (auto r = n.read_ctx.begin(); r != n.read_ctx.end();) {
        r = r->second == op ? n.read_ctx.erase(r) : std::next(r);
      }
      std::erase_if(n.waiting_reads, [op](const auto& w) { return w.second == op; });
    }
    --outstanding_;
    it = pending_.erase(it);
  }
}

void Simulation::MaybeClientOp() {
  if (outstanding_ >= opts_.max_outstanding ||
      history_.size() >= static_cast<size_t>(opts_.max_ops) || !Chance(opts_.op)) {
    return;
  }
  std::vector<Node*> live;
  for (auto& [id, n] : nodes_) {
    if (n->raw) live.push_back(n.get());
  }
  if (live.empty()) return;
  Node& n = *live[Rand(live.size())];
  IssueOp(n, Chance(0.6), "k" + std::to_string(Rand(opts_.keys)));
}

uint64_t Simulation::IssueOp(Node& n, bool is_write, const std::string& key) {
  const uint64_t id = next_op_id_++;
  Operation op;
  op.id = id;
  op.is_write = is_write;
  op.key = key;
  if (is_write) {
    op.value = "v" + std::to_string(id);
    KvCommand cmd{id, key, op.value};
    if (n.raw->Propose(cmd.Encode()) != Error::kOk) return 0;
    n.writes.insert(id);
  } else {
    const std::string ctx = "r" + std::to_string(id);
    if (n.raw->ReadIndex(ctx) != Error::kOk) return 0;
    n.read_ctx[ctx] = id;
  }
  op.call = ++clock_;
  op_index_[id] = history_.size();
  history_.push_back(op);
  pending_[id] = PendingOp{n.id, now_, is_write};
  ++outstanding_;
  Trace(std::string(is_write ? "write " : "read ") + key + " op " + std::to_string(id) +
        " via node " + std::to_string(n.id));
  return id;
}

void Simulation::MaybeTransferLeader() {
  if (!Chance(opts_.transfer)) return;
  Node* lead = Leader();
  if (lead == nullptr) return;
  const ConfState cs = lead->raw->raft().GetConfState();
  if (cs.voters_size() < 2) return;
  const uint64_t to = cs.voters(static_cast<int>(Rand(cs.voters_size())));
  if (to == lead->id) return;
  ++stats_.transfers;
  Trace("transfer leadership " + std::to_string(lead->id) + " -> " + std::to_string(to));
  lead->raw->TransferLeader(to);
}

void Simulation::MaybeConfChange() {
  if (!Chance(opts_.conf_change)) return;
  Node* lead = Leader();
  if (lead == nullptr || lead->raw->raft().HasPendingConfChange()) return;
  const ConfState cs = lead->raw->raft().GetConfState();
  std::set<uint64_t> voters(cs.voters().begin(), cs.voters().end());
  std::set<uint64_t> learners(cs.learners().begin(), cs.learners().end());
  const size_t n = opts_.num_voters;
  // A node that exists but is in no role (removed earlier), if any.
  uint64_t outsider = 0;
  for (const auto& [id, node] : nodes_) {
    if (!voters.count(id) && !learners.count(id)) outsider = id;
  }
  const uint64_t fresh_id = nodes_.rbegin()->first + 1;
  ConfChange cc;
  auto add_learner = [&]() {
    uint64_t id = outsider;
    if (id == 0 || (fresh_id <= n + 2 && Chance(0.5))) id = fresh_id;
    if (id > n + 2) return false;
    cc.set_type(ConfChange::ADD_LEARNER);
    cc.set_node_id(id);
    return true;
  };
  auto remove_voter = [&]() {
    std::vector<uint64_t> v(voters.begin(), voters.end());
    cc.set_type(ConfChange::REMOVE_NODE);
    cc.set_node_id(v[Rand(v.size())]);
    return true;
  };
  // Never below three voters: a two-voter cluster without pre-vote can
  // split its votes for a long time, which says nothing about safety but
  // would make the liveness probe at the end flaky.
  const bool can_remove = voters.size() > 3;
  bool ok = false;
  if (!learners.empty()) {
    cc.set_type(ConfChange::ADD_NODE);  // promote
    cc.set_node_id(*learners.begin());
    ok = true;
  } else if (voters.size() < n) {
    ok = add_learner();
  } else if (can_remove && (voters.size() > n || Chance(0.5))) {
    ok = remove_voter();
  } else {
    ok = add_learner() || (can_remove && remove_voter());
  }
  if (!ok) return;
  if (!nodes_.count(cc.node_id())) {
    // A brand-new machine: empty disk, no peers; it learns everything,
    // membership included, from the leader's log or snapshot.
    StartNode(AddNode(cc.node_id(), false));
  }
  const Error err = lead->raw->ProposeConfChange(cc);
  Trace("propose conf change " + ConfChange::Type_Name(cc.type()) + " " +
        std::to_string(cc.node_id()) + " at leader " + std::to_string(lead->id) + ": " +
        orch::raft::ErrorName(err));
}

void Simulation::HandleReadies() {
  for (auto& [id, n] : nodes_) {
    if (!n->raw) continue;
    while (n->raw->HasReady() && !failure_) HandleReady(*n);
    ServeReads(*n);
    MaybeCompact(*n);
  }
}

void Simulation::HandleReady(Node& n) {
  Ready rd = n.raw->GetReady();
  if (rd.soft_state && rd.soft_state->state == StateType::kLeader) {
    ++stats_.elections;
    Trace("node " + std::to_string(n.id) + " leads term " + std::to_string(n.raw->raft().term()));
  }
  // 1. Persist: snapshot, hard state, entries.
  if (rd.snapshot) {
    if (n.storage->ApplySnapshot(*rd.snapshot) != Error::kOk) {
      Fail("node " + std::to_string(n.id) + ": snapshot not newer than stored one");
      return;
    }
    auto kv = KvStateMachine::Deserialize(rd.snapshot->data());
    if (!kv) {
      Fail("node " + std::to_string(n.id) + ": corrupt snapshot");
      return;
    }
    n.kv = *kv;
    n.applied = rd.snapshot->metadata().index();
    n.conf = rd.snapshot->metadata().conf_state();
    ++stats_.snapshots_applied;
    Trace("node " + std::to_string(n.id) + " installs snapshot at " + std::to_string(n.applied));
  }
  if (rd.hard_state) {
    const auto& prev = n.storage->hard_state();
    if (chaotic_ &&
        (rd.hard_state->vote() != prev.vote() || rd.hard_state->term() != prev.term())) {
      n.crash_after_vote = Chance(opts_.crash_after_vote);
    }
    n.storage->SetHardState(*rd.hard_state);
  }
  n.storage->Append(rd.entries);
  // 2. Only now may messages leave.
  for (const auto& m : rd.messages) Send(m);
  // 3. Apply, then serve reads.
  for (const auto& e : rd.committed_entries) {
    ApplyEntry(n, e);
    if (failure_) return;
  }
  for (const auto& rs : rd.read_states) {
    auto it = n.read_ctx.find(rs.request_ctx);
    if (it == n.read_ctx.end()) continue;  // duplicate or abandoned
    n.waiting_reads.emplace_back(rs.index, it->second);
    n.read_ctx.erase(it);
  }
  n.raw->Advance(rd);
}

void Simulation::ApplyEntry(Node& n, const Entry& e) {
  if (e.index() != n.applied + 1) {
    Fail("node " + std::to_string(n.id) + " applies index " + std::to_string(e.index()) +
         " after " + std::to_string(n.applied));
    return;
  }
  // State machine safety: one command per index, cluster-wide.
  auto [it, fresh] = applied_.emplace(e.index(), Applied{e.term(), e.data()});
  if (!fresh && (it->second.term != e.term() || it->second.data != e.data())) {
    Fail("state machine safety: node " + std::to_string(n.id) +
         " applies a different entry at index " + std::to_string(e.index()));
    return;
  }
  n.applied = e.index();
  if (e.type() == Entry::CONF_CHANGE) {
    ConfChange cc;
    cc.ParseFromString(e.data());
    n.conf = n.raw->ApplyConfChange(cc);
    // Snapshot right away so the one the leader may send carries the new
    // membership: a node just added refuses a snapshot that omits it.
    n.snapshot_now = true;
    if (fresh) {
      ++stats_.conf_changes;
      Trace("conf change applied at " + std::to_string(e.index()) + ": " +
            ConfChange::Type_Name(cc.type()) + " " + std::to_string(cc.node_id()));
    }
    return;
  }
  if (e.data().empty()) return;  // a leader's empty entry
  auto cmd = KvCommand::Decode(e.data());
  if (!cmd) {
    Fail("undecodable command at index " + std::to_string(e.index()));
    return;
  }
  n.kv.Apply(*cmd);
  if (n.writes.erase(cmd->op_id) != 0) {
    history_[op_index_[cmd->op_id]].ret = ++clock_;
    pending_.erase(cmd->op_id);
    --outstanding_;
    ++stats_.writes_ok;
  }
}

void Simulation::ServeReads(Node& n) {
  for (auto it = n.waiting_reads.begin(); it != n.waiting_reads.end();) {
    if (it->first > n.applied) {
      ++it;
      continue;
    }
    Operation& op = history_[op_index_[it->second]];
    op.value = n.kv.Get(op.key);
    op.ret = ++clock_;
    pending_.erase(op.id);
    --outstanding_;
    ++stats_.reads_ok;
    it = n.waiting_reads.erase(it);
  }
}

void Simulation::MaybeCompact(Node& n) {
  const uint64_t first = n.storage->FirstIndex();
  if (n.snapshot_now) {
    n.snapshot_now = false;
    n.storage->CreateSnapshot(n.applied, &n.conf, n.kv.Serialize());
  }
  if (n.applied < first + 2 * opts_.compact_after) return;
  auto snap = n.storage->CreateSnapshot(n.applied, &n.conf, n.kv.Serialize());
  if (!snap.ok()) return;
  // Keep a tail so briefly lagging followers need no snapshot.
  n.storage->Compact(n.applied - opts_.compact_after);
  ++stats_.compactions;
}

std::string Simulation::Run() {
  pre_vote_ = Chance(0.8);
  check_quorum_ = Chance(0.8);
  // One entry per MsgApp sometimes: old-term entries then travel without
  // the new leader's entry, the situation of the paper's Figure 8.
  max_size_per_msg_ = Chance(0.5) ? 1 : 1024;
  Trace("voters=" + std::to_string(opts_.num_voters) + " pre_vote=" + std::to_string(pre_vote_) +
        " check_quorum=" + std::to_string(check_quorum_) +
        " max_size_per_msg=" + std::to_string(max_size_per_msg_));
  for (uint64_t id = 1; id <= opts_.num_voters; ++id) StartNode(AddNode(id, true));
  const uint64_t end = opts_.ticks + opts_.settle_ticks;
  uint64_t final_op = 0;
  for (now_ = 1; now_ <= end && !failure_; ++now_) {
    chaotic_ = now_ <= static_cast<uint64_t>(opts_.ticks);
    InjectFaults(chaotic_);
    ExpireOps();
    if (chaotic_) {
      MaybeClientOp();
      MaybeConfChange();
      MaybeTransferLeader();
    } else if (final_op == 0 || !pending_.count(final_op)) {
      // Liveness probe: once faults stop, a write must get through.
      if (final_op == 0 || history_[op_index_[final_op]].ret == kNeverReturned) {
        if (Node* lead = Leader(); lead != nullptr && now_ % 10 == 0) {
          final_op = IssueOp(*lead, true, "k0");
        }
      }
    }
    for (auto& [id, n] : nodes_) {
      if (n->raw) n->raw->Tick();
    }
    DeliverMessages();
    HandleReadies();
    if (!failure_) CheckInvariants();
  }
  if (failure_) return *failure_;
  --now_;
  if (final_op == 0 || history_[op_index_[final_op]].ret == kNeverReturned) {
    for (auto& [id, n] : nodes_) {
      if (!n->raw) continue;
      const auto& r = n->raw->raft();
      std::string conf;
      const ConfState cs = r.GetConfState();
      for (uint64_t v : cs.voters()) conf += std::to_string(v) + " ";
      conf += "| ";
      for (uint64_t v : cs.learners()) conf += std::to_string(v) + " ";
      Trace("node " + std::to_string(id) + " " + orch::raft::StateName(r.state()) + " term " +
            std::to_string(r.term()) + " lead " + std::to_string(r.lead()) + " commit " +
            std::to_string(r.log().committed()) + " last " + std::to_string(r.log().LastIndex()) +
            " applied " + std::to_string(n->applied) + " conf " + conf);
      for (const auto& p : n->raw->GetStatus().progress) {
        Trace("  " + std::to_string(p.first) + ": " + p.second);
      }
    }
    Fail("liveness: no write completed within " + std::to_string(opts_.settle_ticks) +
         " fault-free ticks");
    return *failure_;
  }
  std::vector<Operation> ops;
  for (const auto& op : history_) {
    if (discarded_.count(op.id)) continue;
    if (!op.is_write && op.ret == kNeverReturned) continue;
    ops.push_back(op);
  }
  auto lin = CheckKvHistory(ops);
  if (!lin.ok) {
    Fail("history not linearizable for key " + lin.bad_key);
    return *failure_;
  }
  if (lin.gave_up) {
    ++stats_.linearizability_gave_up;
    Trace("linearizability search budget exhausted");
  }
  return "";
}

}  // namespace orch::sim
