// Snapshots: sending, restoring and the Progress snapshot state.
#include <gtest/gtest.h>

#include "tests/unit/raft/raft_feature_helpers.h"

namespace orch::raft::testing {
namespace {

// --- snapshots -------------------------------------------------------------

std::unique_ptr<MemoryStorage> SnapshottedStorage(uint64_t index, uint64_t term,
                                                  std::vector<uint64_t> voters) {
  auto s = std::make_unique<MemoryStorage>();
  Snapshot snap;
  snap.mutable_metadata()->set_index(index);
  snap.mutable_metadata()->set_term(term);
  for (uint64_t v : voters) snap.mutable_metadata()->mutable_conf_state()->add_voters(v);
  snap.set_data("state@" + std::to_string(index));
  s->ApplySnapshot(snap);
  HardState hs;
  hs.set_term(term);
  hs.set_commit(index);
  s->SetHardState(hs);
  return s;
}

TEST(Snapshot, LeaderSendsSnapshotWhenEntriesAreCompacted) {
  auto t = NewTestRaft(1, {}, 10, 1, SnapshottedStorage(11, 11, {1, 2}));
  t->BecomeCandidate();
  t->BecomeLeader();
  t->TakeMessages();
  // Follower 2 says its log ends long before our first index.
  Message rej = Msg(2, 1, Message::MSG_APP_RESP, t->term());
  rej.set_index(t->progress(2)->next - 1);
  rej.set_reject(true);
  rej.set_reject_hint(0);
  t->Step(rej);
  auto snaps = TakeOfType(*t.raft, Message::MSG_SNAP);
  ASSERT_EQ(snaps.size(), 1u);
  EXPECT_EQ(snaps[0].snapshot().metadata().index(), 11u);
  EXPECT_EQ(t->progress(2)->state, ProgressState::kSnapshot);
  EXPECT_EQ(t->progress(2)->pending_snapshot, 11u);
  EXPECT_TRUE(t->progress(2)->IsPaused());
}

TEST(Snapshot, FailedSnapshotReportGoesBackToProbe) {
  auto t = NewTestRaft(1, {}, 10, 1, SnapshottedStorage(11, 11, {1, 2}));
  t->BecomeCandidate();
  t->BecomeLeader();
  t->progress(2)->BecomeSnapshot(11);
  Message st = Msg(2, 1, Message::MSG_SNAP_STATUS);
  st.set_reject(true);
  t->Step(st);
  EXPECT_EQ(t->progress(2)->state, ProgressState::kProbe);
  EXPECT_TRUE(t->progress(2)->probe_sent);  // wait for a heartbeat response
  EXPECT_EQ(t->progress(2)->next, 1u);
}

TEST(Snapshot, FollowerRestoresSnapshotAndMembership) {
  auto t = NewTestRaft(2, {1, 2}, 10, 1);
  Message m = Msg(1, 2, Message::MSG_SNAP, 2);
  auto* md = m.mutable_snapshot()->mutable_metadata();
  md->set_index(11);
  md->set_term(2);
  md->mutable_conf_state()->add_voters(1);
  md->mutable_conf_state()->add_voters(2);
  md->mutable_conf_state()->add_learners(3);
  t->Step(m);
  EXPECT_EQ(t->log().committed(), 11u);
  EXPECT_EQ(t->log().LastIndex(), 11u);
  EXPECT_TRUE(t->log().HasPendingSnapshot());
  ASSERT_NE(t->progress(3), nullptr);
  EXPECT_TRUE(t->progress(3)->is_learner);
  auto resp = TakeOfType(*t.raft, Message::MSG_APP_RESP);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_EQ(resp[0].index(), 11u);
  // A second copy is older than what we have committed: ignored.
  t->Step(m);
  EXPECT_EQ(t->log().committed(), 11u);
}

TEST(Snapshot, FollowerHoldingTheEntryOnlyFastForwardsCommit) {
  auto t = NewTestRaft(2, {1, 2}, 10, 1, StorageWithLog({1, 1, 1}, 1));
  t->BecomeFollower(1, 1);
  Message m = Msg(1, 2, Message::MSG_SNAP, 1);
  m.mutable_snapshot()->mutable_metadata()->set_index(2);
  m.mutable_snapshot()->mutable_metadata()->set_term(1);
  m.mutable_snapshot()->mutable_metadata()->mutable_conf_state()->add_voters(1);
  m.mutable_snapshot()->mutable_metadata()->mutable_conf_state()->add_voters(2);
  t->Step(m);
  EXPECT_FALSE(t->log().HasPendingSnapshot());
  EXPECT_EQ(t->log().committed(), 2u);
  EXPECT_EQ(t->log().LastIndex(), 3u);
}

TEST(Snapshot, LaggingFollowerCatchesUpThroughSnapshot) {
  // Leader 1 has compacted through 11; follower 2 is empty.
  std::vector<TestRaft> nodes;
  nodes.push_back(NewTestRaft(1, {}, 10, 1, SnapshottedStorage(11, 1, {1, 2})));
  nodes.push_back(NewTestRaft(2, {1, 2}, 10, 1));
  Network net(std::move(nodes));
  net.Campaign(1);
  ASSERT_EQ(net.node(1)->state(), StateType::kLeader);
  net.Send(Msg(1, 1, Message::MSG_BEAT));
  EXPECT_TRUE(net.node(2)->log().HasPendingSnapshot());
  EXPECT_EQ(net.node(2)->log().committed(), net.node(1)->log().committed());
  EXPECT_EQ(net.node(1)->progress(2)->match, net.node(1)->log().LastIndex());
}

TEST(Snapshot, NotSentToFollowerThatWasNotRecentlyActive) {
  auto t = NewTestRaft(1, {}, 10, 1, SnapshottedStorage(11, 11, {1, 2}));
  t->BecomeCandidate();
  t->BecomeLeader();
  t->TakeMessages();
  Progress* pr = t->progress(2);
  pr->next = 1;  // needs compacted entries
  pr->recent_active = false;
  t->Step(PropMsg(1, "x"));
  EXPECT_TRUE(TakeOfType(*t.raft, Message::MSG_SNAP).empty());
  EXPECT_EQ(pr->state, ProgressState::kProbe);
  // Once it answers a heartbeat it is worth the snapshot.
  t->Step(Msg(2, 1, Message::MSG_HEARTBEAT_RESP, t->term()));
  EXPECT_EQ(TakeOfType(*t.raft, Message::MSG_SNAP).size(), 1u);
}

TEST(Snapshot, SnapshotNotListingUsIsRefused) {
  auto t = NewTestRaft(2, {1, 2}, 10, 1);
  Message m = Msg(1, 2, Message::MSG_SNAP, 2);
  auto* md = m.mutable_snapshot()->mutable_metadata();
  md->set_index(11);
  md->set_term(2);
  md->mutable_conf_state()->add_voters(1);
  t->Step(m);
  EXPECT_FALSE(t->log().HasPendingSnapshot());
  EXPECT_EQ(t->log().committed(), 0u);
}

}  // namespace
}  // namespace orch::raft::testing
