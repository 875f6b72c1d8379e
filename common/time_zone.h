// TimeZone: the UTC offset of an IANA time zone at any instant, read from the
// system's tzdata (TZif files under /usr/share/zoneinfo, or $TZDIR): the
// file's table of transitions, and past its end the POSIX rule of its
// footer ("CET-1CEST,M3.5.0,M10.5.0/3"). C++20's std::chrono::tzdb is not
// in the GCC this builds with, and glibc converts only for the process-wide
// $TZ, which other threads read.
// Thread safety: immutable after Load; safe to share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace orch {

class TimeZone {
 public:
  // "" and "UTC" need no file. Names are checked ([A-Za-z0-9_+-/], no
  // "..") before any file is opened.
  static Result<TimeZone> Load(const std::string& name);
  // From the bytes of a TZif file (tests, fuzzing).
  static Result<TimeZone> FromTzif(const std::string& name, const std::string& data);
  static TimeZone Utc();

  const std::string& name() const { return name_; }
  // Seconds east of UTC at the UTC instant `unix_s`.
  int32_t OffsetAt(int64_t unix_s) const;

  // A POSIX TZ rule's daylight-saving switch: month m, week w (5: last),
  // weekday d, at `secs` local time.
  struct RuleDate {
    int month = 0, week = 0, weekday = 0;
    int32_t secs = 7200;
  };

 private:
  std::string name_;
  std::vector<int64_t> transitions_;  // UTC seconds, ascending
  std::vector<int32_t> offsets_;      // in effect from transitions_[i]
  int32_t initial_ = 0;               // before the first transition
  // The footer rule: standard offset, and daylight's when has_dst.
  bool has_rule_ = false, has_dst_ = false;
  int32_t std_offset_ = 0, dst_offset_ = 0;
  RuleDate dst_start_, dst_end_;

  int32_t RuleOffsetAt(int64_t unix_s) const;
  bool ParseRule(const std::string& rule);
};

}  // namespace orch
