#include "api/orchctl/table.h"

#include <gtest/gtest.h>

#include <sstream>

namespace orch::ctl {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(TableTest, ColumnsStartAtTheSameOffsetOnEveryLine) {
  Table t({"ID", "STATUS", "AGE"});
  t.AddRow({"a-very-long-id", "running", "5s"});
  t.AddRow({"x", "pending", "12m"});
  auto lines = Lines(t.Render());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "ID               STATUS    AGE");
  EXPECT_EQ(lines[1], "a-very-long-id   running   5s");
  EXPECT_EQ(lines[2], "x                pending   12m");
}

TEST(TableTest, NoTrailingBlanksAndMissingCellsAreEmpty) {
  Table t({"A", "B", "C"});
  t.AddRow({"1"});
  t.AddRow({"22", "333", ""});
  for (const auto& line : Lines(t.Render())) {
    ASSERT_FALSE(line.empty());
    EXPECT_NE(line.back(), ' ') << "'" << line << "'";
  }
  EXPECT_EQ(Lines(t.Render())[1], "1");
}

TEST(PrettyEnumTest, LowerCasesAndHidesUnspecified) {
  EXPECT_EQ(PrettyEnum("RUNNING"), "running");
  EXPECT_EQ(PrettyEnum("ROUND_ROBIN"), "round_robin");
  EXPECT_EQ(PrettyEnum("CLIENT_STATUS_UNSPECIFIED"), "-");
  EXPECT_EQ(PrettyEnum(""), "-");
}

TEST(ShortIdTest, KeepsEightCharacters) {
  EXPECT_EQ(ShortId("1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"), "1a2b3c4d");
  EXPECT_EQ(ShortId("abc"), "abc");
  EXPECT_EQ(ShortId(""), "-");
}

TEST(FormatAgeTest, PicksTheLargestSensibleUnit) {
  const int64_t now = 1'000'000'000'000;
  EXPECT_EQ(FormatAge(now, now - 45'000), "45s");
  EXPECT_EQ(FormatAge(now, now - 119'000), "119s");
  EXPECT_EQ(FormatAge(now, now - 12 * 60'000), "12m");
  EXPECT_EQ(FormatAge(now, now - 3 * 3'600'000), "3h");
  EXPECT_EQ(FormatAge(now, now - 5 * 86'400'000LL), "5d");
  EXPECT_EQ(FormatAge(now, now + 5'000), "0s");  // clocks disagree a little
  EXPECT_EQ(FormatAge(now, 0), "-");
}

TEST(OneLineTest, FoldsLineBreaks) {
  EXPECT_EQ(OneLine("a\nb\r\n\tc  \n"), "a b c");
  EXPECT_EQ(OneLine("job \"web\": not found"), "job \"web\": not found");
}

}  // namespace
}  // namespace orch::ctl
