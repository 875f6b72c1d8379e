// Election protections: pre-vote and check-quorum (leader lease).
#include <gtest/gtest.h>

#include "tests/unit/raft/raft_feature_helpers.h"

namespace orch::raft::testing {
namespace {

// --- pre-vote --------------------------------------------------------------

TEST(PreVote, PartitionedNodeDoesNotBumpTermOrDisruptOnRejoin) {
  Network net = ElectedNetwork(3, /*pre_vote=*/true, /*check_quorum=*/false);
  ASSERT_EQ(net.node(1)->state(), StateType::kLeader);
  const uint64_t term = net.node(1)->term();
  net.Isolate(3);
  net.Propose(1, "while-away");  // node 3's log falls behind
  for (int i = 0; i < 100; ++i) net.node(3)->Tick();
  net.Send(net.node(3)->TakeMessages());  // dropped by the partition
  // Pre-votes never win without a majority, so the term stays.
  EXPECT_EQ(net.node(3)->term(), term);
  EXPECT_EQ(net.node(3)->state(), StateType::kPreCandidate);
  net.Recover();
  net.Send(Msg(3, 3, Message::MSG_HUP));  // rejoin and try again
  EXPECT_EQ(net.node(1)->state(), StateType::kLeader);
  EXPECT_EQ(net.node(1)->term(), term);
  // The leader's next heartbeat brings node 3 back as follower.
  net.Send(Msg(1, 1, Message::MSG_BEAT));
  EXPECT_EQ(net.node(3)->state(), StateType::kFollower);
  EXPECT_EQ(net.node(3)->lead(), 1u);
}

TEST(PreVote, WithoutPreVoteRejoiningNodeForcesNewTerm) {
  Network net = ElectedNetwork(3, /*pre_vote=*/false, /*check_quorum=*/false);
  const uint64_t term = net.node(1)->term();
  net.Isolate(3);
  net.Campaign(3);
  net.Campaign(3);
  EXPECT_EQ(net.node(3)->term(), term + 2);
  net.Recover();
  net.Campaign(3);
  // The vote request's higher term deposes the healthy leader.
  EXPECT_NE(net.node(1)->state(), StateType::kLeader);
  EXPECT_GT(net.node(1)->term(), term);
}

TEST(PreVote, CandidateWithStaleLogIsDenied) {
  Network net = ElectedNetwork(3, true, false);
  net.Isolate(3);
  net.Propose(1, "x");  // node 3 misses it
  net.Recover();
  // Cut the leader away so node 3 is not heard over it.
  net.Cut(1, 3);
  const uint64_t term = net.node(2)->term();
  net.Campaign(3);
  // Node 2 refuses (stale log) and node 1 is unreachable: no election.
  EXPECT_EQ(net.node(3)->state(), StateType::kPreCandidate);
  EXPECT_EQ(net.node(2)->term(), term);
  EXPECT_EQ(net.node(1)->state(), StateType::kLeader);
}

// --- check-quorum ----------------------------------------------------------

TEST(CheckQuorum, IsolatedLeaderStepsDown) {
  Network net = ElectedNetwork(3, false, true);
  ASSERT_EQ(net.node(1)->state(), StateType::kLeader);
  net.Isolate(1);
  // Within one election timeout the leader is still allowed to lead.
  TickN(*net.node(1), 9);
  EXPECT_EQ(net.node(1)->state(), StateType::kLeader);
  TickN(*net.node(1), 1);
  // First check: the followers were active during the window (election);
  // the second one sees nobody.
  TickN(*net.node(1), 10);
  EXPECT_EQ(net.node(1)->state(), StateType::kFollower);
}

TEST(CheckQuorum, LeaderWithActiveQuorumStaysLeader) {
  Network net = ElectedNetwork(3, false, true);
  for (int i = 0; i < 50; ++i) {
    net.node(1)->Tick();
    net.Send(net.node(1)->TakeMessages());
  }
  EXPECT_EQ(net.node(1)->state(), StateType::kLeader);
}

TEST(CheckQuorum, FollowerIgnoresVoteRequestsWithinLease) {
  Network net = ElectedNetwork(3, false, true);
  const uint64_t term = net.node(2)->term();
  Message vote = Msg(3, 2, Message::MSG_VOTE, term + 1);
  vote.set_index(100);
  vote.set_log_term(100);
  net.node(2)->Step(vote);
  EXPECT_EQ(net.node(2)->term(), term);  // ignored
  EXPECT_TRUE(net.node(2)->TakeMessages().empty());
  // A transfer-campaign overrides the lease.
  vote.set_context(kCampaignTransfer);
  net.node(2)->Step(vote);
  EXPECT_EQ(net.node(2)->term(), term + 1);
  EXPECT_EQ(net.node(2)->vote(), 3u);
}

TEST(CheckQuorum, StaleLeaderLearnsNewTermFromFollowers) {
  Network net = ElectedNetwork(3, true, true);
  net.Isolate(1);
  // Followers lose the leader and elect node 2.
  for (int i = 0; i < 30; ++i) {
    net.node(2)->Tick();
    net.node(3)->Tick();
    net.Send(net.node(2)->TakeMessages());
    net.Send(net.node(3)->TakeMessages());
    if (net.node(2)->state() == StateType::kLeader || net.node(3)->state() == StateType::kLeader) {
      break;
    }
  }
  const uint64_t new_term = std::max(net.node(2)->term(), net.node(3)->term());
  ASSERT_GT(new_term, net.node(1)->term());
  net.node(1)->TakeMessages();
  net.Recover();
  net.Send(Msg(1, 1, Message::MSG_BEAT));
  EXPECT_EQ(net.node(1)->state(), StateType::kFollower);
  EXPECT_EQ(net.node(1)->term(), new_term);
}

// --- ForgetLeader (a side channel says the leader is gone) ----------------

TEST(ForgetLeader, FollowersThatLostTheLeaderTakeTurnsAndElectOneWithoutASplitVote) {
  Network net = ElectedNetwork(5, /*pre_vote=*/true, /*check_quorum=*/true);
  ASSERT_EQ(net.node(1)->state(), StateType::kLeader);
  const uint64_t term = net.node(1)->term();
  net.Isolate(1);  // killed
  for (uint64_t id = 2; id <= 5; ++id) net.node(id)->ForgetLeader();
  EXPECT_EQ(net.node(2)->lead(), kNone);
  EXPECT_EQ(net.node(2)->state(), StateType::kFollower) << "it waits its turn";
  // Node 2 (the lowest id left) campaigns after 1 tick, node 3 after 3,
  // node 4 after 5...: where an election timeout (10-19 ticks) would
  // otherwise pass first and all four could campaign at once.
  int ticks = 0;
  auto leader = [&]() -> uint64_t {
    for (uint64_t id = 2; id <= 5; ++id) {
      if (net.node(id)->state() == StateType::kLeader) return id;
    }
    return 0;
  };
  while (ticks < 3 && leader() == 0) {
    ++ticks;
    for (uint64_t id = 2; id <= 5; ++id) net.node(id)->Tick();
    for (uint64_t id = 2; id <= 5; ++id) net.Send(net.node(id)->TakeMessages());
  }
  EXPECT_EQ(leader(), 2u) << "after " << ticks << " ticks";
  EXPECT_EQ(ticks, 1);
  EXPECT_EQ(net.node(2)->term(), term + 1) << "one election, no split vote";
  EXPECT_EQ(net.node(5)->lead(), 2u);
}

TEST(ForgetLeader, OneFollowerAloneCannotDeposeALiveLeader) {
  // Only node 3 believes the leader gone: node 2 still hears it and keeps
  // its lease, so node 3's pre-vote fails and the term stays.
  Network net = ElectedNetwork(3, true, true);
  const uint64_t term = net.node(1)->term();
  net.node(3)->ForgetLeader();
  for (int i = 0; i < 5; ++i) {
    net.node(3)->Tick();
    net.Send(net.node(3)->TakeMessages());
  }
  EXPECT_EQ(net.node(1)->state(), StateType::kLeader);
  EXPECT_EQ(net.node(1)->term(), term);
  EXPECT_EQ(net.node(2)->term(), term);
  // The leader's next heartbeat makes node 3 an ordinary follower again.
  net.Send(Msg(1, 1, Message::MSG_BEAT));
  EXPECT_EQ(net.node(3)->state(), StateType::kFollower);
  EXPECT_EQ(net.node(3)->lead(), 1u);
}

TEST(ForgetLeader, NoEffectOnALeaderOrALeaderlessFollower) {
  Network net = ElectedNetwork(3, true, true);
  net.node(1)->ForgetLeader();
  EXPECT_EQ(net.node(1)->state(), StateType::kLeader);
  EXPECT_EQ(net.node(1)->lead(), 1u);
  // A follower that lost its leader otherwise (a new term) keeps its whole
  // election timeout: nothing says the old leader is dead.
  net.node(2)->BecomeFollower(net.node(2)->term() + 1, kNone);
  ASSERT_EQ(net.node(2)->election_elapsed(), 0);
  net.node(2)->ForgetLeader();
  EXPECT_EQ(net.node(2)->election_elapsed(), 0);
}

}  // namespace
}  // namespace orch::raft::testing
