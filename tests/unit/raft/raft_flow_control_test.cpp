// Flow control, batching, proposal forwarding and fast log repair.
#include <gtest/gtest.h>

#include "tests/unit/raft/raft_feature_helpers.h"

namespace orch::raft::testing {
namespace {

// --- flow control and batching ---------------------------------------------

TestRaft ReplicatingLeader(Config c) {
  auto t = NewTestRaftWithConfig(c, std::make_unique<MemoryStorage>());
  t->BecomeCandidate();
  t->BecomeLeader();
  t->TakeMessages();
  t->progress(2)->BecomeReplicate();
  return t;
}

TEST(FlowControl, InflightMessagesAreBounded) {
  Config c = TestConfig(1, {1, 2}, 10, 1, nullptr);
  c.max_inflight_msgs = 3;
  auto t = ReplicatingLeader(c);
  for (int i = 0; i < 10; ++i) t->Step(PropMsg(1, "data"));
  auto apps = TakeOfType(*t.raft, Message::MSG_APP);
  EXPECT_EQ(apps.size(), 3u);
  EXPECT_TRUE(t->progress(2)->IsPaused());
  // Acking the first frees one slot; the rest goes out in one batch.
  Message ack = Msg(2, 1, Message::MSG_APP_RESP, t->term());
  ack.set_index(apps[0].entries(apps[0].entries_size() - 1).index());
  t->Step(ack);
  apps = TakeOfType(*t.raft, Message::MSG_APP);
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0].entries(apps[0].entries_size() - 1).index(), t->log().LastIndex());
}

TEST(FlowControl, InflightBytesAreBounded) {
  Config c = TestConfig(1, {1, 2}, 10, 1, nullptr);
  const std::string payload(1000, 'x');
  c.max_inflight_bytes = 2500;
  auto t = ReplicatingLeader(c);
  for (int i = 0; i < 10; ++i) t->Step(PropMsg(1, payload));
  auto apps = TakeOfType(*t.raft, Message::MSG_APP);
  // The message that crosses the budget is sent, then the window is full.
  EXPECT_EQ(apps.size(), 3u);
  EXPECT_GE(t->progress(2)->inflights.Bytes(), 2500u);
  EXPECT_TRUE(t->progress(2)->IsPaused());
}

TEST(FlowControl, HeartbeatResponseUnblocksFullWindow) {
  Config c = TestConfig(1, {1, 2}, 10, 1, nullptr);
  c.max_inflight_msgs = 1;
  auto t = ReplicatingLeader(c);
  t->Step(PropMsg(1, "a"));
  t->Step(PropMsg(1, "b"));
  EXPECT_EQ(TakeOfType(*t.raft, Message::MSG_APP).size(), 1u);
  t->Step(Msg(2, 1, Message::MSG_HEARTBEAT_RESP, t->term()));
  EXPECT_EQ(TakeOfType(*t.raft, Message::MSG_APP).size(), 1u);
}

TEST(FlowControl, MessagesAreBatchedUpToMaxSize) {
  Config c = TestConfig(1, {1, 2}, 10, 1, nullptr);
  const std::string payload(100, 'x');
  Entry probe = MakeEntry(1, 1, payload);
  c.max_size_per_msg = EntrySize(probe) * 3;
  auto t = NewTestRaftWithConfig(c, std::make_unique<MemoryStorage>());
  t->BecomeCandidate();
  t->BecomeLeader();
  t->TakeMessages();
  t->progress(2)->probe_sent = true;  // hold sending while we build a backlog
  for (int i = 0; i < 7; ++i) t->Step(PropMsg(1, payload));
  t->progress(2)->BecomeReplicate();
  t->progress(2)->next = 1;
  t->Step(Msg(2, 1, Message::MSG_HEARTBEAT_RESP, t->term()));
  int sent = 0, msgs = 0;
  for (auto apps = TakeOfType(*t.raft, Message::MSG_APP); !apps.empty();
       apps = TakeOfType(*t.raft, Message::MSG_APP)) {
    for (const auto& m : apps) {
      // Entry-less MsgApps only carry a new commit index.
      if (m.entries_size() > 0) ++msgs;
      sent += m.entries_size();
      EXPECT_LE(m.entries_size(), 3);
      Message ack = Msg(2, 1, Message::MSG_APP_RESP, t->term());
      ack.set_index(m.index() + m.entries_size());
      t->Step(ack);
    }
  }
  EXPECT_EQ(sent, 8);  // the empty entry and 7 proposals
  EXPECT_EQ(msgs, 3);
}

TEST(FlowControl, ProbeStateSendsOneAppendUntilAnswered) {
  auto t = NewTestRaft(1, {1, 2}, 10, 1);
  t->BecomeCandidate();
  t->BecomeLeader();
  t->TakeMessages();
  t->Step(PropMsg(1, "a"));
  t->Step(PropMsg(1, "b"));
  t->Step(PropMsg(1, "c"));
  EXPECT_EQ(TakeOfType(*t.raft, Message::MSG_APP).size(), 1u);
  // A heartbeat response allows the next probe.
  t->Step(Msg(2, 1, Message::MSG_HEARTBEAT_RESP, t->term()));
  EXPECT_EQ(TakeOfType(*t.raft, Message::MSG_APP).size(), 1u);
}

// --- proposals -------------------------------------------------------------

TEST(Proposal, FollowerForwardsToLeader) {
  Network net = ElectedNetwork(3, false, false);
  net.Propose(2, "fwd");
  auto ents = net.node(1)->log().AllEntries();
  EXPECT_EQ(ents.back().data(), "fwd");
  EXPECT_EQ(net.node(1)->log().committed(), ents.back().index());
}

TEST(Proposal, ForwardingCanBeDisabled) {
  std::vector<TestRaft> nodes;
  for (uint64_t id = 1; id <= 3; ++id) {
    Config c = TestConfig(id, {1, 2, 3}, 10, 1, nullptr);
    c.disable_proposal_forwarding = true;
    nodes.push_back(NewTestRaftWithConfig(c, std::make_unique<MemoryStorage>()));
  }
  Network net(std::move(nodes));
  net.Campaign(1);
  EXPECT_EQ(net.node(2)->Step(PropMsg(2, "x")), Error::kProposalDropped);
  EXPECT_TRUE(net.node(2)->TakeMessages().empty());
}

TEST(Proposal, DroppedWithoutLeader) {
  auto t = NewTestRaft(1, {1, 2, 3}, 10, 1);
  EXPECT_EQ(t->Step(PropMsg(1, "x")), Error::kProposalDropped);
  t->Step(Msg(1, 1, Message::MSG_HUP));
  EXPECT_EQ(t->Step(PropMsg(1, "x")), Error::kProposalDropped);
}

TEST(Proposal, UncommittedSizeIsBounded) {
  Config c = TestConfig(1, {1, 2, 3}, 10, 1, nullptr);
  c.max_uncommitted_entries_size = 10;
  auto t = NewTestRaftWithConfig(c, std::make_unique<MemoryStorage>());
  t->BecomeCandidate();
  t->BecomeLeader();
  EXPECT_EQ(t->Step(PropMsg(1, "12345678")), Error::kOk);
  EXPECT_EQ(t->Step(PropMsg(1, "12345678")), Error::kProposalDropped);
}

TEST(Replication, FastBackoffRepairsDivergentFollowerInFewRoundTrips) {
  // Leader log: 1..5 in term 1, then 6..20 in term 5; follower has 1..5
  // then 6..30 in term 3. Naive back-off needs ~25 round trips.
  std::vector<uint64_t> lead_terms(5, 1), fol_terms(5, 1);
  lead_terms.insert(lead_terms.end(), 15, 5);
  fol_terms.insert(fol_terms.end(), 25, 3);
  std::vector<TestRaft> nodes;
  nodes.push_back(NewTestRaft(1, {1, 2, 3}, 10, 1, StorageWithLog(lead_terms, 5)));
  nodes.push_back(NewTestRaft(2, {1, 2, 3}, 10, 1, StorageWithLog(fol_terms, 5)));
  nodes.push_back(NewTestRaft(3, {1, 2, 3}, 10, 1, StorageWithLog({}, 5)));
  Network net(std::move(nodes));
  net.Campaign(1);
  ASSERT_EQ(net.node(1)->state(), StateType::kLeader);
  EXPECT_EQ(LogTerms(*net.node(1)), LogTerms(*net.node(2)));
  size_t rejects = 0;
  for (const auto& m : net.delivered()) {
    if (m.type() == Message::MSG_APP_RESP && m.reject() && m.from() == 2) ++rejects;
  }
  EXPECT_LE(rejects, 2u);
}

TEST(FlowControl, UnreachableFollowerGoesBackToProbing) {
  Config c = TestConfig(1, {1, 2}, 10, 1, nullptr);
  auto t = ReplicatingLeader(c);
  t->Step(PropMsg(1, "a"));
  t->Step(PropMsg(1, "b"));
  EXPECT_EQ(TakeOfType(*t.raft, Message::MSG_APP).size(), 2u);  // pipelined
  t->Step(Msg(2, 1, Message::MSG_UNREACHABLE));
  EXPECT_EQ(t->progress(2)->state, ProgressState::kProbe);
  EXPECT_EQ(t->progress(2)->next, t->progress(2)->match + 1);
}

TEST(Election, CampaignWhileLeaderIsANoOp) {
  Network net = ElectedNetwork(3, false, false);
  const uint64_t term = net.node(1)->term();
  net.Campaign(1);
  EXPECT_EQ(net.node(1)->state(), StateType::kLeader);
  EXPECT_EQ(net.node(1)->term(), term);
}

}  // namespace
}  // namespace orch::raft::testing
