// AllocRunner: one allocation on this node. It owns the allocation's
// AllocRecord (what the masters asked for, the tasks' handles and states,
// the ports) and closes the gap between what is wanted (run, stop, or just
// observe) and what the drivers report, one idempotent Step at a time:
//
//   want run,  not started  -> assign ports, start every task of the group
//   want stop (or vanished) -> stop every running task
//   a task exits            -> restart it after a delay while the group's
//                              restart policy allows (restart_policy.h)
//   a task fails for good   -> the allocation FAILED, its siblings stopped
//   a task with a check     -> its health from the HealthMonitor
//
// Client status: PENDING (accepted, starting), RUNNING (all tasks run, or
// the rest exited 0), COMPLETE (all exited 0, or stopped on request), FAILED
// (a task exited non-zero, was killed, or could not start, and its restarts
// are used up). A task waiting out its restart delay is PENDING and keeps a
// started allocation RUNNING. Update().healthy: RUNNING, and every task
// that has not finished successfully runs and passes its check.
// Thread safety: not thread-safe; owned by the reconcile loop.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "agent/agent_metrics.h"
#include "agent/disk_migrator.h"
#include "agent/drivers/driver.h"
#include "agent_state.pb.h"
#include "common/clock.h"
#include "orch/v1/api.pb.h"

namespace orch::agent {

namespace health {
class HealthMonitor;
}

// Whether a replacement takes over its previous allocation's disk: sticky,
// or migrate, which implies sticky (as in Nomad).
inline bool KeepsDisk(const v1::TaskGroup& g) {
  return g.ephemeral_disk().sticky() || g.ephemeral_disk().migrate();
}

// What the runner needs from the agent.
struct RunnerContext {
  std::string data_dir;
  std::map<std::string, TaskDriver*> drivers;  // by name ("exec")
  Clock* clock = SystemClock::Get();
  std::string task_path;        // PATH given to tasks ("" = a standard one)
  std::vector<int> used_ports;  // dynamic ports other allocations hold
  health::HealthMonitor* health = nullptr;  // runs the tasks' checks; null: none
  const AgentMetrics* metrics = nullptr;    // counts restarts, OOM kills, driver calls; null: none
  // The host volumes this node offers (name -> directory, read_only).
  std::map<std::string, v1::HostVolume> host_volumes;
  // Whether this agent still runs a task of allocation `id` (a sticky
  // ephemeral disk is taken over once its previous allocation has stopped);
  // null: never.
  std::function<bool(const std::string& id)> alloc_running;
  // Sends an allocation's client state at once, while a pass still runs (a
  // task's start reporting an image pull's progress); null: not sent.
  std::function<void(v1::AllocationUpdate)> report_now;
  // Brings the previous allocation's ephemeral disk from another node
  // (EphemeralDisk.migrate; DiskMigrator::Poll); null: never.
  std::function<MigrationPoll(const v1::Allocation&)> migrate_disk;
};

class AllocRunner {
 public:
  enum class Want { kRun, kStop, kObserve };

  explicit AllocRunner(pb::AllocRecord record) : rec_(std::move(record)) {}

  // Replaces the masters' copy (desired status, description, ...). The task
  // group of a started allocation is kept as started.
  void SetAlloc(const v1::Allocation& alloc);

  // One pass: refresh task states from the drivers, then start or stop.
  void Step(Want want, RunnerContext& ctx);

  // The client state to report to the masters.
  v1::AllocationUpdate Update() const;

  bool AllTasksDead() const;

  // The record of task `name`, null if none.
  pb::TaskRecord* MutableTask(const std::string& name);
  // Records `handle` (a task the driver has just recovered that no record
  // named: see Reconciler) as the running task of that name; the next Step
  // refreshes it from the driver like any other.
  void AdoptTask(const pb::TaskHandle& handle);
  const pb::AllocRecord& record() const { return rec_; }
  const std::string& id() const { return rec_.alloc().id(); }

  static std::string AllocDir(const std::string& data_dir, const std::string& alloc_id);

 private:
  void Refresh(RunnerContext& ctx);
  void StartTasks(RunnerContext& ctx);
  // A sticky ephemeral disk whose previous allocation still runs here.
  bool WaitsForPrevious(const RunnerContext& ctx) const;
  // A disk to migrate from another node first: what to say meanwhile, or
  // "" once it is done (its failure kept in disk_note).
  std::string MigratesDisk(RunnerContext& ctx);
  void StartTask(const v1::Task& task, pb::TaskRecord* t, RunnerContext& ctx);
  // An operator's restart request (Allocation.restart_index) not handled
  // yet: its running tasks are stopped to be started again at once.
  void RestartRequested(RunnerContext& ctx);
  // An operator's signal (Allocation.signal_index) not delivered yet.
  void SignalRequested(RunnerContext& ctx);
  // `graceful`: a stop the masters asked for (shutdown_delay applies), not
  // a sibling's failure.
  void StopTasks(RunnerContext& ctx, bool graceful);
  void ComputeStatus(Want want);
  void OnTaskExit(pb::TaskRecord& t, int64_t now_ms);
  void RestartDue(Want want, RunnerContext& ctx);
  void ApplyHealth(RunnerContext& ctx);
  bool Healthy() const;
  TaskDriver* DriverFor(const v1::Task& task, RunnerContext& ctx) const;
  const v1::Task* FindTask(const std::string& name) const;

  pb::AllocRecord rec_;
  // When this agent first saw the allocation's desired status turn to stop
  // (0: not yet): the tasks' shutdown_delay counts from it.
  int64_t stop_wanted_ms_ = 0;
  // What a start waits for (previous allocation, disk migration), shown as
  // the description of the allocation not started yet; "" once started.
  std::string waiting_for_;
};

}  // namespace orch::agent
