// EvalWorker: on the leader, turns pending evaluations into plans and
// proposes them. Woken by every state change; idle elsewhere.
// Thread safety: owns one thread; Start/Stop from one thread.
#pragma once

#include <atomic>
#include <thread>

#include "common/clock.h"
#include "master/log/replicated_log.h"
#include "master/state/state_store.h"

namespace orch::master {

class EvalWorker {
 public:
  EvalWorker(StateStore* store, ReplicatedLog* log, Clock* clock)
      : store_(store), log_(log), clock_(clock) {}
  ~EvalWorker() { Stop(); }
  EvalWorker(const EvalWorker&) = delete;
  EvalWorker& operator=(const EvalWorker&) = delete;

  void Start();
  // Asks the loop to stop after the write in progress (non-blocking).
  void RequestStop() { stop_ = true; }
  void Stop();

  // Processes every pending evaluation once. Returns how many plans were
  // proposed. Exposed for tests.
  int RunOnce();

 private:
  void Loop();

  StateStore* store_;
  ReplicatedLog* log_;
  Clock* clock_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace orch::master
