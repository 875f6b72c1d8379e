// ReadIndex: linearizable reads confirmed by a heartbeat quorum.
#include <gtest/gtest.h>

#include "tests/unit/raft/raft_feature_helpers.h"

namespace orch::raft::testing {
namespace {

// --- ReadIndex -------------------------------------------------------------

TEST(ReadIndex, LeaderAnswersAfterQuorumHeartbeat) {
  Network net = ElectedNetwork(3, false, false);
  net.Propose(1, "a");
  Raft* lead = net.node(1);
  Message req = Msg(1, 1, Message::MSG_READ_INDEX);
  req.add_entries()->set_data("ctx1");
  lead->Step(req);
  // Not yet: the leader must first confirm it is still leader.
  EXPECT_TRUE(lead->read_states().empty());
  auto hbs = TakeOfType(*lead, Message::MSG_HEARTBEAT);
  ASSERT_EQ(hbs.size(), 2u);
  EXPECT_EQ(hbs[0].context(), "ctx1");
  Message ack = Msg(2, 1, Message::MSG_HEARTBEAT_RESP, lead->term());
  ack.set_context("ctx1");
  lead->Step(ack);
  auto rs = lead->TakeReadStates();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].request_ctx, "ctx1");
  EXPECT_EQ(rs[0].index, lead->log().committed());
}

TEST(ReadIndex, FollowerForwardsToLeader) {
  Network net = ElectedNetwork(3, false, false);
  net.Propose(1, "a");
  Message req = Msg(2, 2, Message::MSG_READ_INDEX);
  req.add_entries()->set_data("from-2");
  net.Send(req);
  auto rs = net.node(2)->TakeReadStates();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].request_ctx, "from-2");
  EXPECT_EQ(rs[0].index, net.node(1)->log().committed());
}

TEST(ReadIndex, NewLeaderWaitsForEntryOfItsTerm) {
  Network net = NewNetwork(3);
  net.Ignore(Message::MSG_APP);  // the empty entry cannot commit
  net.Campaign(1);
  ASSERT_EQ(net.node(1)->state(), StateType::kLeader);
  Message req = Msg(1, 1, Message::MSG_READ_INDEX);
  req.add_entries()->set_data("early");
  net.Send(req);
  EXPECT_TRUE(net.node(1)->read_states().empty());
  net.Recover();
  net.Send(Msg(1, 1, Message::MSG_BEAT));  // replication resumes, commits
  auto rs = net.node(1)->TakeReadStates();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].index, net.node(1)->log().committed());
  EXPECT_EQ(net.node(1)->log().Term(rs[0].index).value, net.node(1)->term());
}

TEST(ReadIndex, SingleNodeAnswersImmediately) {
  auto t = NewTestRaft(1, {1}, 10, 1);
  t->Step(Msg(1, 1, Message::MSG_HUP));
  ASSERT_EQ(t->state(), StateType::kLeader);
  Message req = Msg(1, 1, Message::MSG_READ_INDEX);
  req.add_entries()->set_data("solo");
  t->Step(req);
  auto rs = t->TakeReadStates();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].index, t->log().committed());
}

TEST(ReadIndex, DeposedLeaderNeverAnswers) {
  Network net = ElectedNetwork(3, false, false);
  net.Propose(1, "a");
  net.Isolate(1);
  Message req = Msg(1, 1, Message::MSG_READ_INDEX);
  req.add_entries()->set_data("lost");
  net.Send(req);
  net.Send(Msg(1, 1, Message::MSG_BEAT));
  EXPECT_TRUE(net.node(1)->read_states().empty());
}

TEST(ReadIndex, OneQuorumRoundServesEveryEarlierRequest) {
  Network net = ElectedNetwork(3, false, false);
  net.Propose(1, "a");
  Raft* lead = net.node(1);
  for (const char* ctx : {"r1", "r2", "r3"}) {
    Message req = Msg(1, 1, Message::MSG_READ_INDEX);
    req.add_entries()->set_data(ctx);
    lead->Step(req);
  }
  lead->TakeMessages();
  EXPECT_EQ(lead->pending_read_count(), 3u);
  // Acks for the newest context confirm leadership after all three arrived.
  Message ack = Msg(2, 1, Message::MSG_HEARTBEAT_RESP, lead->term());
  ack.set_context("r3");
  lead->Step(ack);
  auto rs = lead->TakeReadStates();
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].request_ctx, "r1");
  EXPECT_EQ(rs[2].request_ctx, "r3");
  EXPECT_EQ(lead->pending_read_count(), 0u);
}

TEST(ReadIndex, LearnerReadsThroughLeader) {
  Network net = NetworkWithLearner();
  net.Campaign(1);
  net.Propose(1, "a");
  Message req = Msg(3, 3, Message::MSG_READ_INDEX);
  req.add_entries()->set_data("learner");
  net.Send(req);
  auto rs = net.node(3)->TakeReadStates();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].index, net.node(1)->log().committed());
}

}  // namespace
}  // namespace orch::raft::testing
