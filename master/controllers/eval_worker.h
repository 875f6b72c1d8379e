// EvalWorker: on the leader, turns pending evaluations into plans and
// proposes them. Pending evaluations are de-duplicated per job (the newest
// one is scheduled, the others are marked coalesced by the same plan); all
// jobs of one pass are scheduled against one NodeTable built from a single
// read of the state, so they see each other's placements, and their plans
// are folded into one log entry (up to kPlansPerEntry) when the queue is
// deep. Between passes it runs the leader-side controllers (see
// job_watch.h: drain progress, system jobs on joining nodes, failed
// allocations; deployment_watcher.h: rolling updates; garbage_collector.h;
// periodic_launcher.h: periodic jobs).
// Woken by every state change; idle elsewhere.
// Thread safety: owns one thread; Start/Stop from one thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/metrics.h"
#include "master/controllers/deployment_watcher.h"
#include "master/controllers/garbage_collector.h"
#include "master/controllers/job_watch.h"
#include "master/controllers/periodic_launcher.h"
#include "master/replication/replicated_log.h"
#include "master/scheduler/config.h"
#include "master/scheduler/scheduler.h"
#include "master/state/state_store.h"
#include "orch/v1/types.pb.h"

namespace orch::master {

class EvalWorker {
 public:
  static constexpr int kPlansPerEntry = 64;
  // A plan (and a log entry of plans) stays well below the Raft transport's
  // 16 MiB frame; a larger plan fails its evaluation instead.
  static constexpr size_t kMaxPlanBytes = 4 << 20;
  // Plans are grouped into one log entry up to this size: every member
  // writes an entry to disk in one go before it answers its peers again,
  // and a 3.6 MB one took 80-280 ms here under load.
  static constexpr size_t kMaxEntryBytes = 1 << 20;
  using LoadSource = std::function<v1::NodeLoad(const std::string& node_id)>;

  EvalWorker(StateStore* store, replication::ReplicatedLog* log, Clock* clock)
      : store_(store),
        log_(log),
        clock_(clock),
        watch_(store, log, clock),
        deployments_(store, log, clock),
        gc_(store, log, clock),
        periodic_(store, log, clock) {}
  ~EvalWorker() { Stop(); }
  EvalWorker(const EvalWorker&) = delete;
  EvalWorker& operator=(const EvalWorker&) = delete;

  // Measured node load (from the heartbeats the leader receives). Call
  // before Start.
  void SetLoadSource(LoadSource s) { load_ = std::move(s); }
  void SetConfig(const sched::SchedulerConfig& c) { cfg_ = c; }
  void SetGcOptions(const GcOptions& o) { gc_.set_options(o); }
  // Counts into `registry` (orch_scheduler_*). Call before Start.
  void SetMetrics(metrics::Registry* registry);
  // Runs before each evaluation is scheduled; tests use it to make one
  // evaluation fail (throw) and check the others go on.
  void SetScheduleHook(std::function<void(const sched::JobInput&)> h) { schedule_hook_ = std::move(h); }

  void Start();
  // Asks the loop to stop after the write in progress (non-blocking).
  void RequestStop() { stop_ = true; }
  void Stop();

  // Processes every pending evaluation once. Returns how many plans were
  // proposed. Exposed for tests.
  int RunOnce();
  // One pass of the leader controllers. Exposed for tests.
  int RunControllers() { return watch_.RunOnce() + deployments_.RunOnce(); }
  // One pass of the periodic launcher. Exposed for tests.
  int RunPeriodic() { return periodic_.RunOnce(); }

  // Plans proposed and log entries used so far (benchmarks, tests).
  uint64_t plans_proposed() const { return plans_; }
  uint64_t entries_proposed() const { return entries_; }

 private:
  void Loop();

  StateStore* store_;
  replication::ReplicatedLog* log_;
  Clock* clock_;
  JobWatch watch_;
  DeploymentWatcher deployments_;
  GarbageCollector gc_;
  PeriodicLauncher periodic_;
  LoadSource load_;
  std::function<void(const sched::JobInput&)> schedule_hook_;
  sched::SchedulerConfig cfg_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> plans_{0}, entries_{0};
  // SetMetrics; null until then.
  metrics::Family<metrics::Counter>* evaluations_ = nullptr;
  metrics::Counter* placements_ = nullptr;
  metrics::Counter* plans_refused_ = nullptr;
  metrics::Histogram* pass_seconds_ = nullptr;
  std::thread thread_;
};

}  // namespace orch::master
