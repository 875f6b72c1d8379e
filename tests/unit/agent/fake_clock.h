// FakeClock: a Clock tests move by hand (wall and monotonic time together).
// Thread safety: thread-safe.
#pragma once

#include <atomic>
#include <chrono>

#include "common/clock.h"

namespace orch::agent::testing {

class FakeClock : public Clock {
 public:
  int64_t NowMs() const override { return 1'700'000'000'000 + offset_ms_.load(); }
  std::chrono::steady_clock::time_point Steady() const override {
    return std::chrono::steady_clock::time_point(std::chrono::hours(1000)) +
           std::chrono::milliseconds(offset_ms_.load());
  }
  void Advance(std::chrono::milliseconds d) { offset_ms_ += d.count(); }

 private:
  std::atomic<int64_t> offset_ms_{0};
};

}  // namespace orch::agent::testing
