// CronSchedule: a five-field cron expression (minute hour day-of-month
// month day-of-week) as Vixie cron and Nomad's periodic jobs read it: `*`,
// lists, ranges, steps ("*/15", "8-18/2", "5/10"), month and weekday names
// (JAN, MON), 0 or 7 for Sunday, `?` as `*` in the day fields, and
// @yearly/@annually, @monthly, @weekly, @daily/@midnight, @hourly. When both
// day fields are restricted a day matches either (cron's rule).
// Thread safety: immutable after Parse.
#pragma once

#include <bitset>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/status.h"
#include "common/time_zone.h"

namespace orch {

class CronSchedule {
 public:
  // InvalidArgument naming the field and what is wrong with it.
  static Result<CronSchedule> Parse(std::string_view expr);

  // The first whole minute strictly after `after_unix_s` whose wall time in
  // `tz` matches, as UTC seconds; nullopt if none within five years
  // ("0 0 30 2 *"). A wall time a daylight-saving jump skips never
  // matches; one it repeats matches twice.
  std::optional<int64_t> Next(int64_t after_unix_s, const TimeZone& tz) const;

  // Whether the wall time (month 1-12, weekday 0 = Sunday) matches.
  bool Matches(int minute, int hour, int day, int month, int weekday) const;

 private:
  bool DayMatches(int day, int month, int weekday) const;

  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;    // 1-31
  std::bitset<13> months_;  // 1-12
  std::bitset<7> weekdays_;
  bool days_star_ = true, weekdays_star_ = true;
};

}  // namespace orch
