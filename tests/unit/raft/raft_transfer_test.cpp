// Leadership transfer: MsgTimeoutNow, catch-up first, abort on timeout.
#include <gtest/gtest.h>

#include "tests/unit/raft/raft_feature_helpers.h"

namespace orch::raft::testing {
namespace {

// --- leadership transfer ---------------------------------------------------

Message TransferMsg(uint64_t leader, uint64_t transferee) {
  return Msg(transferee, leader, Message::MSG_TRANSFER_LEADER);
}

TEST(Transfer, ToUpToDateFollower) {
  Network net = ElectedNetwork(3, true, true);
  net.Propose(1, "x");
  net.Send(TransferMsg(1, 2));
  EXPECT_EQ(net.node(2)->state(), StateType::kLeader);
  EXPECT_EQ(net.node(1)->state(), StateType::kFollower);
  EXPECT_EQ(net.node(1)->lead(), 2u);
}

TEST(Transfer, ToLaggingFollowerCatchesItUpFirst) {
  Network net = ElectedNetwork(3, false, false);
  net.Isolate(3);
  net.Propose(1, "x");
  net.Propose(1, "y");
  net.Recover();
  EXPECT_LT(net.node(3)->log().LastIndex(), net.node(1)->log().LastIndex());
  net.Send(TransferMsg(1, 3));
  EXPECT_EQ(net.node(3)->state(), StateType::kLeader);
}

TEST(Transfer, FollowerForwardsRequestToLeader) {
  Network net = ElectedNetwork(3, false, false);
  net.Send(Msg(2, 2, Message::MSG_TRANSFER_LEADER));
  EXPECT_EQ(net.node(2)->state(), StateType::kLeader);
}

TEST(Transfer, DropsProposalsWhileInProgressAndAbortsAfterTimeout) {
  Network net = ElectedNetwork(3, false, false);
  net.Isolate(3);
  net.Send(TransferMsg(1, 3));
  Raft* lead = net.node(1);
  EXPECT_EQ(lead->lead_transferee(), 3u);
  EXPECT_EQ(lead->Step(PropMsg(1, "z")), Error::kProposalDropped);
  for (int i = 0; i < 10; ++i) lead->Tick();
  EXPECT_EQ(lead->lead_transferee(), kNone);
  EXPECT_EQ(lead->state(), StateType::kLeader);
  EXPECT_EQ(lead->Step(PropMsg(1, "z")), Error::kOk);
}

TEST(Transfer, ToLearnerIsIgnored) {
  Network net = NetworkWithLearner();
  net.Campaign(1);
  net.Send(TransferMsg(1, 3));
  EXPECT_EQ(net.node(1)->lead_transferee(), kNone);
  EXPECT_EQ(net.node(1)->state(), StateType::kLeader);
}

TEST(Transfer, ToSelfOrUnknownNodeIsIgnored) {
  Network net = ElectedNetwork(3, false, false);
  net.Send(TransferMsg(1, 1));
  EXPECT_EQ(net.node(1)->lead_transferee(), kNone);
  net.Send(TransferMsg(1, 9));
  EXPECT_EQ(net.node(1)->lead_transferee(), kNone);
  EXPECT_EQ(net.node(1)->state(), StateType::kLeader);
}

TEST(Transfer, SecondRequestToAnotherNodeReplacesTheFirst) {
  Network net = ElectedNetwork(3, false, false);
  net.Isolate(3);
  net.Send(TransferMsg(1, 3));
  EXPECT_EQ(net.node(1)->lead_transferee(), 3u);
  net.Send(TransferMsg(1, 2));
  EXPECT_EQ(net.node(2)->state(), StateType::kLeader);
  EXPECT_EQ(net.node(1)->state(), StateType::kFollower);
}

TEST(Transfer, TargetCampaignsDespiteCheckQuorumLease) {
  // Followers ignore vote requests while they hear from a leader, except
  // the one the leader asked for.
  Network net = ElectedNetwork(3, true, true);
  net.Send(TransferMsg(1, 3));
  EXPECT_EQ(net.node(3)->state(), StateType::kLeader);
  EXPECT_EQ(net.node(2)->lead(), 3u);
}

}  // namespace
}  // namespace orch::raft::testing
