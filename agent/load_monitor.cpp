#include "agent/load_monitor.h"

namespace orch::agent {

LoadMonitor::LoadMonitor(std::vector<TaskDriver*> drivers, Clock* clock, double alpha)
    : drivers_(std::move(drivers)), clock_(clock), alpha_(alpha) {}

v1::NodeLoad LoadMonitor::Sample() {
  std::lock_guard lk(mu_);
  auto now = clock_->Steady();
  double elapsed_s = last_at_ ? std::chrono::duration<double>(now - *last_at_).count() : 0.0;
  std::map<std::string, std::chrono::nanoseconds> cpu_now;
  double cpu_used_s = 0, mem_bytes = 0;
  for (TaskDriver* d : drivers_) {
    for (const auto& id : d->List()) {
      auto u = d->Stats(id);
      if (!u.ok()) continue;
      cpu_now[id] = u->cpu_time;
      mem_bytes += static_cast<double>(u->memory_bytes);
      auto prev = last_cpu_.find(id);
      // A task seen for the first time contributes from the next sample.
      if (prev != last_cpu_.end() && u->cpu_time >= prev->second) {
        cpu_used_s += std::chrono::duration<double>(u->cpu_time - prev->second).count();
      }
    }
  }
  last_cpu_ = std::move(cpu_now);
  last_at_ = now;
  double mem_mib = mem_bytes / (1024.0 * 1024.0);
  mem_ = mem_ ? alpha_ * mem_mib + (1 - alpha_) * *mem_ : mem_mib;
  if (elapsed_s > 0) {
    double millicores = cpu_used_s / elapsed_s * 1000.0;
    cpu_ = cpu_ ? alpha_ * millicores + (1 - alpha_) * *cpu_ : millicores;
  }
  v1::NodeLoad load;
  load.set_cpu(cpu_.value_or(0));
  load.set_memory(*mem_);
  return load;
}

}  // namespace orch::agent
