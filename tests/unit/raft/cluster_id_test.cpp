// Cluster ids: what founders derive independently must agree exactly when
// they agree on the founding members.
#include "master/raft/cluster_id.h"

#include <gtest/gtest.h>

namespace orch::raft {
namespace {

using Founders = std::vector<std::pair<std::string, std::string>>;

TEST(ClusterIdTest, FoundersListedInAnyOrderAgree) {
  Founders a = {{"m1", "10.0.0.1:4647"}, {"m2", "10.0.0.2:4647"}, {"m3", "10.0.0.3:4647"}};
  Founders b = {a[2], a[0], a[1]};
  EXPECT_EQ(ClusterIdOf(a), ClusterIdOf(b));
  EXPECT_NE(ClusterIdOf(a), 0u);
}

TEST(ClusterIdTest, FoundersThatDisagreeOnAMemberOrItsAddressDoNot) {
  Founders a = {{"m1", "10.0.0.1:4647"}, {"m2", "10.0.0.2:4647"}};
  Founders spelled = {{"m1", "10.0.0.1:4647"}, {"m2", "host2:4647"}};
  Founders renamed = {{"m1", "10.0.0.1:4647"}, {"m9", "10.0.0.2:4647"}};
  Founders fewer = {{"m1", "10.0.0.1:4647"}};
  // The separators matter: ("m1", "2:x") is not ("m12", ":x").
  EXPECT_NE(ClusterIdOf({{"m1", "2:x"}}), ClusterIdOf({{"m12", ":x"}}));
  EXPECT_NE(ClusterIdOf(a), ClusterIdOf(spelled));
  EXPECT_NE(ClusterIdOf(a), ClusterIdOf(renamed));
  EXPECT_NE(ClusterIdOf(a), ClusterIdOf(fewer));
}

TEST(ClusterIdTest, FormatsAsSixteenHexDigitsAndParsesBack) {
  EXPECT_EQ(FormatClusterId(0xabcdef), "0000000000abcdef");
  EXPECT_EQ(FormatClusterId(0), "");
  uint64_t id = 7;
  EXPECT_TRUE(ParseClusterId("0000000000ABCDEF", &id));
  EXPECT_EQ(id, 0xabcdefu);
  for (const char* bad : {"", "abc", "0000000000000000", "000000000000000g", "00000000000000001"}) {
    uint64_t untouched = 7;
    EXPECT_FALSE(ParseClusterId(bad, &untouched)) << bad;
    EXPECT_EQ(untouched, 7u);
  }
}

}  // namespace
}  // namespace orch::raft
