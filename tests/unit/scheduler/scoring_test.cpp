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

TEST(ScoringTest, BalanceIsTetrisAlignment) {
  // Request (0.25, 0.25) on an empty node, free (1, 1): cos = 1.
  EXPECT_NEAR(BalanceScore(4000, 8192, 0, 0, 1000, 2048), 1.0, 1e-9);
  // cpu-only request (0.5, 0) on free (1, 1): 0.5 / (0.5 * sqrt 2) = 0.707107.
  EXPECT_NEAR(BalanceScore(1000, 1000, 0, 0, 500, 0), 0.707107, 1e-6);
  // Memory-only request (0, 0.5) on free (0.6, 0.8): 0.4 / (0.5 * 1) = 0.8.
  EXPECT_NEAR(BalanceScore(1000, 1000, 400, 200, 0, 500), 0.8, 1e-9);
  // cpu-only request where only memory is left: 0.
  EXPECT_NEAR(BalanceScore(1000, 1000, 1000, 0, 100, 0), 0.0, 1e-9);
  // A memory-heavy request (500m, 8 GiB on 16000m / 32 GiB: (0.03125,
  // 0.25)) prefers the node that cpu-heavy work left memory on (free (0.25,
  // 0.875)) over a node that memory-heavy work left cpu on (free (0.875,
  // 0.25)): 0.226563 / (0.251946 * 0.910014) = 0.988174 vs
  // 0.089844 / (0.251946 * 0.910014) = 0.391862.
  EXPECT_NEAR(BalanceScore(16000, 32768, 12000, 4096, 500, 8192), 0.988174, 1e-6);
  EXPECT_NEAR(BalanceScore(16000, 32768, 2000, 24576, 500, 8192), 0.391862, 1e-6);
  // Independent of fullness: the same shapes, half as much free, same score.
  EXPECT_NEAR(BalanceScore(1000, 1000, 700, 600, 0, 100), BalanceScore(1000, 1000, 400, 200, 0, 100), 1e-9);
  // No request or nothing free: 0, never outside [0, 1].
  EXPECT_NEAR(BalanceScore(1000, 1000, 0, 0, 0, 0), 0.0, 1e-9);
  EXPECT_NEAR(BalanceScore(1000, 1000, 1000, 1000, 10, 10), 0.0, 1e-9);
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
  EXPECT_DOUBLE_EQ(c.w_balance, 1.0);        // untouched
  ASSERT_TRUE(ApplyWeights("balance=0.25", &c).ok());
  EXPECT_DOUBLE_EQ(c.w_balance, 0.25);
  EXPECT_DOUBLE_EQ(c.w_spread, 3);
  EXPECT_DOUBLE_EQ(c.target_load, 60);
  EXPECT_NE(ApplyWeights("packing=1", &c).message().find("unknown term"), std::string::npos);
  EXPECT_NE(ApplyWeights("load=-1", &c).message().find("non-negative"), std::string::npos);
  EXPECT_FALSE(ApplyWeights("load", &c).ok());
  EXPECT_FALSE(ApplyWeights("target_load=100", &c).ok());
}

}  // namespace
}  // namespace orch::master::sched
