// CronSchedule and TimeZone: parsing, the next launch time in UTC and in
// zones with daylight saving (a skipped hour never matches, a repeated one
// twice), and the zones' offsets from the tzdata table and past its end
// (the footer's POSIX rule).
#include "common/cron.h"

#include <gtest/gtest.h>

#include "common/time_zone.h"

namespace orch {
namespace {

constexpr int64_t k20260115T1200Z = 1768478400;

int64_t Next(const std::string& expr, int64_t after, const std::string& zone = "UTC") {
  auto c = CronSchedule::Parse(expr);
  EXPECT_TRUE(c.ok()) << expr << ": " << c.status().ToString();
  auto tz = TimeZone::Load(zone);
  EXPECT_TRUE(tz.ok()) << tz.status().ToString();
  if (!c.ok() || !tz.ok()) return -2;
  auto n = c->Next(after, *tz);
  return n ? *n : -1;
}

TEST(CronTest, StepsListsRangesNamesAndMacros) {
  EXPECT_EQ(Next("*/15 * * * *", k20260115T1200Z + 7 * 60), k20260115T1200Z + 15 * 60);
  EXPECT_EQ(Next("* * * * *", k20260115T1200Z), k20260115T1200Z + 60) << "strictly after";
  EXPECT_EQ(Next("* * * * *", k20260115T1200Z + 59), k20260115T1200Z + 60);
  EXPECT_EQ(Next("5,10 12 * * *", k20260115T1200Z), k20260115T1200Z + 5 * 60);
  EXPECT_EQ(Next("0 13-15/2 * * *", k20260115T1200Z), k20260115T1200Z + 3600);
  EXPECT_EQ(Next("@hourly", k20260115T1200Z), k20260115T1200Z + 3600);
  EXPECT_EQ(Next("@daily", k20260115T1200Z), k20260115T1200Z + 12 * 3600);
  // Thursday 2026-01-15: the next Sunday noon is the 18th.
  EXPECT_EQ(Next("0 12 * * sun", k20260115T1200Z), 1768737600);
  EXPECT_EQ(Next("0 12 * * 7", k20260115T1200Z), 1768737600) << "7 is Sunday too";
  EXPECT_EQ(Next("0 0 29 FEB *", k20260115T1200Z), 1835395200) << "the next leap day, 2028";
  EXPECT_EQ(Next("0 0 30 2 *", k20260115T1200Z), -1) << "never";
}

TEST(CronTest, BothDayFieldsRestrictedMatchEither) {
  // The 13th or a Friday: from Thursday 2026-01-01, Friday the 2nd.
  EXPECT_EQ(Next("0 0 13 * 5", 1767225600), 1767312000);
  // Day-of-month alone (day-of-week *): only the 13th.
  EXPECT_EQ(Next("0 0 13 * *", 1767225600), 1767225600 + 12 * 86400);
}

TEST(CronTest, ParseErrorsNameTheField) {
  for (const char* bad :
       {"61 * * * *", "* * *", "* * * * * *", "a * * * *", "@every", "5-1 * * * *", "*/0 * * * *",
        "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8", "1,,2 * * * *", "", "* * * FOO *"}) {
    auto c = CronSchedule::Parse(bad);
    EXPECT_FALSE(c.ok()) << bad;
    if (!c.ok()) {
      EXPECT_NE(c.status().message().find("cron"), std::string::npos) << c.status().message();
    }
  }
  auto c = CronSchedule::Parse("* 24 * * *");
  EXPECT_NE(c.status().message().find("hour"), std::string::npos) << c.status().message();
}

TEST(CronTest, DaylightSavingSkipsAndRepeats) {
  // Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist
  // that day, so the next 02:30 is on the 30th (00:30 UTC).
  EXPECT_EQ(Next("30 2 * * *", 1774661400, "Europe/Berlin"), 1774830600);
  // 03:30 CET on the 28th is 02:30 UTC; 03:30 CEST on the 29th, 01:30 UTC.
  EXPECT_EQ(Next("30 3 * * *", 1774661400, "Europe/Berlin"), 1774661400 + 3600);
  EXPECT_EQ(Next("30 3 * * *", 1774661400 + 3600, "Europe/Berlin"), 1774661400 + 86400);
  // New York, 2026-11-01: 01:30 happens twice (EDT, then EST).
  EXPECT_EQ(Next("30 1 * * *", 1793511000 - 60, "America/New_York"), 1793511000);
  EXPECT_EQ(Next("30 1 * * *", 1793511000, "America/New_York"), 1793514600);
  // Half-hour zone: 09:00 in Kolkata is 03:30 UTC.
  EXPECT_EQ(Next("0 9 * * *", k20260115T1200Z, "Asia/Kolkata"),
            k20260115T1200Z + 15 * 3600 + 30 * 60);
}

TEST(TimeZoneTest, OffsetsFromTheTableAndPastIt) {
  struct Case {
    const char* zone;
    int64_t at;
    int32_t offset;
  };
  const int64_t jan26 = 1768478400, jul26 = 1784116800, jan45 = 2368094400, jul45 = 2383732800;
  for (const Case& c :
       {Case{"Europe/Berlin", jan26, 3600}, Case{"Europe/Berlin", jul26, 7200},
        Case{"Europe/Berlin", jan45, 3600}, Case{"Europe/Berlin", jul45, 7200},
        Case{"America/New_York", jan26, -5 * 3600}, Case{"America/New_York", jul26, -4 * 3600},
        Case{"America/New_York", jan45, -5 * 3600}, Case{"America/New_York", jul45, -4 * 3600},
        Case{"Australia/Sydney", jan45, 11 * 3600}, Case{"Australia/Sydney", jul45, 10 * 3600},
        Case{"Asia/Kolkata", jul45, 5 * 3600 + 1800}, Case{"UTC", jul45, 0}, Case{"", jan26, 0}}) {
    auto tz = TimeZone::Load(c.zone);
    ASSERT_TRUE(tz.ok()) << c.zone << ": " << tz.status().ToString();
    EXPECT_EQ(tz->OffsetAt(c.at), c.offset) << c.zone << " at " << c.at;
  }
  // The switch itself: 2026-03-29 01:00:00 UTC in Berlin.
  auto berlin = TimeZone::Load("Europe/Berlin");
  ASSERT_TRUE(berlin.ok());
  EXPECT_EQ(berlin->OffsetAt(1774745999), 3600);
  EXPECT_EQ(berlin->OffsetAt(1774746000), 7200);
}

TEST(TimeZoneTest, BadNamesAndFilesAreRefused) {
  for (const char* bad :
       {"../etc/passwd", "/etc/localtime", "Europe/../../x", "No/Such_Zone", "a b"}) {
    EXPECT_FALSE(TimeZone::Load(bad).ok()) << bad;
  }
  EXPECT_FALSE(TimeZone::FromTzif("x", "").ok());
  EXPECT_FALSE(TimeZone::FromTzif("x", std::string("TZif2") + std::string(100, '\xff')).ok());
  EXPECT_FALSE(TimeZone::FromTzif("x", std::string(44, 'x')).ok());
}

}  // namespace
}  // namespace orch
