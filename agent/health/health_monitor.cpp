#include "agent/health/health_monitor.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/ids.h"

namespace orch::agent::health {

namespace {

std::chrono::milliseconds ToMs(const google::protobuf::Duration& d) {
  return std::chrono::milliseconds(d.seconds() * 1000 + d.nanos() / 1'000'000);
}

constexpr std::chrono::milliseconds kDefaultInterval{10'000};
constexpr std::chrono::milliseconds kDefaultTimeout{2'000};
constexpr std::chrono::milliseconds kMinInterval{100};

}  // namespace

std::chrono::milliseconds CheckInterval(const v1::HealthCheck& c) {
  if (!c.has_interval() || ToMs(c.interval()).count() <= 0) return kDefaultInterval;
  return std::max(kMinInterval, ToMs(c.interval()));
}

std::chrono::milliseconds CheckTimeout(const v1::HealthCheck& c) {
  if (!c.has_timeout() || ToMs(c.timeout()).count() <= 0) return kDefaultTimeout;
  return ToMs(c.timeout());
}

ProbeResult RunProbe(const CheckTarget& t) {
  auto timeout = CheckTimeout(t.check);
  switch (t.check.type()) {
    case v1::HealthCheck::HTTP:
      return ProbeHttp(t.port, t.check.path(), timeout);
    case v1::HealthCheck::TCP:
      return ProbeTcp(t.port, timeout);
    case v1::HealthCheck::COMMAND:
      return ProbeCommand(t.check.command(),
                          std::vector<std::string>(t.check.args().begin(), t.check.args().end()),
                          t.env, t.cwd, timeout, t.task_pid);
    default:
      return {false, "unknown check type"};
  }
}

HealthMonitor::HealthMonitor(Clock* clock, std::function<void()> on_change, Prober prober)
    : clock_(clock), on_change_(std::move(on_change)), prober_(std::move(prober)) {}

HealthMonitor::~HealthMonitor() { Stop(); }

void HealthMonitor::Start() {
  std::lock_guard lk(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void HealthMonitor::Stop() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HealthMonitor::Ensure(const std::string& key, const CheckTarget& target) {
  {
    std::lock_guard lk(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.target.generation == target.generation) return;
    Entry e;
    e.target = target;
    e.healthy = target.initially_healthy;
    if (!target.initial_message.empty()) e.message = target.initial_message;
    e.next = clock_->Steady();
    entries_[key] = std::move(e);
  }
  cv_.notify_all();
}

void HealthMonitor::Remove(const std::string& key) {
  std::lock_guard lk(mu_);
  entries_.erase(key);
}

CheckStatus HealthMonitor::Status(const std::string& key) const {
  std::lock_guard lk(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return {};
  return {true, it->second.healthy, it->second.message};
}

std::vector<std::string> HealthMonitor::Keys() const {
  std::lock_guard lk(mu_);
  std::vector<std::string> out;
  for (const auto& [k, e] : entries_) out.push_back(k);
  return out;
}

int HealthMonitor::RunDue() {
  std::vector<std::pair<std::string, CheckTarget>> due;
  {
    std::lock_guard lk(mu_);
    auto now = clock_->Steady();
    for (auto& [k, e] : entries_) {
      if (e.running || e.next > now) continue;
      e.running = true;
      due.emplace_back(k, e.target);
    }
  }
  bool changed = false;
  for (const auto& [key, target] : due) {
    ProbeResult r = prober_(target);
    if (results_) results_->With({r.ok ? "pass" : "fail"}).Inc();
    std::lock_guard lk(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.target.generation != target.generation) continue;
    Entry& e = it->second;
    e.running = false;
    e.next = clock_->Steady() + CheckInterval(target.check);
    int healthy_after = std::max(1, target.check.healthy_threshold());
    int unhealthy_after = std::max(1, target.check.unhealthy_threshold());
    if (r.ok) {
      ++e.passes;
      e.failures = 0;
    } else {
      ++e.failures;
      e.passes = 0;
    }
    bool was = e.healthy;
    if (!e.healthy && e.passes >= healthy_after) e.healthy = true;
    if (e.healthy && e.failures >= unhealthy_after) e.healthy = false;
    std::string verdict;
    if (e.healthy && !r.ok) {
      verdict = " (failure " + std::to_string(e.failures) + " of " +
                std::to_string(unhealthy_after) + " before unhealthy)";
    } else if (!e.healthy && r.ok) {
      verdict = " (pass " + std::to_string(e.passes) + " of " + std::to_string(healthy_after) +
                " before healthy)";
    }
    std::string message = r.message + verdict;
    if (e.healthy != was) {
      changed = true;
      if (e.healthy) {
        spdlog::info("task {}: healthy ({})", key, r.message);
      } else {
        spdlog::warn("task {}: unhealthy ({})", key, r.message);
      }
    }
    if (message != e.message) changed = true;
    e.message = std::move(message);
  }
  if (changed && on_change_) on_change_();
  return static_cast<int>(due.size());
}

void HealthMonitor::Loop() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    lk.unlock();
    RunDue();
    lk.lock();
    if (stop_) break;
    auto now = clock_->Steady();
    auto next = now + std::chrono::milliseconds(500);
    for (const auto& [k, e] : entries_) {
      if (!e.running) next = std::min(next, e.next);
    }
    if (next > now) cv_.wait_for(lk, next - now);
  }
}

}  // namespace orch::agent::health
