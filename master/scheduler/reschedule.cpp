#include "master/scheduler/reschedule.h"

#include <algorithm>

namespace orch::master::sched {
namespace {

int64_t Ms(const google::protobuf::Duration& d) { return d.seconds() * 1000 + d.nanos() / 1'000'000; }

}  // namespace

RescheduleRule EffectiveReschedule(const v1::Job& job, const v1::TaskGroup& g) {
  RescheduleRule r;
  if (job.type() == v1::Job::BATCH) {
    r.attempts = 1;
    r.interval_ms = 24 * 3'600'000LL;
    r.delay_ms = 5'000;
    r.delay_function = "constant";
    r.max_delay_ms = 5'000;
    r.unlimited = false;
  }
  if (!g.has_reschedule()) return r;
  const auto& p = g.reschedule();
  r.attempts = p.attempts();
  if (p.has_interval()) r.interval_ms = Ms(p.interval());
  if (p.has_delay()) r.delay_ms = Ms(p.delay());
  if (!p.delay_function().empty()) r.delay_function = p.delay_function();
  if (p.has_max_delay()) r.max_delay_ms = Ms(p.max_delay());
  r.unlimited = p.unlimited();
  return r;
}

RescheduleDecision DecideReschedule(const RescheduleRule& rule, const v1::Allocation& failed, int64_t now_ms) {
  RescheduleDecision out;
  const int64_t failed_at = failed.modify_time_ms();
  for (const auto& e : failed.reschedule_events()) {
    // A limited policy counts the replacements within its interval; an
    // unlimited one keeps the history only to grow the delay.
    if (rule.unlimited || rule.interval_ms <= 0 || failed_at - e.time_ms() <= rule.interval_ms) {
      out.events.push_back(e);
    }
  }
  if (!rule.unlimited && static_cast<int>(out.events.size()) >= rule.attempts) {
    out.give_up = true;
    return out;
  }
  const int64_t cap = std::max(rule.max_delay_ms, rule.delay_ms);
  int64_t delay = rule.delay_ms;
  if (rule.delay_function == "exponential") {
    for (std::size_t i = 0; i < out.events.size() && delay < cap; ++i) delay *= 2;
  } else if (rule.delay_function == "fibonacci") {
    int64_t prev = 0;
    for (std::size_t i = 0; i < out.events.size() && delay < cap; ++i) {
      int64_t next = prev + delay;
      prev = delay;
      delay = std::max(next, rule.delay_ms);
    }
  }
  // A first failure after a long healthy run starts over (Nomad resets the
  // delay once the last replacement is older than the delay cap).
  if (rule.unlimited && !out.events.empty() && failed_at - out.events.back().time_ms() > cap + rule.delay_ms) {
    out.events.clear();
    delay = rule.delay_ms;
  }
  out.delay_ms = std::min(delay, cap);
  out.at_ms = failed_at + out.delay_ms;
  v1::RescheduleEvent e;
  e.set_time_ms(now_ms);
  e.set_prev_alloc_id(failed.id());
  e.set_delay_ms(out.delay_ms);
  out.events.push_back(e);
  return out;
}

}  // namespace orch::master::sched
