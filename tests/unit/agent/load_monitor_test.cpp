#include "agent/load_monitor.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "fake_driver.h"

namespace orch::agent {
namespace {

class ManualClock : public Clock {
 public:
  int64_t NowMs() const override { return ms_; }
  std::chrono::steady_clock::time_point Steady() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms_));
  }
  void Advance(int64_t ms) { ms_ += ms; }

 private:
  int64_t ms_ = 1'000'000;
};

// A driver whose one task uses what the test says.
class UsageDriver : public testing::FakeDriver {
 public:
  std::vector<std::string> List() override { return {"a/t"}; }
  Result<TaskUsage> Stats(const std::string&) override { return usage; }
  TaskUsage usage;
};

TEST(LoadMonitorTest, ReportsSmoothedCpuAndMemoryOfTasks) {
  UsageDriver d;
  ManualClock clock;
  LoadMonitor load({&d}, &clock, /*alpha=*/0.5);
  d.usage.memory_bytes = 100 << 20;
  d.usage.cpu_time = std::chrono::seconds(10);
  auto first = load.Sample();
  EXPECT_DOUBLE_EQ(first.memory(), 100);
  EXPECT_DOUBLE_EQ(first.cpu(), 0);  // no interval yet

  // Half a core for one second: 500 millicores.
  clock.Advance(1000);
  d.usage.cpu_time += std::chrono::milliseconds(500);
  d.usage.memory_bytes = 200 << 20;
  auto second = load.Sample();
  EXPECT_DOUBLE_EQ(second.cpu(), 500);
  EXPECT_DOUBLE_EQ(second.memory(), 150);  // EWMA of 100 and 200

  // Idle for a second: the average decays rather than dropping to zero.
  clock.Advance(1000);
  auto third = load.Sample();
  EXPECT_DOUBLE_EQ(third.cpu(), 250);
}

// Docker's stats endpoint can take seconds per container; a heartbeat
// (Latest) or a report (AllocUsage) must never wait for a measurement in
// progress, or a busy node misses its TTL and all its work is moved.
class SlowDriver : public testing::FakeDriver {
 public:
  std::vector<std::string> List() override { return {"a/t"}; }
  Result<TaskUsage> Stats(const std::string&) override {
    std::unique_lock lk(mu);
    entered = true;
    cv.notify_all();
    cv.wait(lk, [&] { return released; });
    TaskUsage u;
    u.memory_bytes = 64 << 20;
    return u;
  }
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, released = false;
};

TEST(LoadMonitorTest, ReadersNeverWaitForASlowMeasurement) {
  SlowDriver d;
  ManualClock clock;
  LoadMonitor load({&d}, &clock, /*alpha=*/1.0);
  load.Start(std::chrono::milliseconds(10));
  {
    std::unique_lock lk(d.mu);
    d.cv.wait(lk, [&] { return d.entered; });
  }
  // A sample is stuck inside Stats: readers still answer (with the old
  // values) instead of blocking.
  EXPECT_EQ(load.Latest().memory(), 0);
  EXPECT_FALSE(load.AllocUsage("a").has_value());
  {
    std::lock_guard lk(d.mu);
    d.released = true;
  }
  d.cv.notify_all();
  for (int i = 0; i < 2000 && load.Latest().memory() == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(load.Latest().memory(), 64);
  ASSERT_TRUE(load.AllocUsage("a").has_value());
  EXPECT_EQ(load.AllocUsage("a")->memory(), 64);
  load.Stop();
}

}  // namespace
}  // namespace orch::agent
