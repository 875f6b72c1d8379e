// Simulation: a whole Raft cluster in one process, driven by one seed.
// Simulated time is a tick counter; the network is a list of in-flight
// messages with random delay (hence reordering), loss and duplication,
// plus symmetric and one-way partitions. Nodes crash (at random, and
// right after persisting a vote) keeping only their MemoryStorage, i.e.
// what the driver persisted before sending, and restart. Every node
// snapshots its KV state and compacts its log under load, so lagging
// nodes catch up by snapshot. Membership changes (add learner, promote,
// remove, re-add) and leadership transfers run concurrently; clients write
// and ReadIndex-read a small key-value store. After every tick the Raft
// safety properties are checked; at the end the faults stop, a write must
// succeed (liveness) and the client history must be linearizable.
// Thread-safety: none; one simulation per thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "master/raft/memory_storage.h"
#include "master/raft/raw_node.h"
#include "tests/sim/kv_state_machine.h"
#include "tests/sim/linearizability.h"

namespace orch::sim {

struct SimOptions {
  size_t num_voters = 3;
  int ticks = 1500;        // chaotic phase
  int settle_ticks = 400;  // faults off: the cluster must recover
  double drop = 0.03;
  double duplicate = 0.02;
  int max_delay = 3;  // ticks; messages take 1..1+max_delay
  double crash = 0.006;
  double crash_after_vote = 0.05;
  double partition = 0.006;
  double op = 0.2;  // chance of a client op per tick
  int max_ops = 120;
  int max_outstanding = 4;
  int keys = 3;
  double conf_change = 0.01;
  double transfer = 0.003;
  uint64_t compact_after = 5;  // applied entries kept before compaction
  bool trace = false;
};

struct SimStats {
  uint64_t elections = 0;
  uint64_t writes_ok = 0;
  uint64_t reads_ok = 0;
  uint64_t crashes = 0;
  uint64_t snapshots_sent = 0;
  uint64_t snapshots_applied = 0;
  uint64_t compactions = 0;
  uint64_t conf_changes = 0;
  uint64_t messages = 0;
  uint64_t transfers = 0;
  uint64_t linearizability_gave_up = 0;
};

class Simulation {
 public:
  Simulation(uint64_t seed, SimOptions opts);
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  // Runs the whole scenario. Returns "" on success, else a description of
  // the first violation naming the tick, replayable with the same seed.
  std::string Run();
  const SimStats& stats() const { return stats_; }
  const std::vector<Operation>& history() const { return history_; }

 private:
  struct Node;
  struct InFlight {
    uint64_t deliver_at;
    orch::raft::Message msg;
  };

  uint64_t Rand(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool Chance(double p) { return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < p; }
  void Trace(const std::string& what);
  void Fail(const std::string& what);

  Node& AddNode(uint64_t id, bool bootstrap);
  void StartNode(Node& n);
  void CrashNode(Node& n);
  void InjectFaults(bool chaotic);
  void ExpireOps();
  void MaybeClientOp();
  // Returns the op id, or 0 if the node refused it.
  uint64_t IssueOp(Node& n, bool is_write, const std::string& key);
  void MaybeConfChange();
  void MaybeTransferLeader();
  void DeliverMessages();
  void HandleReadies();
  void HandleReady(Node& n);
  void ApplyEntry(Node& n, const orch::raft::Entry& e);
  void ServeReads(Node& n);
  void MaybeCompact(Node& n);
  void Send(const orch::raft::Message& m);
  bool Blocked(uint64_t from, uint64_t to) const;
  void DropMessage(const orch::raft::Message& m);
  Node* Leader();

  void CheckInvariants();
  void CheckLogMatching(Node& a, Node& b);
  void RecordCommits(Node& n);
  bool CheckFinalLiveness();

  const uint64_t seed_;
  const SimOptions opts_;
  std::mt19937_64 rng_;
  uint64_t now_ = 0;    // tick
  uint64_t clock_ = 0;  // event sequence for the history
  std::optional<std::string> failure_;
  std::map<uint64_t, std::unique_ptr<Node>> nodes_;
  std::vector<InFlight> in_flight_;
  std::set<std::pair<uint64_t, uint64_t>> blocked_;  // directed
  uint64_t heal_at_ = 0;
  uint64_t next_op_id_ = 1;
  std::vector<Operation> history_;
  std::map<uint64_t, size_t> op_index_;  // op id -> history_ index
  int outstanding_ = 0;
  struct PendingOp {
    uint64_t node;
    uint64_t since;  // tick
    bool is_write;
  };
  std::map<uint64_t, PendingOp> pending_;
  std::set<uint64_t> discarded_;  // reads that never answered
  bool chaotic_ = true;
  bool pre_vote_ = true;
  bool check_quorum_ = true;
  uint64_t max_size_per_msg_ = 1024;
  SimStats stats_;

  // Safety bookkeeping.
  std::map<uint64_t, uint64_t> leader_of_term_;
  struct Committed {
    uint64_t term;         // the entry's term
    uint64_t observed_in;  // term of the first node seen committing it
  };
  std::map<uint64_t, Committed> committed_;
  struct Applied {
    uint64_t term;
    std::string data;
  };
  std::map<uint64_t, Applied> applied_;
};

}  // namespace orch::sim
