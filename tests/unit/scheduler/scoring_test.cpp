// Each scoring term against values computed by hand (see scoring.h).
#include "master/scheduler/scoring.h"

#include <gtest/gtest.h>

#include "master/scheduler/config.h"

namespace orch::master::sched {
namespace {

TEST(ScoringTest, BinPackIsNomadBestFitV3) {
  // Half free on both: (20 - 2 * 10^0.5) / 18 = 0.759747.
  EXPECT_NEAR(BinPackScore(4000, 8192, 0, 0, 2000, 4096), 0.759747, 1e-6);
  // cpu half free, memory full: (20 - (10^0.5 + 10^0)) / 18 = 0.879873.
  EXPECT_NEAR(BinPackScore(1000, 1000, 250, 0, 250, 1000), 0.879873, 1e-6);
  // Exactly full is best, empty is worst.
  EXPECT_NEAR(BinPackScore(1000, 1000, 500, 500, 500, 500), 1.0, 1e-9);
  EXPECT_NEAR(BinPackScore(1000, 1000, 0, 0, 0, 0), 0.0, 1e-9);
  // Fuller after placement scores higher.
  EXPECT_GT(BinPackScore(4000, 4096, 3000, 3000, 500, 500), BinPackScore(4000, 4096, 0, 0, 500, 500));
}

TEST(ScoringTest, LoadFollowsTargetLoadPacking) {
  // Target 70%: U = 0 -> 0.7; U = 35 -> (30 * 35 / 70 + 70) / 100 = 0.85;
  // U = 70 -> 1; U = 85 -> 70 * 15 / 30 / 100 = 0.35; U = 90 -> 0.2333;
  // U >= 100 -> 0.
  EXPECT_NEAR(LoadScore(4000, 0, 0, 70), 0.70, 1e-9);
  EXPECT_NEAR(LoadScore(4000, 1000, 400, 70), 0.85, 1e-9);
  EXPECT_NEAR(LoadScore(4000, 2800, 0, 70), 1.00, 1e-9);
  EXPECT_NEAR(LoadScore(4000, 3000, 400, 70), 0.35, 1e-9);
  EXPECT_NEAR(LoadScore(4000, 3600, 0, 70), 0.233333, 1e-6);
  EXPECT_NEAR(LoadScore(4000, 4000, 0, 70), 0.0, 1e-9);
  EXPECT_NEAR(LoadScore(4000, 3900, 400, 70), 0.0, 1e-9);
  // Another target: 50% -> U = 25 gives (50 * 25 / 50 + 50) / 100 = 0.75.
  EXPECT_NEAR(LoadScore(1000, 250, 0, 50), 0.75, 1e-9);
}

TEST(ScoringTest, AntiAffinityPrefersFewerOfTheSameJob) {
  EXPECT_DOUBLE_EQ(AntiAffinityScore(0), 1.0);
  EXPECT_DOUBLE_EQ(AntiAffinityScore(1), 0.5);
  EXPECT_DOUBLE_EQ(AntiAffinityScore(3), 0.25);
}

TEST(ScoringTest, SpreadIsTheMissingShareOfTheTarget) {
  EXPECT_DOUBLE_EQ(SpreadScore(2, 0), 1.0);
  EXPECT_DOUBLE_EQ(SpreadScore(2, 1), 0.5);
  EXPECT_DOUBLE_EQ(SpreadScore(2, 2), 0.0);
  EXPECT_DOUBLE_EQ(SpreadScore(2, 5), 0.0);
  EXPECT_DOUBLE_EQ(SpreadScore(0, 0), 0.0);  // a value nobody wants
}

TEST(ScoringTest, WeightsAreConfigurablePerCluster) {
  SchedulerConfig c;
  ASSERT_TRUE(ApplyWeights("binpack=2,load=0,spread=3,target_load=60", &c).ok());
  EXPECT_DOUBLE_EQ(c.w_binpack, 2);
  EXPECT_DOUBLE_EQ(c.w_load, 0);
  EXPECT_DOUBLE_EQ(c.w_anti_affinity, 0.5);  // untouched
  EXPECT_DOUBLE_EQ(c.w_spread, 3);
  EXPECT_DOUBLE_EQ(c.target_load, 60);
  EXPECT_NE(ApplyWeights("packing=1", &c).message().find("unknown term"), std::string::npos);
  EXPECT_NE(ApplyWeights("load=-1", &c).message().find("non-negative"), std::string::npos);
  EXPECT_FALSE(ApplyWeights("load", &c).ok());
  EXPECT_FALSE(ApplyWeights("target_load=100", &c).ok());
}

}  // namespace
}  // namespace orch::master::sched
