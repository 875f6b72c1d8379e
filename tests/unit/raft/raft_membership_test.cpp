// Membership changes: learners, promotion, removal, one at a time.
#include <gtest/gtest.h>

#include "tests/unit/raft/raft_feature_helpers.h"

namespace orch::raft::testing {
namespace {

// --- membership ------------------------------------------------------------

TEST(ConfChange, LearnerReceivesLogButNeverCampaigns) {
  Network net = NetworkWithLearner();
  for (int i = 0; i < 50; ++i) net.node(3)->Tick();
  EXPECT_EQ(net.node(3)->state(), StateType::kFollower);
  EXPECT_TRUE(net.node(3)->TakeMessages().empty());
  net.Campaign(1);
  net.Propose(1, "x");
  EXPECT_EQ(net.node(3)->log().LastIndex(), net.node(1)->log().LastIndex());
  EXPECT_EQ(net.node(3)->log().committed(), net.node(1)->log().committed());
}

TEST(ConfChange, LearnerDoesNotCountTowardsCommit) {
  Network net = NetworkWithLearner();
  net.Campaign(1);
  net.Cut(1, 2);  // only the learner is reachable
  const uint64_t committed = net.node(1)->log().committed();
  net.Propose(1, "x");
  EXPECT_EQ(net.node(3)->log().LastIndex(), net.node(1)->log().LastIndex());
  EXPECT_EQ(net.node(1)->log().committed(), committed);
}

TEST(ConfChange, PromotedLearnerVotesAndCounts) {
  Network net = NetworkWithLearner();
  net.Campaign(1);
  for (uint64_t id = 1; id <= 3; ++id) {
    net.node(id)->ApplyConfChange(MakeCC(ConfChange::ADD_NODE, 3));
  }
  EXPECT_FALSE(net.node(1)->progress(3)->is_learner);
  net.Cut(1, 2);
  net.Propose(1, "x");  // now 1 + 3 are a majority of {1,2,3}
  EXPECT_EQ(net.node(1)->log().committed(), net.node(1)->log().LastIndex());
  // And node 3 can now win an election.
  net.Recover();
  net.Campaign(3);
  EXPECT_EQ(net.node(3)->state(), StateType::kLeader);
}

TEST(ConfChange, AddNodeAndRemoveNodeChangeQuorum) {
  auto t = NewTestRaft(1, {1, 2}, 10, 1);
  t->BecomeCandidate();
  t->BecomeLeader();
  t->ApplyConfChange(MakeCC(ConfChange::ADD_NODE, 3));
  EXPECT_EQ(t->Voters(), (std::set<uint64_t>{1, 2, 3}));
  EXPECT_TRUE(t->progress(3)->recent_active);
  t->Step(PropMsg(1, "x"));
  const uint64_t li = t->log().LastIndex();
  EXPECT_LT(t->log().committed(), li);
  // Removing both others leaves the leader alone: its entries commit.
  t->ApplyConfChange(MakeCC(ConfChange::REMOVE_NODE, 2));
  EXPECT_LT(t->log().committed(), li);
  t->ApplyConfChange(MakeCC(ConfChange::REMOVE_NODE, 3));
  EXPECT_EQ(t->log().committed(), li);
  EXPECT_EQ(t->Voters(), (std::set<uint64_t>{1}));
}

TEST(ConfChange, OnlyOneChangeMayBePending) {
  auto t = NewTestRaft(1, {1, 2}, 10, 1);
  t->BecomeCandidate();
  t->BecomeLeader();
  // Apply the empty entry of the new term so nothing is pending.
  t->log().CommitTo(t->log().LastIndex());
  t->log().AppliedTo(t->log().LastIndex());
  t->Step(ConfChangeProp(1, ConfChange::ADD_NODE, 3));
  EXPECT_TRUE(t->HasPendingConfChange());
  t->Step(ConfChangeProp(1, ConfChange::ADD_NODE, 4));
  auto ents = t->log().AllEntries();
  ASSERT_GE(ents.size(), 2u);
  EXPECT_EQ(ents[ents.size() - 2].type(), Entry::CONF_CHANGE);
  // The second one was turned into a no-op.
  EXPECT_EQ(ents.back().type(), Entry::NORMAL);
  EXPECT_TRUE(ents.back().data().empty());
}

TEST(ConfChange, NewLeaderTreatsUnappliedEntriesAsPendingChange) {
  auto t = NewTestRaft(1, {1, 2}, 10, 1, StorageWithLog({1, 1}, 1));
  t->BecomeCandidate();
  t->BecomeLeader();
  EXPECT_TRUE(t->HasPendingConfChange());
}

TEST(ConfChange, RemovedLeaderStepsDownAndDropsProposals) {
  Network net = ElectedNetwork(3, false, false);
  net.node(1)->ApplyConfChange(MakeCC(ConfChange::REMOVE_NODE, 1));
  EXPECT_EQ(net.node(1)->state(), StateType::kFollower);
  for (int i = 0; i < 50; ++i) net.node(1)->Tick();
  EXPECT_TRUE(TakeOfType(*net.node(1), Message::MSG_VOTE).empty());
}

TEST(ConfChange, NodeWithUnappliedConfChangeDoesNotCampaign) {
  auto s = StorageWithLog({1, 1}, 1);
  std::vector<Entry> ents = {MakeEntry(3, 1)};
  ents[0].set_type(Entry::CONF_CHANGE);
  ents[0].set_data(MakeCC(ConfChange::REMOVE_NODE, 2).SerializeAsString());
  s->Append(ents);
  HardState hs;
  hs.set_term(1);
  hs.set_commit(3);
  s->SetHardState(hs);
  auto t = NewTestRaft(1, {1, 2}, 10, 1, std::move(s));
  t->Step(Msg(1, 1, Message::MSG_HUP));
  EXPECT_EQ(t->state(), StateType::kFollower);
  t->log().AppliedTo(3);
  t->Step(Msg(1, 1, Message::MSG_HUP));
  EXPECT_EQ(t->state(), StateType::kCandidate);
}

}  // namespace
}  // namespace orch::raft::testing
