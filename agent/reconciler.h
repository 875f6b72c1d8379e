// Reconciler: the level-triggered heart of the agent. Desired state is the
// masters' list of allocations for this node; actual state is what the
// drivers run. Reconcile() walks every allocation (AllocRunner::Step), starts
// what should run, stops what should not (desired STOP, or gone from the
// list), persists every change to the StateStore and returns the client
// updates that changed since last reported. Running it twice with nothing
// new does nothing the second time.
//
// After a restart, Restore() adopts the tasks recorded in the StateStore
// through the drivers' Recover; until the first SetDesired nothing is
// started or stopped (the masters may simply be unreachable), only observed.
//
// Orphans: an agent that died between a driver starting a task and saving
// its record leaves work no record names. On the first pass after the first
// SetDesired (and for a driver added later, on the first pass after
// AddDriver) every driver's Discover() is asked what carries orch's marks.
// A task no runner tracks is adopted into its allocation's record when the
// masters still want that allocation to run (an allocation not started yet
// adopts it through the driver's idempotent Start instead); otherwise it is
// stopped and, once it has exited, forgotten by the driver.
// Thread safety: not thread-safe; one thread (the agent's reconcile loop)
// owns it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/alloc_runner.h"
#include "agent/state_store.h"

namespace orch::agent {

class Reconciler {
 public:
  // `ctx.drivers` and `store` must outlive the reconciler.
  Reconciler(RunnerContext ctx, StateStore* store);

  // Adopts what a previous agent ran. Call once, before Reconcile.
  Status Restore();

  // The masters' complete list of allocations for this node.
  void SetDesired(std::vector<v1::Allocation> allocs);

  // One pass; returns the updates to report (only allocations the masters
  // still list, and only when their client state changed).
  std::vector<v1::AllocationUpdate> Reconcile();

  // Forget what was reported, so the next pass reports everything again
  // (after re-registering with a master that may have lost it).
  void ResetReported() { reported_.clear(); }

  std::vector<pb::AllocRecord> Records() const;

  // Enables a driver that became available after the start (e.g. the
  // Docker engine came up); its tasks are discovered on the next pass that
  // has desired state.
  void AddDriver(const std::string& name, TaskDriver* driver);

  // Orphans stopped by discovery that have not exited yet (task ids).
  std::vector<std::string> StoppingOrphans() const;

  // Measured use of an allocation (LoadMonitor::AllocUsage), attached to its
  // updates as AllocationUpdate.usage and re-sent every kUsageReportMs while
  // the allocation is listed; usage alone changing is not a state change.
  using UsageSource = std::function<std::optional<v1::NodeLoad>(const std::string& alloc_id)>;
  void SetUsageSource(UsageSource source) { usage_ = std::move(source); }
  static constexpr int64_t kUsageReportMs = 10'000;

 private:
  // Starts the allocations that are new this pass, several at a time (a
  // container's create + start takes most of a second through the engine).
  void StartNewConcurrently();
  // Sets the tasks-by-state gauges (ctx_.metrics) from the runners.
  void CountTasks() const;

  RunnerContext ctx_;
  StateStore* store_;
  std::map<std::string, std::unique_ptr<AllocRunner>> runners_;
  std::optional<std::map<std::string, v1::Allocation>> desired_;
  std::map<std::string, std::string> reported_;  // alloc id -> serialized update
  UsageSource usage_;
  std::map<std::string, int64_t> usage_sent_ms_;  // alloc id -> when usage was last sent

  // Discovery (see the header comment).
  void DiscoverOrphans(const std::string& driver_name, TaskDriver* driver);
  void ReapOrphans();
  std::vector<std::string> undiscovered_;  // drivers whose Discover is still due
  std::map<std::string, TaskDriver*> stopping_orphans_;  // task id -> its driver
};

}  // namespace orch::agent
