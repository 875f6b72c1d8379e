// Reprobe: retries something that was absent at start (the Docker engine)
// every `interval` until it succeeds once. The caller polls it from a loop
// it already runs (the agent's reconcile loop, about once a second); the
// attempt runs on that thread. An interval of 0 never retries.
// Thread safety: not thread-safe; one thread polls it.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "common/clock.h"

namespace orch::agent {

class Reprobe {
 public:
  // `attempt` returns true once what it looks for is there. The first
  // attempt is `interval` after construction (the caller just tried).
  Reprobe(std::chrono::milliseconds interval, Clock* clock, std::function<bool()> attempt);

  // Runs the attempt when due; true on the call whose attempt succeeded
  // (afterwards never attempts again and returns false).
  bool Poll();

  bool done() const { return done_; }
  int attempts() const { return attempts_; }

 private:
  std::chrono::milliseconds interval_;
  Clock* clock_;
  std::function<bool()> attempt_;
  std::chrono::steady_clock::time_point next_;
  bool done_ = false;
  int attempts_ = 0;
};

}  // namespace orch::agent
