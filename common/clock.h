// Clock: the one way code reads time, so tests can drive it.
// Thread safety: implementations are thread-safe.
#pragma once

#include <chrono>
#include <cstdint>

namespace orch {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the epoch (for records users read).
  virtual int64_t NowMs() const = 0;
  // Monotonic time (for timeouts and intervals).
  virtual std::chrono::steady_clock::time_point Steady() const = 0;
};

class SystemClock : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::chrono::steady_clock::time_point Steady() const override {
    return std::chrono::steady_clock::now();
  }
  static SystemClock* Get() {
    static SystemClock clock;
    return &clock;
  }
};

}  // namespace orch
