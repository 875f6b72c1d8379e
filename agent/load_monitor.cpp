#include "agent/load_monitor.h"

#include <unistd.h>

#include <fstream>
#include <sstream>

namespace orch::agent {

Result<NodeCounters> ReadNodeCounters() {
  NodeCounters c;
  std::ifstream stat("/proc/stat");
  std::string cpu;
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (!(stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) ||
      cpu != "cpu") {
    return Status::Internal("cannot parse /proc/stat");
  }
  c.busy_jiffies = user + nice + system + irq + softirq + steal;
  c.total_jiffies = c.busy_jiffies + idle + iowait;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  c.cpus = n > 0 ? static_cast<int>(n) : 1;
  std::ifstream mem("/proc/meminfo");
  std::string key;
  int64_t kb = 0, total = -1, available = -1;
  std::string unit;
  std::string line;
  while (std::getline(mem, line)) {
    std::istringstream s(line);
    if (!(s >> key >> kb)) continue;
    if (key == "MemTotal:") total = kb;
    if (key == "MemAvailable:") available = kb;
  }
  if (total < 0 || available < 0) return Status::Internal("cannot parse /proc/meminfo");
  c.memory_used_bytes = (total - available) * 1024;
  return c;
}

void LoadMonitor::Ewma::Add(std::optional<double> cpu_now, double mem_now, double alpha) {
  mem = mem ? alpha * mem_now + (1 - alpha) * *mem : mem_now;
  if (cpu_now) cpu = cpu ? alpha * *cpu_now + (1 - alpha) * *cpu : *cpu_now;
}

v1::NodeLoad LoadMonitor::Ewma::Load() const {
  v1::NodeLoad l;
  l.set_cpu(cpu.value_or(0));
  l.set_memory(mem.value_or(0));
  return l;
}

LoadMonitor::LoadMonitor(std::vector<TaskDriver*> drivers, Clock* clock, double alpha,
                         bool measure_node)
    : drivers_(std::move(drivers)), clock_(clock), alpha_(alpha), measure_node_(measure_node) {}

void LoadMonitor::AddDriver(TaskDriver* driver) {
  std::lock_guard lk(mu_);
  drivers_.push_back(driver);
}

LoadMonitor::~LoadMonitor() { Stop(); }

void LoadMonitor::Start(std::chrono::milliseconds interval) {
  std::lock_guard lk(run_mu_);
  if (sampler_.joinable()) return;
  stopping_ = false;
  sampler_ = std::thread([this, interval] {
    std::unique_lock lk(run_mu_);
    while (!stopping_) {
      lk.unlock();
      Sample();
      lk.lock();
      run_cv_.wait_for(lk, interval, [&] { return stopping_; });
    }
  });
}

void LoadMonitor::Stop() {
  std::thread t;
  {
    std::lock_guard lk(run_mu_);
    stopping_ = true;
    t = std::move(sampler_);
  }
  run_cv_.notify_all();
  if (t.joinable()) t.join();
}

v1::NodeLoad LoadMonitor::Latest() const {
  std::lock_guard lk(mu_);
  return total_.Load();
}

v1::NodeLoad LoadMonitor::Sample() {
  std::lock_guard sample_lk(sample_mu_);
  // Ask the drivers first, without mu_: Stats may take seconds (Docker).
  std::vector<TaskDriver*> drivers;
  {
    std::lock_guard lk(mu_);
    drivers = drivers_;
  }
  std::vector<std::pair<std::string, TaskUsage>> usage;
  for (TaskDriver* d : drivers) {
    for (const auto& id : d->List()) {
      auto u = d->Stats(id);
      if (u.ok()) usage.emplace_back(id, *u);
    }
  }
  std::lock_guard lk(mu_);
  auto now = clock_->Steady();
  double elapsed_s = last_at_ ? std::chrono::duration<double>(now - *last_at_).count() : 0.0;
  std::map<std::string, std::chrono::nanoseconds> cpu_now;
  struct Sum {
    double cpu_s = 0, mem_bytes = 0;
  };
  Sum all;
  std::map<std::string, Sum> by_alloc;
  for (const auto& [id, u] : usage) {
    std::string alloc = id.substr(0, id.find('/'));
    Sum& a = by_alloc[alloc];
    cpu_now[id] = u.cpu_time;
    a.mem_bytes += static_cast<double>(u.memory_bytes);
    all.mem_bytes += static_cast<double>(u.memory_bytes);
    auto prev = last_cpu_.find(id);
    // A task seen for the first time contributes from the next sample.
    if (prev != last_cpu_.end() && u.cpu_time >= prev->second) {
      double s = std::chrono::duration<double>(u.cpu_time - prev->second).count();
      a.cpu_s += s;
      all.cpu_s += s;
    }
  }
  last_cpu_ = std::move(cpu_now);
  last_at_ = now;
  constexpr double kMiB = 1024.0 * 1024.0;
  auto millicores = [&](double cpu_s) -> std::optional<double> {
    if (elapsed_s <= 0) return std::nullopt;
    return cpu_s / elapsed_s * 1000.0;
  };
  std::map<std::string, Ewma> allocs;
  for (const auto& [alloc, sum] : by_alloc) {
    Ewma e = allocs_.count(alloc) ? allocs_[alloc] : Ewma{};
    // A new allocation has no interval yet.
    e.Add(allocs_.count(alloc) ? millicores(sum.cpu_s) : std::nullopt, sum.mem_bytes / kMiB,
          alpha_);
    allocs[alloc] = e;
  }
  allocs_ = std::move(allocs);

  if (!measure_node_) {
    total_.Add(millicores(all.cpu_s), all.mem_bytes / kMiB, alpha_);
    return total_.Load();
  }
  auto node = ReadNodeCounters();
  if (node.ok()) {
    std::optional<double> cpu;
    if (last_node_ && node->total_jiffies > last_node_->total_jiffies) {
      double busy = static_cast<double>(node->busy_jiffies - last_node_->busy_jiffies);
      double total = static_cast<double>(node->total_jiffies - last_node_->total_jiffies);
      cpu = busy / total * node->cpus * 1000.0;
    }
    total_.Add(cpu, static_cast<double>(node->memory_used_bytes) / kMiB, alpha_);
    last_node_ = *node;
  }
  return total_.Load();
}

std::optional<v1::NodeLoad> LoadMonitor::AllocUsage(const std::string& alloc_id) const {
  std::lock_guard lk(mu_);
  auto it = allocs_.find(alloc_id);
  if (it == allocs_.end()) return std::nullopt;
  return it->second.Load();
}

}  // namespace orch::agent
