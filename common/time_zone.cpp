#include "common/time_zone.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace orch {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int64_t YearOf(int64_t unix_s) {
  int64_t z = (unix_s >= 0 ? unix_s : unix_s - 86399) / 86400 + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return yoe + era * 400 + (m <= 2);
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Local seconds since the epoch at which rule date `r` falls in year `y`.
int64_t RuleLocalTime(const TimeZone::RuleDate& r, int64_t y) {
  int64_t first = DaysFromCivil(y, r.month, 1);
  int wd_first = static_cast<int>(((first % 7) + 7 + 4) % 7);  // 1970-01-01 was a Thursday
  int day = 1 + (r.weekday - wd_first + 7) % 7 + (r.week - 1) * 7;
  while (day > DaysInMonth(y, r.month)) day -= 7;
  return (first + day - 1) * 86400 + r.secs;
}

// Big-endian integers of a TZif file.
int64_t Be(const std::string& d, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v = (v << 8) | static_cast<unsigned char>(d[at + static_cast<size_t>(i)]);
  if (bytes == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

// A POSIX TZ string, left to right.
class RuleReader {
 public:
  explicit RuleReader(const std::string& s) : s_(s) {}
  bool done() const { return i_ >= s_.size(); }
  bool Peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  bool Take(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool Name() {
    if (Take('<')) {
      size_t end = s_.find('>', i_);
      if (end == std::string::npos) return false;
      i_ = end + 1;
      return true;
    }
    size_t start = i_;
    while (i_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[i_]))) ++i_;
    return i_ - start >= 3;
  }
  // [+-]h[h][:mm[:ss]] in seconds.
  bool Time(int32_t* out) {
    int sign = 1;
    if (Take('-')) {
      sign = -1;
    } else {
      Take('+');
    }
    int32_t parts[3] = {0, 0, 0};
    for (int p = 0; p < 3; ++p) {
      if (p > 0 && !Take(':')) break;
      size_t start = i_;
      int32_t v = 0;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_])) && i_ - start < 3) {
        v = v * 10 + (s_[i_++] - '0');
      }
      if (i_ == start) return false;
      parts[p] = v;
    }
    *out = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return true;
  }
  bool Number(int* out) {
    size_t start = i_;
    int v = 0;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_])) && i_ - start < 3) {
      v = v * 10 + (s_[i_++] - '0');
    }
    *out = v;
    return i_ > start;
  }
  // Mm.w.d[/time]; the Julian forms are not supported.
  bool Date(TimeZone::RuleDate* r) {
    if (!Take('M') || !Number(&r->month) || !Take('.') || !Number(&r->week) || !Take('.') ||
        !Number(&r->weekday)) {
      return false;
    }
    if (r->month < 1 || r->month > 12 || r->week < 1 || r->week > 5 || r->weekday > 6) return false;
    r->secs = 7200;
    if (Take('/')) return Time(&r->secs);
    return true;
  }

 private:
  const std::string& s_;
  size_t i_ = 0;
};

bool ValidZoneName(const std::string& name) {
  if (name.empty() || name.size() > 128 || name[0] == '/' || name.find("..") != std::string::npos)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '-' ||
           c == '/';
  });
}

}  // namespace

TimeZone TimeZone::Utc() {
  TimeZone tz;
  tz.name_ = "UTC";
  return tz;
}

Result<TimeZone> TimeZone::Load(const std::string& name) {
  if (name.empty() || name == "UTC" || name == "Etc/UTC") return Utc();
  if (!ValidZoneName(name))
    return Status::InvalidArgument("time zone \"" + name.substr(0, 80) + "\" is not a zone name");
  const char* dir = std::getenv("TZDIR");
  std::string path =
      std::string(dir != nullptr && dir[0] != '\0' ? dir : "/usr/share/zoneinfo") + "/" + name;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument("unknown time zone \"" + name + "\" (no " + path + ")");
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string data = ss.str();
  if (data.size() > (1 << 20))
    return Status::InvalidArgument("time zone file " + path + " is too large");
  return FromTzif(name, data);
}

Result<TimeZone> TimeZone::FromTzif(const std::string& name, const std::string& data) {
  auto bad = [&](const char* why) {
    return Status::InvalidArgument("time zone \"" + name + "\": not a TZif file (" + why + ")");
  };
  auto counts = [&](size_t at, int64_t c[6]) {
    for (int i = 0; i < 6; ++i) {
      c[i] = Be(data, at + 20 + static_cast<size_t>(i) * 4, 4);
      if (c[i] < 0 || c[i] > 100000) return false;
    }
    return true;
  };
  if (data.size() < 44 || data.compare(0, 4, "TZif") != 0) return bad("no TZif header");
  int64_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  if (!counts(0, c)) return bad("bad counts");
  int tsize = 4;
  size_t at = 44;
  auto block_size = [&](int ts) {
    return static_cast<size_t>(c[3] * ts + c[3] + c[4] * 6 + c[5] + c[2] * (ts + 4) + c[1] + c[0]);
  };
  if (data[4] >= '2') {
    // Skip the 32-bit block; read the 64-bit one.
    at += block_size(4);
    if (data.size() < at + 44 || data.compare(at, 4, "TZif") != 0) return bad("no second header");
    if (!counts(at, c)) return bad("bad counts");
    at += 44;
    tsize = 8;
  }
  if (c[4] < 1 || data.size() < at + block_size(tsize)) return bad("truncated");
  TimeZone tz;
  tz.name_ = name;
  const size_t times = at, idx = at + static_cast<size_t>(c[3] * tsize),
               types = idx + static_cast<size_t>(c[3]);
  std::vector<int32_t> type_offsets;
  for (int64_t t = 0; t < c[4]; ++t) {
    int32_t off = static_cast<int32_t>(Be(data, types + static_cast<size_t>(t) * 6, 4));
    if (off < -26 * 3600 || off > 26 * 3600) return bad("offset out of range");
    type_offsets.push_back(off);
  }
  tz.initial_ = type_offsets[0];
  for (int64_t t = 0; t < c[3]; ++t) {
    int64_t when = Be(data, times + static_cast<size_t>(t * tsize), tsize);
    auto type = static_cast<unsigned char>(data[idx + static_cast<size_t>(t)]);
    if (type >= type_offsets.size()) return bad("bad type index");
    if (!tz.transitions_.empty() && when <= tz.transitions_.back())
      return bad("transitions out of order");
    tz.transitions_.push_back(when);
    tz.offsets_.push_back(type_offsets[type]);
  }
  if (tsize == 8) {
    size_t footer = at + block_size(8);
    if (footer < data.size() && data[footer] == '\n') {
      size_t end = data.find('\n', footer + 1);
      if (end != std::string::npos)
        tz.has_rule_ = tz.ParseRule(data.substr(footer + 1, end - footer - 1));
    }
  }
  return tz;
}

bool TimeZone::ParseRule(const std::string& rule) {
  if (rule.empty()) return false;
  RuleReader r(rule);
  int32_t std_west = 0;
  if (!r.Name() || !r.Time(&std_west)) return false;
  std_offset_ = -std_west;
  if (r.done()) return true;
  if (!r.Name()) return false;
  dst_offset_ = std_offset_ + 3600;
  if (!r.done() && !r.Peek(',')) {
    int32_t dst_west = 0;
    if (!r.Time(&dst_west)) return false;
    dst_offset_ = -dst_west;
  }
  if (!r.Take(',') || !r.Date(&dst_start_) || !r.Take(',') || !r.Date(&dst_end_) || !r.done())
    return false;
  has_dst_ = true;
  return true;
}

int32_t TimeZone::RuleOffsetAt(int64_t unix_s) const {
  if (!has_dst_) return std_offset_;
  int64_t y = YearOf(unix_s + std_offset_);
  int64_t start =
      RuleLocalTime(dst_start_, y) - std_offset_;          // the switch happens in standard time
  int64_t end = RuleLocalTime(dst_end_, y) - dst_offset_;  // and back in daylight time
  bool dst = start < end ? (unix_s >= start && unix_s < end) : !(unix_s >= end && unix_s < start);
  return dst ? dst_offset_ : std_offset_;
}

int32_t TimeZone::OffsetAt(int64_t unix_s) const {
  if (transitions_.empty()) return has_rule_ ? RuleOffsetAt(unix_s) : initial_;
  if (unix_s < transitions_.front()) return initial_;
  if (unix_s >= transitions_.back() && has_rule_) return RuleOffsetAt(unix_s);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), unix_s);
  return offsets_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

}  // namespace orch
