// Each strategy's selection sequence, and what survives endpoint-set updates.
#include <gtest/gtest.h>

#include <map>

#include "agent/lb/strategy.h"

namespace orch::agent::lb {
namespace {

std::vector<Endpoint> Eps(std::vector<std::pair<std::string, int>> ws) {
  std::vector<Endpoint> out;
  uint16_t port = 1000;
  for (auto& [id, w] : ws) out.push_back(Endpoint{id, "127.0.0.1", port++, w});
  return out;
}

// Picks n times; each pick opens a connection, closed at once if `release`.
std::string Seq(Strategy& s, int n, bool release = true) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    auto e = s.Pick();
    if (!e) return out + "-";
    out += e->id;
    s.OnConnect(e->id);
    if (release) s.OnDisconnect(e->id);
  }
  return out;
}

TEST(RoundRobinTest, VisitsEndpointsInOrder) {
  auto s = MakeStrategy(StrategyKind::kRoundRobin);
  s->SetEndpoints(Eps({{"a", 1}, {"b", 1}, {"c", 1}}));
  EXPECT_EQ(Seq(*s, 7), "abcabca");
}

TEST(RoundRobinTest, SkipsTriedEndpointsAndSaysWhenNoneIsLeft) {
  auto s = MakeStrategy(StrategyKind::kRoundRobin);
  s->SetEndpoints(Eps({{"a", 1}, {"b", 1}, {"c", 1}}));
  EXPECT_EQ(s->Pick({"a"})->id, "b");
  EXPECT_EQ(s->Pick({"c"})->id, "a");  // after b comes c, skipped
  EXPECT_FALSE(s->Pick({"a", "b", "c"}).has_value());
  auto empty = MakeStrategy(StrategyKind::kRoundRobin);
  EXPECT_FALSE(empty->Pick().has_value());
}

TEST(RoundRobinTest, UpdateResumesAfterTheLastPick) {
  auto s = MakeStrategy(StrategyKind::kRoundRobin);
  s->SetEndpoints(Eps({{"a", 1}, {"b", 1}, {"c", 1}}));
  EXPECT_EQ(Seq(*s, 2), "ab");
  // The same set again changes nothing.
  s->SetEndpoints(Eps({{"a", 1}, {"b", 1}, {"c", 1}}));
  EXPECT_EQ(Seq(*s, 1), "c");
  // "d" joins at the front; the rotation continues after "c".
  s->SetEndpoints(Eps({{"d", 1}, {"a", 1}, {"b", 1}, {"c", 1}}));
  EXPECT_EQ(Seq(*s, 4), "dabc");
  // "a" leaves: never picked again.
  s->SetEndpoints(Eps({{"d", 1}, {"b", 1}, {"c", 1}}));
  EXPECT_EQ(Seq(*s, 6), "dbcdbc");
}

TEST(WeightedTest, SmoothSequenceForWeights511MatchesNginx) {
  auto s = MakeStrategy(StrategyKind::kWeighted);
  s->SetEndpoints(Eps({{"a", 5}, {"b", 1}, {"c", 1}}));
  EXPECT_EQ(Seq(*s, 14), "aabacaaaabacaa");
}

TEST(WeightedTest, SharesFollowWeights) {
  auto s = MakeStrategy(StrategyKind::kWeighted);
  s->SetEndpoints(Eps({{"a", 1}, {"b", 2}, {"c", 3}}));
  std::map<char, int> n;
  for (char c : Seq(*s, 600)) n[c]++;
  EXPECT_EQ(n['a'], 100);
  EXPECT_EQ(n['b'], 200);
  EXPECT_EQ(n['c'], 300);
}

TEST(WeightedTest, UpdateKeepsCurrentWeightsByEndpointId) {
  auto a = MakeStrategy(StrategyKind::kWeighted);
  auto b = MakeStrategy(StrategyKind::kWeighted);
  a->SetEndpoints(Eps({{"a", 5}, {"b", 1}, {"c", 1}}));
  b->SetEndpoints(Eps({{"a", 5}, {"b", 1}, {"c", 1}}));
  EXPECT_EQ(Seq(*a, 3), "aab");
  EXPECT_EQ(Seq(*b, 3), "aab");
  // Same endpoints, another order: the interleaving carries on unchanged.
  b->SetEndpoints(Eps({{"c", 1}, {"b", 1}, {"a", 5}}));
  EXPECT_EQ(Seq(*a, 4), "acaa");
  EXPECT_EQ(Seq(*b, 4), "acaa");
}

TEST(WeightedTest, ZeroWeightCountsAsOne) {
  auto s = MakeStrategy(StrategyKind::kWeighted);
  s->SetEndpoints(Eps({{"a", 0}, {"b", 1}}));
  EXPECT_EQ(Seq(*s, 4), "abab");
}

TEST(LeastConnectionsTest, TiesGoRoundRobin) {
  auto s = MakeStrategy(StrategyKind::kLeastConnections);
  s->SetEndpoints(Eps({{"a", 1}, {"b", 1}, {"c", 1}}));
  // Every connection closes before the next: always a tie.
  EXPECT_EQ(Seq(*s, 6), "abcabc");
}

TEST(LeastConnectionsTest, UnevenConnectionLengths) {
  auto s = MakeStrategy(StrategyKind::kLeastConnections);
  s->SetEndpoints(Eps({{"a", 1}, {"b", 1}, {"c", 1}}));
  // Three long connections, one each.
  EXPECT_EQ(Seq(*s, 3, /*release=*/false), "abc");
  // Two more long ones land on a and b (ties, round robin).
  EXPECT_EQ(Seq(*s, 2, false), "ab");
  EXPECT_EQ(s->Active("a"), 2);
  EXPECT_EQ(s->Active("b"), 2);
  EXPECT_EQ(s->Active("c"), 1);
  // Short connections all go to c, the least loaded, until it catches up.
  EXPECT_EQ(Seq(*s, 3, true), "ccc");
  // a's long connections end: a is now the least loaded.
  s->OnDisconnect("a");
  s->OnDisconnect("a");
  // a=0 b=2 c=1: a; then a=1 ties with c=1, broken round robin after a's
  // last pick: c.
  EXPECT_EQ(Seq(*s, 2, false), "ac");
  // a=1 b=2 c=2: a; then all at 2, round robin after a: b.
  EXPECT_EQ(Seq(*s, 2, false), "ab");
  EXPECT_EQ(s->Active("a"), 2);
  EXPECT_EQ(s->Active("b"), 3);
  EXPECT_EQ(s->Active("c"), 2);
}

TEST(LeastConnectionsTest, CountsSurviveUpdates) {
  auto s = MakeStrategy(StrategyKind::kLeastConnections);
  s->SetEndpoints(Eps({{"a", 1}, {"b", 1}}));
  EXPECT_EQ(Seq(*s, 3, false), "aba");  // a=2 b=1
  s->SetEndpoints(Eps({{"b", 1}, {"a", 1}, {"c", 1}}));
  EXPECT_EQ(s->Active("a"), 2);
  EXPECT_EQ(Seq(*s, 1, false), "c");  // c=1
  EXPECT_EQ(Seq(*s, 1, false), "b");  // b and c at 1: round robin wraps to b
  // An endpoint removed while connections are open keeps its count.
  s->SetEndpoints(Eps({{"b", 1}, {"c", 1}}));
  EXPECT_EQ(s->Active("a"), 2);
  s->OnDisconnect("a");
  s->SetEndpoints(Eps({{"a", 1}, {"b", 1}, {"c", 1}}));
  EXPECT_EQ(s->Active("a"), 1);
  s->OnDisconnect("a");
  EXPECT_EQ(s->Active("a"), 0);
}

TEST(RandomTest, FixedSeedIsReproducibleAndRoughlyUniform) {
  auto s1 = MakeStrategy(StrategyKind::kRandom, 42);
  auto s2 = MakeStrategy(StrategyKind::kRandom, 42);
  s1->SetEndpoints(Eps({{"a", 1}, {"b", 1}, {"c", 1}}));
  s2->SetEndpoints(Eps({{"a", 1}, {"b", 1}, {"c", 1}}));
  std::string q1 = Seq(*s1, 30000), q2 = Seq(*s2, 30000);
  EXPECT_EQ(q1, q2);
  std::map<char, int> n;
  for (char c : q1) n[c]++;
  // Binomial(30000, 1/3): sd ~ 82; 5 sd either side.
  for (char c : {'a', 'b', 'c'}) {
    EXPECT_GT(n[c], 10000 - 410) << c;
    EXPECT_LT(n[c], 10000 + 410) << c;
  }
  // Not a rotation in disguise.
  EXPECT_NE(q1.substr(0, 30), "abcabcabcabcabcabcabcabcabcabc");
}

TEST(RandomTest, NeverPicksASkippedEndpoint) {
  auto s = MakeStrategy(StrategyKind::kRandom, 7);
  s->SetEndpoints(Eps({{"a", 1}, {"b", 1}, {"c", 1}}));
  for (int i = 0; i < 1000; ++i) EXPECT_NE(s->Pick({"b"})->id, "b");
}

}  // namespace
}  // namespace orch::agent::lb
