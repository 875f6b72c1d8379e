// LoadMonitor: the node's measured load for heartbeats: cpu (millicores)
// and memory (MiB) used by the tasks the drivers run, smoothed with an
// exponentially weighted moving average. Cpu comes from the delta of the
// tasks' cumulative cpu time between samples.
// Thread safety: Sample() may be called from any thread (serialized
// internally).
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/drivers/driver.h"
#include "common/clock.h"
#include "orch/v1/types.pb.h"

namespace orch::agent {

class LoadMonitor {
 public:
  // `alpha`: weight of the newest sample (0 < alpha <= 1).
  LoadMonitor(std::vector<TaskDriver*> drivers, Clock* clock, double alpha = 0.3);

  // Measures now and returns the smoothed load.
  v1::NodeLoad Sample();

 private:
  std::mutex mu_;
  std::vector<TaskDriver*> drivers_;
  Clock* clock_;
  double alpha_;
  std::map<std::string, std::chrono::nanoseconds> last_cpu_;  // by task id
  std::optional<std::chrono::steady_clock::time_point> last_at_;
  std::optional<double> cpu_, mem_;
};

}  // namespace orch::agent
