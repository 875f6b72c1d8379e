#include "common/cron.h"

#include <array>
#include <cctype>
#include <string>
#include <vector>

namespace orch {
namespace {

struct Field {
  const char* name;
  int min, max;
  const char* const* names;  // index 0 = min, or null
};

constexpr const char* kMonths[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",  "JUL",
                                   "AUG", "SEP", "OCT", "NOV", "DEC", nullptr};
constexpr const char* kDays[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", nullptr};

std::vector<std::string> SplitOn(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    out.emplace_back(
        s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

Result<int> Value(const Field& f, const std::string& text) {
  if (text.empty()) return Status::InvalidArgument(std::string(f.name) + ": a value is missing");
  if (f.names != nullptr && std::isalpha(static_cast<unsigned char>(text[0]))) {
    std::string up;
    for (char c : text)
      up.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    for (int i = 0; f.names[i] != nullptr; ++i) {
      if (up == f.names[i]) return f.min + i;
    }
    return Status::InvalidArgument(std::string(f.name) + ": unknown name \"" + text.substr(0, 20) +
                                   "\"");
  }
  int v = 0;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c)) || v > 1000) {
      return Status::InvalidArgument(std::string(f.name) + ": \"" + text.substr(0, 20) +
                                     "\" is not a number");
    }
    v = v * 10 + (c - '0');
  }
  if (v < f.min || v > f.max) {
    return Status::InvalidArgument(std::string(f.name) + ": " + std::to_string(v) + " is outside " +
                                   std::to_string(f.min) + "-" + std::to_string(f.max));
  }
  return v;
}

// Sets the bits one field names; *star when it is "*" (or "?").
template <size_t N>
Status ParseField(const Field& f, const std::string& text, std::bitset<N>* bits, bool* star) {
  *star = text == "*" || text == "?";
  for (const std::string& item : SplitOn(text, ',')) {
    auto slash = SplitOn(item, '/');
    if (slash.size() > 2)
      return Status::InvalidArgument(std::string(f.name) + ": \"" + item + "\" has two steps");
    int step = 1;
    if (slash.size() == 2) {
      Field steps{f.name, 1, f.max - f.min + 1, nullptr};
      auto s = Value(steps, slash[1]);
      if (!s.ok())
        return Status::InvalidArgument(std::string(f.name) + ": bad step \"" + slash[1] + "\"");
      step = *s;
    }
    int lo = 0, hi = 0;
    const std::string& range = slash[0];
    if (range == "*" || range == "?") {
      lo = f.min;
      hi = f.max;
    } else {
      auto dash = SplitOn(range, '-');
      if (dash.size() > 2)
        return Status::InvalidArgument(std::string(f.name) + ": bad range \"" + range + "\"");
      ORCH_ASSIGN_OR_RETURN(lo, Value(f, dash[0]));
      if (dash.size() == 2) {
        ORCH_ASSIGN_OR_RETURN(hi, Value(f, dash[1]));
        if (hi < lo)
          return Status::InvalidArgument(std::string(f.name) + ": range \"" + range +
                                         "\" runs backwards");
      } else {
        hi = slash.size() == 2 ? f.max : lo;  // "5/15": from 5 on
      }
    }
    for (int v = lo; v <= hi; v += step) bits->set(static_cast<size_t>(v));
  }
  return Status::Ok();
}

}  // namespace

Result<CronSchedule> CronSchedule::Parse(std::string_view expr) {
  std::string text(expr.substr(0, 256));
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  size_t lead = 0;
  while (lead < text.size() && std::isspace(static_cast<unsigned char>(text[lead]))) ++lead;
  text = text.substr(lead);
  if (expr.size() > 256) return Status::InvalidArgument("cron: longer than 256 characters");
  static const std::array<std::pair<const char*, const char*>, 7> kMacros = {
      {{"@yearly", "0 0 1 1 *"},
       {"@annually", "0 0 1 1 *"},
       {"@monthly", "0 0 1 * *"},
       {"@weekly", "0 0 * * 0"},
       {"@daily", "0 0 * * *"},
       {"@midnight", "0 0 * * *"},
       {"@hourly", "0 * * * *"}}};
  if (!text.empty() && text[0] == '@') {
    for (const auto& [name, fields] : kMacros) {
      if (text == name) return Parse(fields);
    }
    return Status::InvalidArgument("cron: unknown macro \"" + text.substr(0, 20) +
                                   "\" (@yearly, @monthly, @weekly, @daily, @hourly)");
  }
  std::vector<std::string> parts;
  std::string cur;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!cur.empty()) parts.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) parts.push_back(std::move(cur));
  if (parts.size() != 5) {
    return Status::InvalidArgument(
        "cron: \"" + text.substr(0, 80) + "\" has " + std::to_string(parts.size()) +
        " fields; expected 5 (minute hour day-of-month month day-of-week)");
  }
  CronSchedule c;
  bool star = false;
  ORCH_RETURN_IF_ERROR(
      ParseField(Field{"cron minute", 0, 59, nullptr}, parts[0], &c.minutes_, &star));
  ORCH_RETURN_IF_ERROR(ParseField(Field{"cron hour", 0, 23, nullptr}, parts[1], &c.hours_, &star));
  ORCH_RETURN_IF_ERROR(
      ParseField(Field{"cron day-of-month", 1, 31, nullptr}, parts[2], &c.days_, &c.days_star_));
  ORCH_RETURN_IF_ERROR(
      ParseField(Field{"cron month", 1, 12, kMonths}, parts[3], &c.months_, &star));
  std::bitset<8> weekdays;
  ORCH_RETURN_IF_ERROR(
      ParseField(Field{"cron day-of-week", 0, 7, kDays}, parts[4], &weekdays, &c.weekdays_star_));
  for (size_t d = 0; d < 7; ++d) c.weekdays_[d] = weekdays[d];
  if (weekdays[7]) c.weekdays_[0] = true;  // 7 is Sunday too
  return c;
}

bool CronSchedule::DayMatches(int day, int month, int weekday) const {
  if (!months_[static_cast<size_t>(month)]) return false;
  bool d = days_[static_cast<size_t>(day)], w = weekdays_[static_cast<size_t>(weekday)];
  if (days_star_ || weekdays_star_) return d && w;
  return d || w;
}

bool CronSchedule::Matches(int minute, int hour, int day, int month, int weekday) const {
  return minutes_[static_cast<size_t>(minute)] && hours_[static_cast<size_t>(hour)] &&
         DayMatches(day, month, weekday);
}

std::optional<int64_t> CronSchedule::Next(int64_t after_unix_s, const TimeZone& tz) const {
  // Walk UTC time forward: a whole local day or hour at a time while it
  // cannot match, then minute by minute. Local boundaries are found with
  // the offset in effect, so a daylight-saving jump is never stepped over.
  int64_t t = after_unix_s - (((after_unix_s % 60) + 60) % 60) + 60;
  const int64_t limit = after_unix_s + int64_t{5} * 366 * 86400;
  while (t <= limit) {
    int64_t local = t + tz.OffsetAt(t);
    int64_t days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
    int64_t sod = local - days * 86400;
    // Civil date of `days` (Hinnant).
    int64_t z = days + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
    const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
    const int weekday = static_cast<int>(((days % 7) + 7 + 4) % 7);
    const int hour = static_cast<int>(sod / 3600), minute = static_cast<int>((sod % 3600) / 60);
    if (!DayMatches(day, month, weekday) || !hours_[static_cast<size_t>(hour)]) {
      t += 3600 - (sod % 3600);  // to the next local hour (a jump lands on one)
      continue;
    }
    if (!minutes_[static_cast<size_t>(minute)]) {
      t += 60;
      continue;
    }
    return t;
  }
  return std::nullopt;
}

}  // namespace orch
