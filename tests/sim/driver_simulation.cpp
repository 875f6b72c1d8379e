#include "tests/sim/driver_simulation.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>

#include "master/replication/member_directory.h"
#include "master/replication/raft_node.h"
#include "tests/sim/register_store.h"
#include "tests/sim/sim_disk.h"

namespace orch::sim {

namespace {
// A client gives up on an operation after this long (then retries, once
// faults stopped, after the shorter one).
constexpr uint64_t kOpTimeoutMs = 1500;
constexpr uint64_t kSettleOpTimeoutMs = 400;
}  // namespace

struct DriverSimulation::Machine {
  std::string id;  // "m1"
  uint64_t raft_id = 0;
  std::string dir;
  std::unique_ptr<RegisterStore> store;
  std::unique_ptr<replication::RaftNode> node;
  std::unique_ptr<replication::Transport> transport;
  bool up = false;
  uint64_t restart_at = 0;
  uint64_t paused_until = 0;
  uint64_t fault_until = 0;  // a disk fault lasts until then
  double tick_period = 10;   // ms of simulated time per tick of this machine's clock
  double next_tick = 0;
  std::vector<std::pair<uint64_t, std::function<void()>>> jobs;  // snapshot work, (at, work)
  std::vector<std::pair<uint64_t, uint64_t>> reads;              // (index to see applied, op)
};

DriverSimStats& DriverSimStats::operator+=(const DriverSimStats& o) {
  kills += o.kills;
  power_losses += o.power_losses;
  whole_cluster_crashes += o.whole_cluster_crashes;
  partitions += o.partitions;
  pauses += o.pauses;
  disk_faults += o.disk_faults;
  stopped_by_disk += o.stopped_by_disk;
  terms += o.terms;
  writes_ok += o.writes_ok;
  reads_ok += o.reads_ok;
  writes_never_committed += o.writes_never_committed;
  ops += o.ops;
  snapshots_taken += o.snapshots_taken;
  lost_bytes += o.lost_bytes;
  net += o.net;
  return *this;
}

DriverSimulation::DriverSimulation(uint64_t seed, DriverSimOptions opts)
    : seed_(seed), opts_(std::move(opts)), rng_(seed), net_(&rng_, DriverNetworkOptions{}) {}

DriverSimulation::~DriverSimulation() {
  for (auto& m : machines_) {
    if (m->up) Stop(*m, false);
  }
  SimDisk::Install().Wipe(opts_.dir);
  std::error_code ec;
  std::filesystem::remove_all(opts_.dir, ec);
}

void DriverSimulation::Trace(const std::string& what) {
  if (opts_.trace) std::cerr << "[t=" << now_ << "ms] " << what << "\n";
}

void DriverSimulation::Fail(const std::string& what) {
  if (failure_) return;
  failure_ = "seed " + std::to_string(seed_) + " at " + std::to_string(now_) + " ms: " + what;
  Trace("FAIL " + what);
}

void DriverSimulation::Start(Machine& m) {
  if (opts_.fsync_lies) SimDisk::Install().SetFault(m.dir, SimDisk::Fault::kLyingFsync);
  auto store = RegisterStore::Open(
      m.dir + "/state.db",
      [this, id = m.id](uint64_t index, const std::string& cmd) { OnApply(id, index, cmd); });
  if (!store.ok()) {
    Fail(m.id + " cannot open its state: " + store.status().ToString());
    return;
  }
  replication::RaftNodeOptions o;
  o.member_id = m.id;
  o.raft_address = "sim-" + m.id;
  o.http_address = "http://" + m.id;
  o.initial_peers = peers_;
  o.election_ticks = 10;
  o.heartbeat_ticks = 1;
  o.snapshot_entries = 4 + Rand(16);
  o.keep_entries = 1 + Rand(6);
  o.seed = rng_() | 1;
  o.own_thread = false;
  Machine* mp = &m;
  o.run_off_loop = [this, mp](std::function<void()> work) {
    mp->jobs.emplace_back(now_ + 1 + Rand(40), std::move(work));
  };
  auto node = replication::RaftNode::Open(o, m.dir, store->get());
  if (!node.ok()) {
    // A machine that cannot come back after a crash is a bug, whatever
    // the crash lost.
    Fail(m.id + " cannot restart: " + node.status().ToString());
    return;
  }
  m.store = std::move(store).value();
  m.node = std::move(node).value();
  m.transport = net_.Attach(m.raft_id, m.node->TransportCallbacks());
  m.node->Start(m.transport.get());
  m.up = true;
  m.paused_until = 0;
  m.next_tick = static_cast<double>(now_) + m.tick_period;
  Trace("start " + m.id + " (applied " + std::to_string(m.store->AppliedIndex()) + ")");
}

void DriverSimulation::Stop(Machine& m, bool power_loss) {
  Trace(std::string(power_loss ? "power loss of " : "kill -9 of ") + m.id);
  SimDisk& disk = SimDisk::Install();
  disk.Freeze(m.dir);  // nothing its connections do while closing reaches the disk
  net_.Detach(m.raft_id, true);
  for (const auto& [index, op] : m.reads) pending_.erase(op);  // never answered
  m.reads.clear();
  m.jobs.clear();
  m.node.reset();  // fails its waiters: writes of unknown outcome, reads without effect
  m.transport.reset();
  m.store.reset();
  if (power_loss) {
    disk.Crash(m.dir);
  } else {
    disk.Thaw(m.dir);
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    it = it->second.machine == m.id ? pending_.erase(it) : std::next(it);
  }
  m.up = false;
  m.restart_at = std::max(now_, m.fault_until) + 20 + Rand(400);
}

double DriverSimulation::TickPeriod() {
  const double u = static_cast<double>(Rand(1001)) / 1000;  // 0..1
  return opts_.tick_ms * (1 - opts_.skew + 2 * opts_.skew * u);
}

DriverSimulation::Machine* DriverSimulation::Leader() {
  Machine* best = nullptr;
  for (auto& m : machines_) {
    if (!m->up || m->paused_until > now_ || !m->node->IsLeader()) continue;
    if (best == nullptr || m->node->Term() > best->node->Term()) best = m.get();
  }
  return best;
}

void DriverSimulation::InjectFaults() {
  const size_t n = machines_.size();
  const size_t minority = (n - 1) / 2;
  auto random_up = [&]() -> Machine* {
    std::vector<Machine*> up;
    for (auto& m : machines_) {
      if (m->up) up.push_back(m.get());
    }
    return up.empty() ? nullptr : up[Rand(up.size())];
  };
  if (Chance(opts_.kill)) {
    const bool power = Chance(0.5);
    if (Chance(opts_.whole_cluster)) {
      ++stats_.whole_cluster_crashes;
      Trace("the whole cluster goes down");
      for (auto& m : machines_) {
        if (!m->up) continue;
        Stop(*m, power);
        m->restart_at = now_ + 50 + Rand(300);
      }
    } else {
      size_t down = 0;
      for (auto& m : machines_) down += m->up ? 0 : 1;
      Machine* lead = Leader();
      Machine* victim = Chance(0.4) && lead != nullptr ? lead : random_up();
      if (victim != nullptr && down + 1 <= minority) Stop(*victim, power);
    }
    ++(power ? stats_.power_losses : stats_.kills);
  }
  if (now_ >= heal_at_ && heal_at_ != 0) {
    net_.HealAll();
    heal_at_ = 0;
    Trace("network healed");
  }
  if (heal_at_ == 0 && Chance(opts_.partition)) {
    ++stats_.partitions;
    heal_at_ = now_ + 100 + Rand(700);
    std::vector<uint64_t> ids;
    for (auto& m : machines_) ids.push_back(m->raft_id);
    std::shuffle(ids.begin(), ids.end(), rng_);
    Machine* lead = Leader();
    const uint64_t victim = lead != nullptr && Chance(0.5) ? lead->raft_id : ids[0];
    switch (Rand(4)) {
      case 0:  // the victim (often the leader) alone
        for (uint64_t o : ids) {
          if (o == victim) continue;
          net_.Block(victim, o);
          net_.Block(o, victim);
        }
        Trace("partition: " + std::to_string(victim) + " isolated");
        break;
      case 1: {  // a random split
        const size_t cut = 1 + Rand(n - 1);
        for (size_t i = 0; i < cut; ++i) {
          for (size_t j = cut; j < n; ++j) {
            net_.Block(ids[i], ids[j]);
            net_.Block(ids[j], ids[i]);
          }
        }
        Trace("partition: split " + std::to_string(cut) + "|" + std::to_string(n - cut));
        break;
      }
      case 2:  // one way: the victim's messages are lost, it hears the others
        for (uint64_t o : ids) {
          if (o != victim) net_.Block(victim, o);
        }
        Trace("partition: " + std::to_string(victim) + " cannot send");
        break;
      default:  // a bridge: ids[0] sees everyone, the two sides not each other
        for (size_t i = 1; i < n; ++i) {
          for (size_t j = 1; j < n; ++j) {
            if ((i % 2) != (j % 2)) net_.Block(ids[i], ids[j]);
          }
        }
        Trace("partition: bridge through " + std::to_string(ids[0]));
        break;
    }
  }
  if (Chance(opts_.pause)) {
    Machine* lead = Leader();
    Machine* m = lead != nullptr && Chance(0.5) ? lead : random_up();
    if (m != nullptr && m->paused_until <= now_) {
      ++stats_.pauses;
      m->paused_until = now_ + 250 + Rand(600);  // well past an election timeout
      Trace("pause " + m->id + " until " + std::to_string(m->paused_until));
    }
  }
  if (Chance(opts_.disk_fault)) {
    Machine* m = random_up();
    if (m != nullptr && m->fault_until <= now_) {
      ++stats_.disk_faults;
      const bool full = Chance(0.5);
      m->fault_until = now_ + 50 + Rand(400);
      SimDisk::Install().SetFault(m->dir, full ? SimDisk::Fault::kFull : SimDisk::Fault::kFsync);
      Trace(std::string(full ? "disk full on " : "fsync fails on ") + m->id);
    }
  }
  if (Chance(0.002)) {  // a clock changes its rate
    Machine& m = *machines_[Rand(n)];
    m.tick_period = TickPeriod();
  }
}

void DriverSimulation::StepMachines() {
  for (auto& m : machines_) {
    if (m->fault_until != 0 && m->fault_until <= now_) {
      SimDisk::Install().SetFault(m->dir, SimDisk::Fault::kNone);
      m->fault_until = 0;
    }
    StepMachine(*m);
    if (failure_) return;
  }
}

void DriverSimulation::StepMachine(Machine& m) {
  if (!m.up) {
    if (now_ >= m.restart_at && m.fault_until == 0) Start(m);
    return;
  }
  if (m.paused_until > now_) return;
  for (size_t i = 0; i < m.jobs.size();) {
    if (m.jobs[i].first > now_) {
      ++i;
      continue;
    }
    auto work = std::move(m.jobs[i].second);
    m.jobs.erase(m.jobs.begin() + static_cast<std::ptrdiff_t>(i));
    ++stats_.snapshots_taken;
    work();
  }
  const bool tick = static_cast<double>(now_) >= m.next_tick;
  if (tick) {
    m.next_tick += m.tick_period;
    // A paused clock does not burst its missed ticks (as RaftNode's loop).
    if (m.next_tick < static_cast<double>(now_))
      m.next_tick = static_cast<double>(now_) + m.tick_period;
  }
  Status st = m.node->Pump(tick);
  if (!st.ok()) {
    // As a master does when it cannot persist: it stops taking part; the
    // operator (or systemd) restarts it once the disk is healthy.
    ++stats_.stopped_by_disk;
    Trace(m.id + " stopped: " + st.ToString());
    Stop(m, Chance(0.5));
    return;
  }
  ServeReads(m);
}

void DriverSimulation::ServeReads(Machine& m) {
  for (size_t i = 0; i < m.reads.size();) {
    const auto [index, op] = m.reads[i];
    if (m.store->AppliedIndex() < index) {
      ++i;
      continue;
    }
    m.reads.erase(m.reads.begin() + static_cast<std::ptrdiff_t>(i));
    auto value = m.store->Get(history_[op_index_[op]].key);
    if (!value.ok()) {
      Fail(m.id + " cannot read its state: " + value.status().ToString());
      return;
    }
    FinishOp(op, true, *value);
  }
}

void DriverSimulation::ClientOp(bool final_op, const std::string& key_in) {
  if (!final_op && (pending_.size() >= static_cast<size_t>(opts_.max_outstanding) ||
                    history_.size() >= static_cast<size_t>(opts_.max_ops) || !Chance(opts_.op))) {
    return;
  }
  std::vector<Machine*> up;
  for (auto& m : machines_) {
    if (m->up) up.push_back(m.get());
  }
  if (up.empty()) return;
  Machine& m = *up[Rand(up.size())];
  const bool is_write = final_op ? key_in.empty() : Chance(0.6);
  const std::string key =
      !key_in.empty() ? key_in : "k" + std::to_string(Rand(static_cast<uint64_t>(opts_.keys)));
  const uint64_t op = next_op_++;
  Operation rec;
  rec.id = op;
  rec.is_write = is_write;
  rec.key = key;
  if (is_write) rec.value = "v" + std::to_string(op);
  rec.call = ++clock_;
  op_index_[op] = history_.size();
  history_.push_back(rec);
  ++stats_.ops;
  pending_[op] = PendingOp{m.id, now_, 0, is_write};
  Trace(std::string(is_write ? "write " : "read ") + key + " op " + std::to_string(op) + " via " +
        m.id);
  uint64_t ticket = 0;
  issuing_ = op;  // a refusal while this runs is certain: nothing reached the log
  if (is_write) {
    ticket = m.node->ProposeAsync(RegisterStore::WriteCommand(key, rec.value, op),
                                  [this, op](Status st, uint64_t) {
                                    // The driver says it never committed: if it did after
                                    // all, a read sees a value no write in the history wrote.
                                    if (replication::RaftNode::NeverCommitted(st)) {
                                      refused_.insert(op);
                                      ++stats_.writes_never_committed;
                                    }
                                    FinishOp(op, st.ok(), "");
                                  });
  } else {
    Machine* mp = &m;
    ticket = m.node->ReadIndexAsync([this, op, mp](Result<uint64_t> index) {
      if (!index.ok()) {
        FinishOp(op, false, "");
      } else if (pending_.count(op)) {
        mp->reads.emplace_back(*index, op);
      }
    });
  }
  issuing_ = 0;
  if (auto it = pending_.find(op); it != pending_.end()) it->second.ticket = ticket;
}

void DriverSimulation::FinishOp(uint64_t op, bool ok, const std::string& value) {
  auto it = pending_.find(op);
  if (it == pending_.end()) return;  // given up on: its outcome stays unknown
  pending_.erase(it);
  Operation& rec = history_[op_index_[op]];
  if (!ok && issuing_ == op) refused_.insert(op);  // refused at once: never happened
  if (!ok) return;  // otherwise a write may still take effect; a read had none
  rec.ret = ++clock_;
  if (rec.is_write) {
    ++stats_.writes_ok;
  } else {
    rec.value = value;
    ++stats_.reads_ok;
  }
  Trace(std::string(rec.is_write ? "write " : "read ") + rec.key + " op " + std::to_string(op) +
        " ok" + (rec.is_write ? "" : " = '" + value + "'"));
}

void DriverSimulation::ExpireOps() {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now_ - it->second.since < (settling_ ? kSettleOpTimeoutMs : kOpTimeoutMs)) {
      ++it;
      continue;
    }
    for (auto& m : machines_) {
      if (m->id != it->second.machine || !m->up) continue;
      m->node->Abandon(it->second.ticket);
      std::erase_if(m->reads, [op = it->first](const auto& r) { return r.second == op; });
    }
    it = pending_.erase(it);
  }
}

void DriverSimulation::CheckLeaders() {
  for (auto& m : machines_) {
    if (!m->up || !m->node->IsLeader()) continue;
    auto [it, fresh] = leader_of_term_.emplace(m->node->Term(), m->id);
    if (!fresh && it->second != m->id) {
      Fail("two leaders in term " + std::to_string(it->first) + ": " + it->second + " and " +
           m->id);
    }
  }
}

void DriverSimulation::OnApply(const std::string& machine, uint64_t index, const std::string& cmd) {
  auto [it, fresh] = applied_cmd_.emplace(index, cmd);
  if (!fresh && it->second != cmd) {
    v1::Command mine, theirs;
    (void)mine.ParseFromString(cmd);
    (void)theirs.ParseFromString(it->second);
    Fail(machine + " applied a different command at index " + std::to_string(index) + " (" +
         mine.ShortDebugString() + ") than another member did (" + theirs.ShortDebugString() + ")");
  }
}

// Faults off: every machine comes back, the network heals. Within
// settle_ms a write must succeed, then a read of every register, and all
// members must hold the same state.
bool DriverSimulation::Settle() {
  settling_ = true;
  net_.HealAll();
  net_.set_loss(0);
  heal_at_ = 0;
  for (auto& m : machines_) {
    m->paused_until = 0;
    if (m->fault_until != 0) {
      SimDisk::Install().SetFault(m->dir, SimDisk::Fault::kNone);
      m->fault_until = 0;
    }
    if (!m->up) m->restart_at = now_;
  }
  Trace("faults stop");
  const uint64_t deadline = now_ + static_cast<uint64_t>(opts_.settle_ms);
  uint64_t final_write = 0;
  std::map<std::string, uint64_t> final_reads;
  auto done = [&](uint64_t op) {
    return op != 0 && !pending_.count(op) && history_[op_index_[op]].ret != kNeverReturned;
  };
  auto failed = [&](uint64_t op) {
    return op == 0 || (!pending_.count(op) && history_[op_index_[op]].ret == kNeverReturned);
  };
  while (now_ < deadline && !failure_) {
    ++now_;
    net_.Deliver(now_);
    StepMachines();
    CheckLeaders();
    ExpireOps();
    if (Leader() == nullptr) continue;
    if (failed(final_write)) {
      final_write = next_op_;
      ClientOp(true, "");
      if (!pending_.count(final_write) && !done(final_write)) final_write = 0;
      continue;
    }
    if (!done(final_write)) continue;
    bool reads_done = true;
    for (int k = 0; k < opts_.keys; ++k) {
      const std::string key = "k" + std::to_string(k);
      uint64_t& r = final_reads[key];
      if (failed(r)) {
        r = next_op_;
        ClientOp(true, key);
        if (!pending_.count(r) && !done(r)) r = 0;
      }
      reads_done = reads_done && done(r);
    }
    if (!reads_done) continue;
    // Converged: every member up, at the same applied index, same registers.
    bool same = true;
    std::optional<std::pair<uint64_t, std::string>> first;
    for (auto& m : machines_) {
      if (!m->up) {
        same = false;
        break;
      }
      auto dump = m->store->Dump();
      if (!dump.ok()) {
        Fail(m->id + ": " + dump.status().ToString());
        return false;
      }
      std::pair<uint64_t, std::string> s{m->store->AppliedIndex(), *dump};
      if (!first) first = s;
      same = same && s == *first;
    }
    if (same) return true;
  }
  if (!failure_) {
    std::string state;
    for (auto& m : machines_) {
      state += " " + m->id +
               (m->up ? " applied " + std::to_string(m->store->AppliedIndex()) + " term " +
                            std::to_string(m->node->Term()) + " leader " + m->node->LeaderId()
                      : " down");
      if (m->up && m->node->IsLeader()) {
        for (const auto& mem : m->node->Members()) {
          state += " [" + mem.id() + " match " + std::to_string(mem.match_index()) + "]";
        }
      }
    }
    Fail("the cluster did not recover within " + std::to_string(opts_.settle_ms) +
         " ms of the faults stopping (final write " + (done(final_write) ? "done" : "not done") +
         ";" + state + ")");
  }
  return false;
}

std::string DriverSimulation::Run() {
  SimDisk& disk = SimDisk::Install();
  disk.Wipe(opts_.dir);
  std::error_code ec;
  std::filesystem::remove_all(opts_.dir, ec);
  std::filesystem::create_directories(opts_.dir, ec);
  const uint64_t lost_before = disk.lost_bytes();
  if (opts_.trace && std::getenv("ORCH_SIM_NETTRACE") != nullptr) {
    net_.set_trace([this](const std::string& line) { Trace(line); });
  }
  const size_t n = Chance(0.35) ? 5 : 3;
  for (size_t i = 1; i <= n; ++i) {
    auto m = std::make_unique<Machine>();
    m->id = "m" + std::to_string(i);
    m->raft_id = replication::RaftIdOf(m->id);
    m->dir = opts_.dir + "/" + m->id;
    m->tick_period = TickPeriod();
    peers_.emplace_back(m->id, "sim-" + m->id);
    machines_.push_back(std::move(m));
  }
  for (auto& m : machines_) Start(*m);
  while (!failure_ && now_ < static_cast<uint64_t>(opts_.chaos_ms)) {
    ++now_;
    net_.Deliver(now_);
    InjectFaults();
    ClientOp(false, "");
    StepMachines();
    CheckLeaders();
    ExpireOps();
  }
  if (!failure_) Settle();
  stats_.terms = leader_of_term_.size();
  stats_.lost_bytes = disk.lost_bytes() - lost_before;
  stats_.net = net_.stats();
  if (failure_) return *failure_;
  std::vector<Operation> ops;
  for (const auto& op : history_) {
    if (refused_.count(op.id)) continue;
    if (op.is_write || op.ret != kNeverReturned) ops.push_back(op);
  }
  LinearizabilityResult lin = CheckKvHistory(ops, opts_.budget);
  if (lin.gave_up) {
    Fail("the linearizability search ran out of budget on register " + lin.bad_key +
         " (the seed proves nothing: a smaller history is needed)");
  } else if (!lin.ok) {
    Fail("the history of register " + lin.bad_key + " is not linearizable");
  }
  return failure_.value_or("");
}

}  // namespace orch::sim
