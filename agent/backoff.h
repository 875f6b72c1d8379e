// Backoff: exponential retry delays with jitter, for talking to masters.
// Thread safety: not thread-safe; one per retry loop.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

namespace orch::agent {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max), next_(initial) {}

  // The delay before the next attempt (grows until `max`, +-20% jitter).
  std::chrono::milliseconds Next() {
    auto base = next_;
    next_ = std::min(max_, next_ * 2);
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    return std::chrono::milliseconds(static_cast<int64_t>(base.count() * jitter(rng_)));
  }
  void Reset() { next_ = initial_; }

 private:
  std::chrono::milliseconds initial_, max_, next_;
  std::minstd_rand rng_{std::random_device{}()};
};

}  // namespace orch::agent
