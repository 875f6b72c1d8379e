// HealthMonitor: runs the health checks of the tasks on this node and keeps
// their verdicts. The reconcile loop says which checks should exist
// (Ensure when a task with a check runs, Remove when it stops); each check
// runs every `interval` (default 10s) with its `timeout` (default 2s). A
// check starts unhealthy; `healthy_threshold` consecutive passes make it
// healthy and `unhealthy_threshold` consecutive failures unhealthy again
// (both default 1). Whenever a verdict changes `on_change` is called so the
// agent reports it at once. A failing check never stops its task: health is
// reported, and whoever routes traffic decides what to do with it.
//
// Checks run one after another on the monitor's thread (Start), or when the
// caller runs RunDue (tests, on a fake clock). The probe is injectable.
// Thread safety: every method is thread-safe; on_change is called without
// the monitor's lock held, from the thread that ran the checks.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/health/probe.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "orch/v1/types.pb.h"

namespace orch::agent::health {

// One check of one task, as the task runs now.
struct CheckTarget {
  v1::HealthCheck check;
  int port = 0;  // the host port the check's named port maps to (0: none)
  std::vector<std::pair<std::string, std::string>> env;  // command checks
  std::string cwd;
  // Command checks: the task's process (exec, docker); the check runs in its
  // namespaces and as its user. 0: as the agent, on the host.
  int task_pid = 0;
  // Identifies this run of the task (e.g. its start time): a new one starts
  // the check over, unhealthy.
  int64_t generation = 0;
  // The verdict to start from (e.g. as recorded before the agent restarted,
  // so a healthy task does not flap); later probes decide as usual.
  bool initially_healthy = false;
  std::string initial_message;
};

struct CheckStatus {
  bool known = false;    // the monitor has this check
  bool healthy = false;
  std::string message;   // the last probe's result, and the verdict
};

using Prober = std::function<ProbeResult(const CheckTarget&)>;

// The real probes (http, tcp, command) by the check's type.
ProbeResult RunProbe(const CheckTarget& target);

class HealthMonitor {
 public:
  HealthMonitor(Clock* clock, std::function<void()> on_change, Prober prober = RunProbe);
  ~HealthMonitor();  // Stop()
  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;
  // Counts each probe into `results` by result ("pass", "fail"). Call
  // before Start; the family must outlive the monitor.
  void CountInto(metrics::Family<metrics::Counter>* results) { results_ = results; }

  // Runs due checks on a thread of the monitor's own until Stop.
  void Start();
  void Stop();

  // Adds the check under `key` ("alloc/task"), or keeps it as it is when the
  // same generation is already checked. The first probe is due at once.
  void Ensure(const std::string& key, const CheckTarget& target);
  void Remove(const std::string& key);
  CheckStatus Status(const std::string& key) const;
  std::vector<std::string> Keys() const;

  // Runs every check whose time has come (by the clock); returns how many.
  int RunDue();

 private:
  struct Entry {
    CheckTarget target;
    bool healthy = false;
    int passes = 0, failures = 0;  // consecutive
    std::string message = "not checked yet";
    std::chrono::steady_clock::time_point next;
    bool running = false;
  };
  void Loop();

  Clock* clock_;
  std::function<void()> on_change_;
  Prober prober_;
  metrics::Family<metrics::Counter>* results_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;  // GUARDED_BY(mu_)
  bool stop_ = false;                     // GUARDED_BY(mu_)
  std::thread thread_;
};

std::chrono::milliseconds CheckInterval(const v1::HealthCheck& c);
std::chrono::milliseconds CheckTimeout(const v1::HealthCheck& c);

}  // namespace orch::agent::health
