// Small-cluster scenarios on a synchronous test network, after etcd's
// raft_test.go: dueling candidates, conceding, stale messages, proposals
// with unreachable nodes, committing an old leader's entries.
#include <gtest/gtest.h>

#include "tests/unit/raft/raft_feature_helpers.h"

namespace orch::raft::testing {
namespace {

TEST(Cluster, SingleNodeBecomesLeaderAtOnce) {
  Network net = NewNetwork(1);
  net.Campaign(1);
  EXPECT_EQ(net.node(1)->state(), StateType::kLeader);
  EXPECT_EQ(net.node(1)->log().committed(), 1u);  // its empty entry
}

TEST(Cluster, DuelingCandidateWithShorterLogDeposesButCannotWin) {
  Network net = NewNetwork(3);
  net.Cut(1, 3);
  net.Campaign(1);  // wins with node 2's vote; node 2 gets entry 1
  net.Campaign(3);  // node 2 refuses: node 3's log is behind
  EXPECT_EQ(net.node(1)->state(), StateType::kLeader);
  EXPECT_EQ(net.node(3)->state(), StateType::kCandidate);
  net.Recover();
  // Node 3 retries with a higher term: it deposes node 1 (no pre-vote or
  // check-quorum here) but cannot win with its shorter log.
  net.Campaign(3);
  EXPECT_EQ(net.node(1)->state(), StateType::kFollower);
  EXPECT_EQ(net.node(3)->state(), StateType::kFollower);
  EXPECT_EQ(net.node(1)->term(), 2u);
  EXPECT_EQ(LogTerms(*net.node(1)), (std::vector<uint64_t>{1}));
  EXPECT_EQ(LogTerms(*net.node(2)), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(LogTerms(*net.node(3)).empty());
}

TEST(Cluster, DuelingPreCandidatesCannotDepose) {
  Network net = NewNetwork(3, /*pre_vote=*/true);
  net.Cut(1, 3);
  net.Campaign(1);
  net.Campaign(3);
  net.Recover();
  net.Campaign(3);
  EXPECT_EQ(net.node(1)->state(), StateType::kLeader);
  EXPECT_EQ(net.node(1)->term(), 1u);
  EXPECT_EQ(net.node(3)->term(), 1u);
}

TEST(Cluster, CandidateConcedesToElectedLeader) {
  Network net = NewNetwork(3);
  net.Isolate(1);
  net.Campaign(1);
  net.Campaign(3);
  EXPECT_EQ(net.node(1)->state(), StateType::kCandidate);
  EXPECT_EQ(net.node(3)->state(), StateType::kLeader);
  net.Recover();
  net.Send(Msg(3, 3, Message::MSG_BEAT));
  net.Propose(3, "force follower");
  net.Send(Msg(3, 3, Message::MSG_BEAT));
  EXPECT_EQ(net.node(1)->state(), StateType::kFollower);
  EXPECT_EQ(net.node(1)->term(), net.node(3)->term());
  EXPECT_EQ(LogTerms(*net.node(1)), LogTerms(*net.node(3)));
  EXPECT_EQ(net.node(1)->log().committed(), net.node(3)->log().committed());
}

TEST(Cluster, AppendsFromAnOldTermAreIgnored) {
  Network net = NewNetwork(3);
  net.Campaign(1);  // term 1
  net.Campaign(2);  // term 2
  net.Campaign(1);  // term 3
  ASSERT_EQ(net.node(1)->state(), StateType::kLeader);
  Message stale = Msg(2, 1, Message::MSG_APP, 2);
  stale.set_index(2);
  stale.set_log_term(2);
  *stale.add_entries() = MakeEntry(3, 2, "stale");
  net.Send(stale);
  net.Propose(1, "fresh");
  const std::vector<uint64_t> want = {1, 2, 3, 3};
  for (uint64_t id = 1; id <= 3; ++id) {
    EXPECT_EQ(LogTerms(*net.node(id)), want) << "node " << id;
  }
  EXPECT_EQ(net.node(1)->log().AllEntries().back().data(), "fresh");
}

TEST(Cluster, ProposalCommitsOnlyWithReachableMajority) {
  struct Case {
    size_t size;
    std::set<uint64_t> down;
    bool commits;
  };
  const std::vector<Case> cases = {
      {3, {}, true},      {3, {3}, true},    {3, {2, 3}, false},
      {4, {3, 4}, false}, {5, {4, 5}, true}, {5, {3, 4, 5}, false},
  };
  for (const auto& c : cases) {
    std::vector<TestRaft> nodes;
    for (uint64_t id = 1; id <= c.size; ++id) {
      if (c.down.count(id)) {
        nodes.push_back(Network::BlackHole());
      } else {
        nodes.push_back(NewTestRaft(id, Ids(c.size), 10, 1));
      }
    }
    Network net(std::move(nodes));
    net.Campaign(1);
    const bool leader = net.node(1)->state() == StateType::kLeader;
    EXPECT_EQ(leader, c.commits) << "size " << c.size << " down " << c.down.size();
    if (!leader) continue;
    net.Propose(1, "somedata");
    EXPECT_EQ(net.node(1)->log().committed(), 2u);
  }
}

TEST(Cluster, NewLeaderCommitsOldLeadersEntriesThroughItsOwn) {
  Network net = NewNetwork(5);
  net.Campaign(1);
  // Only node 2 hears about these two entries: they stay uncommitted.
  net.Cut(1, 3);
  net.Cut(1, 4);
  net.Cut(1, 5);
  net.Propose(1, "a");
  net.Propose(1, "b");
  EXPECT_EQ(net.node(1)->log().committed(), 1u);
  net.Recover();
  net.Isolate(1);
  // Node 2 has the longest log and wins; its empty entry of term 2
  // commits the term-1 entries along with it.
  net.Campaign(2);
  ASSERT_EQ(net.node(2)->state(), StateType::kLeader);
  EXPECT_EQ(net.node(2)->log().committed(), 4u);
  EXPECT_EQ(LogTerms(*net.node(3)), (std::vector<uint64_t>{1, 1, 1, 2}));
}

// The Raft paper's Figure 8: an entry from an older term stored on a
// majority can still be overwritten, so a leader must not count replicas
// of it. Here S1 (term 3) sees index 2 (term 1) on S1, S2, S3 and must not
// commit it; S5 then wins term 4 and legitimately replaces it.
TEST(Cluster, Figure8OldTermEntryOnMajorityIsNotCommitted) {
  Network net = NewNetwork(5);
  net.Campaign(1);  // term 1, index 1 everywhere
  net.Cut(1, 3);
  net.Cut(1, 4);
  net.Cut(1, 5);
  net.Propose(1, "x");  // index 2, term 1: S1 and S2 only
  net.Recover();
  // (b) S5 wins term 2 with S3 and S4; its entry reaches nobody.
  net.Isolate(1);
  net.Isolate(2);
  net.Ignore(Message::MSG_APP);
  net.Campaign(5);
  ASSERT_EQ(net.node(5)->state(), StateType::kLeader);
  ASSERT_EQ(net.node(5)->term(), 2u);
  // (c) S1 wins term 3 with S2, S3, S4 (S5 is down); nothing replicates
  // through the network, we hand-deliver S3's ack of index 2 only.
  net.Recover();
  net.Isolate(5);
  net.Ignore(Message::MSG_APP);
  net.node(1)->BecomeFollower(2, kNone);  // S1 restarted and heard of term 2
  net.Campaign(1);
  Raft* s1 = net.node(1);
  ASSERT_EQ(s1->state(), StateType::kLeader);
  ASSERT_EQ(s1->term(), 3u);
  for (uint64_t from : {2u, 3u}) {
    Message ack = Msg(from, 1, Message::MSG_APP_RESP, 3);
    ack.set_index(2);
    s1->Step(ack);
  }
  s1->TakeMessages();
  EXPECT_EQ(s1->log().committed(), 1u);  // index 2 is on 3 of 5, yet not safe
  // (d) S1 goes down; S5 wins term 4 with S3 and S4 (S5's last term 2 beats
  // their term 1) and overwrites index 2: it was right not to commit it.
  net.Recover();
  net.Isolate(1);
  net.Isolate(2);
  Message app = Msg(1, 3, Message::MSG_APP, 3);  // S3 did get index 2
  app.set_index(1);
  app.set_log_term(1);
  *app.add_entries() = MakeEntry(2, 1, "x");
  net.node(3)->Step(app);
  net.node(3)->TakeMessages();
  net.node(5)->BecomeFollower(3, kNone);  // S5 restarted and heard of term 3
  net.Campaign(5);
  ASSERT_EQ(net.node(5)->state(), StateType::kLeader);
  net.Send(Msg(5, 5, Message::MSG_BEAT));
  EXPECT_EQ(net.node(3)->log().Term(2).value, 2u);
  EXPECT_GE(net.node(3)->log().committed(), 2u);
}

}  // namespace
}  // namespace orch::raft::testing
