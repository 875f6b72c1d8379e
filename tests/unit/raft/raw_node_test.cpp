// RawNode: the Ready/Advance contract a driver relies on.
#include "master/raft/raw_node.h"

#include <gtest/gtest.h>

#include "tests/unit/raft/raft_test_util.h"

namespace orch::raft::testing {
namespace {

std::unique_ptr<RawNode> NewNode(MemoryStorage* s, std::vector<uint64_t> peers, uint64_t id = 1) {
  Config c = TestConfig(id, peers, 10, 1, s);
  auto r = RawNode::Create(c);
  EXPECT_TRUE(r.ok());
  return std::move(r.value);
}

// The driver loop: persist, then "send" (collect), apply, advance.
struct Handled {
  std::vector<Message> sent;
  std::vector<Entry> applied;
  std::vector<ReadState> reads;
};

Handled HandleReady(RawNode& n, MemoryStorage& s) {
  Handled h;
  while (n.HasReady()) {
    Ready rd = n.GetReady();
    if (rd.snapshot) s.ApplySnapshot(*rd.snapshot);
    if (rd.hard_state) s.SetHardState(*rd.hard_state);
    s.Append(rd.entries);
    h.sent.insert(h.sent.end(), rd.messages.begin(), rd.messages.end());
    for (const auto& e : rd.committed_entries) {
      if (e.type() == Entry::CONF_CHANGE) {
        ConfChange cc;
        cc.ParseFromString(e.data());
        n.ApplyConfChange(cc);
      }
      h.applied.push_back(e);
    }
    h.reads.insert(h.reads.end(), rd.read_states.begin(), rd.read_states.end());
    n.Advance(rd);
  }
  return h;
}

TEST(RawNode, RejectsInvalidConfig) {
  Config c;
  EXPECT_EQ(RawNode::Create(c).error, Error::kInvalidConfig);
  MemoryStorage s;
  c = TestConfig(1, {1}, 1, 1, &s);  // election must exceed heartbeat
  EXPECT_EQ(RawNode::Create(c).error, Error::kInvalidConfig);
}

TEST(RawNode, SingleNodeCampaignsProposesAndApplies) {
  MemoryStorage s;
  auto n = NewNode(&s, {1});
  EXPECT_FALSE(n->HasReady());
  ASSERT_EQ(n->Campaign(), Error::kOk);
  Ready rd = n->GetReady();
  ASSERT_TRUE(rd.soft_state.has_value());
  EXPECT_EQ(rd.soft_state->state, StateType::kLeader);
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term(), 1u);
  EXPECT_EQ(rd.hard_state->vote(), 1u);
  EXPECT_TRUE(rd.must_sync);
  ASSERT_EQ(rd.entries.size(), 1u);  // the leader's empty entry
  s.SetHardState(*rd.hard_state);
  s.Append(rd.entries);
  n->Advance(rd);
  HandleReady(*n, s);

  ASSERT_EQ(n->Propose("hello"), Error::kOk);
  auto h = HandleReady(*n, s);
  ASSERT_EQ(h.applied.size(), 1u);
  EXPECT_EQ(h.applied[0].data(), "hello");
  EXPECT_EQ(s.LastIndex(), 2u);
  EXPECT_EQ(s.hard_state().commit(), 2u);
  EXPECT_FALSE(n->HasReady());
}

TEST(RawNode, MessagesOfAReadyFollowItsEntries) {
  MemoryStorage s;
  auto n = NewNode(&s, {1, 2});
  n->Campaign();
  Ready rd = n->GetReady();
  // The vote request leaves with the hard state that records our own vote.
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_EQ(rd.messages[0].type(), Message::MSG_VOTE);
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->vote(), 1u);
  n->Advance(rd);
}

TEST(RawNode, AdvanceWithoutChangesHasNoReady) {
  MemoryStorage s;
  auto n = NewNode(&s, {1, 2, 3});
  for (int i = 0; i < 5; ++i) n->Tick();
  EXPECT_FALSE(n->HasReady());
}

TEST(RawNode, ConfChangeIsRefusedWhileOneIsPending) {
  MemoryStorage s;
  auto n = NewNode(&s, {1});
  n->Campaign();
  HandleReady(*n, s);
  ConfChange cc;
  cc.set_type(ConfChange::ADD_LEARNER);
  cc.set_node_id(2);
  // Single voter: the change commits at once, but it is pending until the
  // application applies it.
  ASSERT_EQ(n->ProposeConfChange(cc), Error::kOk);
  cc.set_node_id(3);
  EXPECT_EQ(n->ProposeConfChange(cc), Error::kConfChangePending);
  HandleReady(*n, s);
  EXPECT_EQ(n->ProposeConfChange(cc), Error::kOk);
  HandleReady(*n, s);
  ConfState cs = n->raft().GetConfState();
  EXPECT_EQ(cs.voters_size(), 1);
  EXPECT_EQ(cs.learners_size(), 2);
}

TEST(RawNode, RestartKeepsPersistedStateAndReappliesNothingApplied) {
  MemoryStorage s;
  {
    auto n = NewNode(&s, {1});
    n->Campaign();
    HandleReady(*n, s);
    n->Propose("a");
    n->Propose("b");
    HandleReady(*n, s);
  }
  Config c = TestConfig(1, {1}, 10, 1, &s);
  c.applied = 2;  // the application applied through index 2
  auto r = RawNode::Create(c);
  ASSERT_TRUE(r.ok());
  auto& n = *r.value;
  EXPECT_EQ(n.raft().term(), 1u);
  EXPECT_EQ(n.raft().log().committed(), 3u);
  auto h = HandleReady(n, s);
  ASSERT_EQ(h.applied.size(), 1u);
  EXPECT_EQ(h.applied[0].data(), "b");
}

TEST(RawNode, ReadIndexOnSingleNode) {
  MemoryStorage s;
  auto n = NewNode(&s, {1});
  n->Campaign();
  HandleReady(*n, s);
  n->ReadIndex("r1");
  auto h = HandleReady(*n, s);
  ASSERT_EQ(h.reads.size(), 1u);
  EXPECT_EQ(h.reads[0].request_ctx, "r1");
  EXPECT_EQ(h.reads[0].index, 1u);
}

TEST(RawNode, StepRefusesLocalMessages) {
  MemoryStorage s;
  auto n = NewNode(&s, {1, 2});
  EXPECT_EQ(n->Step(Msg(2, 1, Message::MSG_HUP)), Error::kStepLocalMsg);
  EXPECT_EQ(n->raft().state(), StateType::kFollower);
}

}  // namespace
}  // namespace orch::raft::testing
