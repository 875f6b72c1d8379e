// LoadMonitor: the measured load this agent reports, smoothed with an
// exponentially weighted moving average:
//  - of the node (when `measure_node`): cpu from the busy share of
//    /proc/stat's jiffies between samples times the cpu count, memory
//    MemTotal - MemAvailable from /proc/meminfo; sent with each heartbeat
//    so the scheduler weighs what really runs there, orch's or not;
//  - of each allocation: the sum of its tasks' driver Stats (cgroup usage
//    for exec tasks), cpu from the delta of cumulative cpu time; sent in
//    AllocationUpdate.usage.
// Without `measure_node`, Sample() reports the sum over all tasks instead.
//
// Measuring can be slow (Docker's stats endpoint takes up to a second or
// two per container), so it never runs on the heartbeat path: Start() runs
// Sample() on its own thread every `interval`, heartbeats send Latest(), and
// driver Stats calls happen without holding the lock readers take.
// Thread safety: all methods may be called from any thread; Sample() calls
// are serialized.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/drivers/driver.h"
#include "common/clock.h"
#include "common/status.h"
#include "orch/v1/types.pb.h"

namespace orch::agent {

// Cumulative counters of the whole node.
struct NodeCounters {
  uint64_t busy_jiffies = 0;   // user+nice+system+irq+softirq+steal
  uint64_t total_jiffies = 0;  // busy + idle + iowait
  int cpus = 1;
  int64_t memory_used_bytes = 0;  // MemTotal - MemAvailable
};
Result<NodeCounters> ReadNodeCounters();

class LoadMonitor {
 public:
  // `alpha`: weight of the newest sample (0 < alpha <= 1).
  LoadMonitor(std::vector<TaskDriver*> drivers, Clock* clock, double alpha = 0.3,
              bool measure_node = false);

  // Measures the tasks of a driver enabled after the start too.
  void AddDriver(TaskDriver* driver);

  ~LoadMonitor();  // Stop()

  // Measures now and returns the smoothed load (of the node, or of all
  // tasks without `measure_node`).
  v1::NodeLoad Sample();

  // The smoothed load as of the last Sample() (zero before the first).
  v1::NodeLoad Latest() const;

  // Samples every `interval` on a thread of its own until Stop().
  void Start(std::chrono::milliseconds interval);
  void Stop();

  // The smoothed use of one allocation as of the last Sample(); nothing
  // when none of its tasks could be measured then.
  std::optional<v1::NodeLoad> AllocUsage(const std::string& alloc_id) const;

 private:
  struct Ewma {
    std::optional<double> cpu, mem;
    void Add(std::optional<double> cpu_now, double mem_now, double alpha);
    v1::NodeLoad Load() const;
  };

  std::mutex sample_mu_;  // one Sample() at a time
  mutable std::mutex mu_;
  std::vector<TaskDriver*> drivers_;
  Clock* clock_;
  double alpha_;
  bool measure_node_;
  std::map<std::string, std::chrono::nanoseconds> last_cpu_;  // by task id
  std::optional<std::chrono::steady_clock::time_point> last_at_;
  std::optional<NodeCounters> last_node_;
  Ewma total_;
  std::map<std::string, Ewma> allocs_;  // by alloc id

  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stopping_ = false;
  std::thread sampler_;
};

}  // namespace orch::agent
