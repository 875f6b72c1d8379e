#include "agent/restart_policy.h"

#include <algorithm>

namespace orch::agent {

namespace {

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;

int64_t Ms(const google::protobuf::Duration& d) { return d.seconds() * 1000 + d.nanos() / 1'000'000; }

}  // namespace

RestartPolicy ResolveRestartPolicy(const v1::TaskGroup& group, v1::Job::Type type) {
  RestartPolicy p;
  p.restart_on_success = type == v1::Job::SERVICE || type == v1::Job::SYSTEM;
  bool known_type = type != v1::Job::TYPE_UNSPECIFIED;
  bool batch = type == v1::Job::BATCH;
  if (known_type) {
    p.attempts = batch ? 3 : 2;
    p.interval_ms = batch ? 24 * kHour : 30 * kMinute;
    p.delay_ms = 15 * kSecond;
  } else {
    p.interval_ms = 30 * kMinute;
    p.delay_ms = 15 * kSecond;
  }
  if (group.has_restart()) {
    const auto& r = group.restart();
    p.attempts = std::max(0, r.attempts());
    if (r.has_interval()) p.interval_ms = Ms(r.interval());
    if (r.has_delay()) p.delay_ms = std::max<int64_t>(0, Ms(r.delay()));
    p.delay_mode = r.mode() == "delay";
  }
  return p;
}

RestartDecision DecideRestart(const RestartPolicy& policy,
                              const std::vector<int64_t>& restart_times_ms, bool exited_cleanly,
                              int64_t now_ms) {
  RestartDecision d;
  if (exited_cleanly && !policy.restart_on_success) return d;  // kDone
  if (policy.attempts <= 0) {
    d.kind = RestartDecision::Kind::kFail;
    return d;
  }
  // Restarts within the interval, oldest first.
  std::vector<int64_t> recent;
  for (int64_t t : restart_times_ms) {
    if (policy.interval_ms <= 0 || t > now_ms - policy.interval_ms) recent.push_back(t);
  }
  std::sort(recent.begin(), recent.end());
  std::string window = std::to_string(policy.attempts) + " restart" +
                       (policy.attempts == 1 ? "" : "s") + " in " +
                       FormatDurationMs(policy.interval_ms);
  if (static_cast<int>(recent.size()) < policy.attempts) {
    d.kind = RestartDecision::Kind::kRestart;
    d.at_ms = now_ms + policy.delay_ms;
    d.note = "restarting in " + FormatDurationMs(policy.delay_ms) + " (restart " +
             std::to_string(recent.size() + 1) + " of " + window + ")";
    return d;
  }
  if (policy.delay_mode && policy.interval_ms > 0) {
    // Wait until enough of them leave the interval for one more attempt.
    int64_t frees_at = recent[recent.size() - policy.attempts] + policy.interval_ms;
    d.kind = RestartDecision::Kind::kRestart;
    d.at_ms = std::max(now_ms + policy.delay_ms, frees_at);
    d.note = window + " used up; restarting in " + FormatDurationMs(d.at_ms - now_ms) +
             " (mode delay)";
    return d;
  }
  d.kind = RestartDecision::Kind::kFail;
  d.note = window + " exhausted";
  return d;
}

std::string FormatDurationMs(int64_t ms) {
  if (ms <= 0) return "0s";
  if (ms % kHour == 0) return std::to_string(ms / kHour) + "h";
  if (ms % kMinute == 0) return std::to_string(ms / kMinute) + "m";
  if (ms % kSecond == 0) return std::to_string(ms / kSecond) + "s";
  if (ms < kSecond) return std::to_string(ms) + "ms";
  std::string s = std::to_string(ms / kSecond) + "." + std::to_string(ms % kSecond + 1000).substr(1);
  while (s.back() == '0') s.pop_back();
  return s + "s";
}

}  // namespace orch::agent
