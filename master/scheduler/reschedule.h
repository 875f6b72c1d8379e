// The reschedule policy of failed allocations (Nomad's `reschedule`
// block): whether a failed allocation gets a replacement, and when.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "orch/v1/types.pb.h"

namespace orch::master::sched {

struct RescheduleRule {
  int attempts = 0;
  int64_t interval_ms = 0;
  int64_t delay_ms = 30'000;
  std::string delay_function = "exponential";
  int64_t max_delay_ms = 3'600'000;
  bool unlimited = true;
};

// The group's policy with Nomad's defaults for the job type filled in.
RescheduleRule EffectiveReschedule(const v1::Job& job, const v1::TaskGroup& g);

struct RescheduleDecision {
  bool give_up = false;  // attempts used up: the slot stays failed
  int64_t at_ms = 0;     // not before this time
  int64_t delay_ms = 0;
  // The replacement's history: the failed one's (within the interval) and
  // this replacement.
  std::vector<v1::RescheduleEvent> events;
};

// For `failed` (client status FAILED), whose failure time is its
// modify_time_ms; `now_ms` stamps the new event.
RescheduleDecision DecideReschedule(const RescheduleRule& rule, const v1::Allocation& failed, int64_t now_ms);

}  // namespace orch::master::sched
