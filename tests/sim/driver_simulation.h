// DriverSimulation: a cluster of the real replication driver in one
// process, driven by one seed (issue 14 item 5). Each machine runs a
// replication::RaftNode without a thread of its own (Pump), on the real
// SqliteStorage and an SQLite state machine (RegisterStore), both on
// SimDisk, which forgets what was not fsynced when the machine loses
// power. Messages travel through DriverNetwork (the real transport's
// limits). Simulated time is in milliseconds; each machine ticks on its own
// clock, whose rate is skewed and changes.
// Faults, during the chaotic phase: kill -9 (nothing lost) and power loss
// (unsynced writes lost) of any minority, and now and then of the whole
// cluster; directed and symmetric partitions, isolating the leader or any
// set; pauses longer than the election timeout (a stopped process whose
// messages still arrive); a full disk or failing fsyncs (the node stops,
// as the master does, and is restarted once the disk is healthy).
// Clients write and ReadIndex-read a few registers through random members.
// Checked: one leader per term; every member applies the same command at
// each index; after the faults stop, the cluster elects a leader, a write
// and a read of every register succeed (liveness) and all members converge
// on the same state; the client history is linearizable (a checker that
// runs out of budget fails the seed).
// Thread safety: none; one simulation at a time per process (SimDisk is
// the process's default VFS).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/sim/driver_network.h"
#include "tests/sim/linearizability.h"

namespace orch::sim {

struct DriverSimOptions {
  std::string dir;              // real directory for snapshot files (one subdir per machine)
  int chaos_ms = 2500;          // faults on
  int settle_ms = 6000;  // faults off: the cluster must recover within this (ends when it did)
  int tick_ms = 10;             // nominal tick; election timeout 10..20 ticks
  double skew = 0.25;           // each clock runs at 1 ± skew of nominal
  double kill = 0.0015;         // chance per ms of a kill -9 or power loss
  double whole_cluster = 0.08;  // of those, the share that takes every machine down
  double partition = 0.002;
  double pause = 0.0008;
  double disk_fault = 0.0005;
  double op = 0.08;  // chance per ms of a client operation
  int max_ops = 150;
  int max_outstanding = 5;
  int keys = 3;
  uint64_t budget = 5'000'000;  // linearizability search, per key
  bool fsync_lies = false;      // every disk acknowledges syncs it did not do (a planted bug)
  bool trace = false;
};

struct DriverSimStats {
  uint64_t kills = 0;
  uint64_t power_losses = 0;
  uint64_t whole_cluster_crashes = 0;
  uint64_t partitions = 0;
  uint64_t pauses = 0;
  uint64_t disk_faults = 0;
  uint64_t stopped_by_disk = 0;
  uint64_t terms = 0;
  uint64_t writes_ok = 0;
  uint64_t reads_ok = 0;
  uint64_t writes_never_committed = 0;  // failed, and the driver said they never would commit
  uint64_t ops = 0;
  uint64_t snapshots_taken = 0;
  uint64_t lost_bytes = 0;  // unsynced bytes rolled back by power losses
  DriverNetworkStats net;

  DriverSimStats& operator+=(const DriverSimStats& o);
};

class DriverSimulation {
 public:
  DriverSimulation(uint64_t seed, DriverSimOptions opts);
  ~DriverSimulation();
  DriverSimulation(const DriverSimulation&) = delete;
  DriverSimulation& operator=(const DriverSimulation&) = delete;

  // Runs the scenario: "" on success, else the first violation with its
  // time, replayable with the same seed.
  std::string Run();
  const DriverSimStats& stats() const { return stats_; }

 private:
  struct Machine;
  struct PendingOp {
    std::string machine;
    uint64_t since = 0;
    uint64_t ticket = 0;
    bool is_write = false;
  };

  uint64_t Rand(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
  bool Chance(double p) { return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < p; }
  void Trace(const std::string& what);
  // A clock's tick period: nominal ± skew.
  double TickPeriod();
  void Fail(const std::string& what);

  void Start(Machine& m);
  // kill -9 (power_loss false) or power loss: the process is gone.
  void Stop(Machine& m, bool power_loss);
  void InjectFaults();
  void StepMachines();
  void StepMachine(Machine& m);
  void ClientOp(bool final_op, const std::string& key);
  void FinishOp(uint64_t op, bool ok, const std::string& value);
  void ServeReads(Machine& m);
  void ExpireOps();
  Machine* Leader();
  void CheckLeaders();
  void OnApply(const std::string& machine, uint64_t index, const std::string& cmd);
  bool Settle();

  const uint64_t seed_;
  const DriverSimOptions opts_;
  std::mt19937_64 rng_;
  uint64_t now_ = 0;
  uint64_t clock_ = 0;  // event order for the history
  std::optional<std::string> failure_;
  DriverNetwork net_;
  std::vector<std::unique_ptr<Machine>> machines_;
  std::vector<std::pair<std::string, std::string>> peers_;  // founders: id -> address
  uint64_t heal_at_ = 0;
  bool settling_ = false;  // faults stopped
  std::vector<Operation> history_;
  std::map<uint64_t, size_t> op_index_;
  std::map<uint64_t, PendingOp> pending_;
  uint64_t next_op_ = 1;
  uint64_t issuing_ = 0;        // the op being handed to a node right now
  std::set<uint64_t> refused_;  // ops refused before reaching any log
  std::map<uint64_t, std::string> leader_of_term_;
  std::map<uint64_t, std::string> applied_cmd_;  // index -> command bytes
  DriverSimStats stats_;
};

}  // namespace orch::sim
