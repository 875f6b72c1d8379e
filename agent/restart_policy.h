// Restart policy: whether a task that exited runs again on this node, and
// when. A group's RestartPolicy (attempts within interval, delay before each
// restart, mode "fail" or "delay") with Nomad-like defaults when the group
// gives none:
//
//   service, system: 2 restarts in 30m, 15s delay, mode fail
//   batch:           3 restarts in 24h, 15s delay, mode fail
//
// A service (or system) task is restarted whatever its exit code; a batch
// task only when it failed. Once `attempts` restarts happened within the
// last `interval`, mode "fail" fails the task; mode "delay" waits until the
// oldest of them leaves the interval and restarts it then.
//
// An allocation that names no job type (made by hand, or sent by a master
// that predates Allocation.job_type) and no policy is never restarted.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "orch/v1/types.pb.h"

namespace orch::agent {

struct RestartPolicy {
  int attempts = 0;
  int64_t interval_ms = 0;
  int64_t delay_ms = 0;
  bool delay_mode = false;          // mode "delay" (else "fail")
  bool restart_on_success = false;  // service and system tasks
};

// The policy in force for `group` of a job of type `type`: the group's own
// (attempts as given; interval, delay and mode defaulted when unset) or the
// type's defaults.
RestartPolicy ResolveRestartPolicy(const v1::TaskGroup& group, v1::Job::Type type);

struct RestartDecision {
  enum class Kind {
    kDone,     // exited cleanly and is not to run again
    kRestart,  // start it again at `at_ms`
    kFail,     // failed for good
  };
  Kind kind = Kind::kDone;
  int64_t at_ms = 0;
  // Added to the exit message: "restarting in 15s (restart 1 of 2 in 30m)",
  // "2 restarts in 30m exhausted", "" when there is nothing to add.
  std::string note;
};

// `restart_times_ms`: when earlier restarts of the task happened.
RestartDecision DecideRestart(const RestartPolicy& policy,
                              const std::vector<int64_t>& restart_times_ms, bool exited_cleanly,
                              int64_t now_ms);

// "15s", "30m", "24h", "1.5s", "250ms".
std::string FormatDurationMs(int64_t ms);

}  // namespace orch::agent
