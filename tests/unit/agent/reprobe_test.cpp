// Reprobe: an absent Docker engine is looked for again every interval, and
// once found no more.
#include "agent/reprobe.h"

#include <gtest/gtest.h>

#include "fake_clock.h"

namespace orch::agent {
namespace {

using testing::FakeClock;
using std::chrono::milliseconds;

TEST(ReprobeTest, RetriesEveryIntervalUntilFoundThenStops) {
  FakeClock clock;
  bool up = false;
  int calls = 0;
  Reprobe probe(milliseconds(30'000), &clock, [&] {
    ++calls;
    return up;
  });
  EXPECT_FALSE(probe.Poll());  // not due yet: the caller has just tried
  EXPECT_EQ(calls, 0);
  clock.Advance(milliseconds(29'999));
  EXPECT_FALSE(probe.Poll());
  EXPECT_EQ(calls, 0);
  clock.Advance(milliseconds(1));
  EXPECT_FALSE(probe.Poll());  // due, still absent
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(probe.Poll());  // not again within the interval
  EXPECT_EQ(calls, 1);
  up = true;
  clock.Advance(milliseconds(30'000));
  EXPECT_TRUE(probe.Poll());
  EXPECT_EQ(calls, 2);
  EXPECT_TRUE(probe.done());
  clock.Advance(milliseconds(60'000));
  EXPECT_FALSE(probe.Poll());  // found: never again
  EXPECT_EQ(calls, 2);
}

TEST(ReprobeTest, ZeroIntervalNeverRetries) {
  FakeClock clock;
  int calls = 0;
  Reprobe probe(milliseconds(0), &clock, [&] { return ++calls > 0; });
  clock.Advance(milliseconds(100'000));
  EXPECT_FALSE(probe.Poll());
  EXPECT_EQ(calls, 0);
}

}  // namespace
}  // namespace orch::agent
