// PeriodicLauncher: on the leader, launches periodic jobs. For each job in
// the state's periodic table (only those jobs: no scan of all jobs), the
// next time its cron expression names after the launch recorded for it;
// when that time has come, one PeriodicLaunchCommand registers the child
// "<id>/periodic-<unix seconds>" and records the launch, or records it as
// skipped when prohibit_overlap finds an earlier child still pending or
// running. The state machine refuses a launch time not later than the one
// recorded, so a new leader (or a launcher racing the old one) never
// launches a time twice; times missed while no leader ran are launched
// once, at the latest one passed. Schedules are parsed once per job
// version.
// Thread safety: not thread-safe; driven by the EvalWorker's thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/clock.h"
#include "common/cron.h"
#include "common/time_zone.h"
#include "master/replication/replicated_log.h"
#include "master/state/state_store.h"

namespace orch::master {

class PeriodicLauncher {
 public:
  PeriodicLauncher(StateStore* store, replication::ReplicatedLog* log, Clock* clock)
      : store_(store), log_(log), clock_(clock) {}

  // One pass at most every `interval` (the leader's loop calls it every
  // round); the launches (and skips) proposed.
  int MaybeRun(std::chrono::milliseconds interval = std::chrono::seconds(1));
  // One pass now.
  int RunOnce();
  // Leadership lost: forget the parsed schedules.
  void Reset() { schedules_.clear(); }

 private:
  struct Schedule {
    uint64_t modify_index = 0;
    CronSchedule cron;
    TimeZone tz;
  };
  // The job's parsed schedule (null: not periodic, stopped or invalid).
  const Schedule* ScheduleOf(const v1::Job& job);

  StateStore* store_;
  replication::ReplicatedLog* log_;
  Clock* clock_;
  std::map<std::string, Schedule> schedules_;
  int64_t last_run_ms_ = 0;
};

}  // namespace orch::master
