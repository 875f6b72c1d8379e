// Messages no correct peer sends (issue 10): the core must never abort on
// them, and must not let them move commit past the log or rewrite it. The
// driver also drops messages from non-members before they reach the core
// (tests/unit/master/raft_node_test.cpp); these tests are the core's own
// defence when a forged message carries a member's id.
#include <gtest/gtest.h>

#include "master/raft/raw_node.h"
#include "raft_test_util.h"

namespace orch::raft {
namespace {

using testing::EntriesWithTerms;
using testing::MakeEntry;
using testing::Msg;
using testing::NewTestRaft;
using testing::StorageWithLog;

TEST(RaftHostile, AHeartbeatWithAHugeCommitNeverCommitsPastTheLog) {
  // The review's 30-byte frame: term 1000, commit 2^40.
  auto t = NewTestRaft(1, {1, 2, 3}, 10, 1, StorageWithLog({1, 1, 1}, 1));
  Message hb = Msg(9, 1, Message::MSG_HEARTBEAT, 1000);
  hb.set_commit(uint64_t{1} << 40);
  t->Step(hb);
  EXPECT_LE(t->log().committed(), t->log().LastIndex());
  EXPECT_EQ(t->log().committed(), 3u);
}

// Found by the raft_frame fuzzer: a heartbeat with term 2^64-1 made the node
// follow that term; its next campaign's term wrapped around to 0 and the
// core aborted. Such terms are dropped.
TEST(RaftHostile, AMessageWithATermNearTheLimitIsDroppedAndCampaignsStillWork) {
  for (uint64_t term : {~uint64_t{0}, ~uint64_t{0} - 1, (uint64_t{1} << 62) + 1}) {
    auto t = NewTestRaft(1, {1, 2, 3}, 10, 1, StorageWithLog({1, 1, 1}, 1));
    t->Step(Msg(2, 1, Message::MSG_HEARTBEAT, term));
    EXPECT_EQ(t->term(), 1u) << term;
    for (int i = 0; i < 19; ++i)
      t->Tick();  // past the election timeout (10-19 ticks): it campaigns once
    EXPECT_EQ(t->term(), 2u) << term;
  }
}

TEST(RaftHostile, AnAppendWhoseEntriesDoNotFollowItsIndexIsDropped) {
  auto t = NewTestRaft(1, {1, 2, 3}, 10, 1, StorageWithLog({1, 1}, 1));
  Message app = Msg(2, 1, Message::MSG_APP, 1);
  app.set_index(2);
  app.set_log_term(1);
  app.set_commit(1000);
  *app.add_entries() = MakeEntry(1000, 1);  // should be index 3
  t->Step(app);
  EXPECT_EQ(t->log().LastIndex(), 2u);
  EXPECT_LE(t->log().committed(), 2u);
  // Terms that go down: dropped too.
  Message down = Msg(2, 1, Message::MSG_APP, 5);
  down.set_index(2);
  down.set_log_term(1);
  *down.add_entries() = MakeEntry(3, 2);
  *down.add_entries() = MakeEntry(4, 1);
  t->Step(down);
  EXPECT_EQ(t->log().LastIndex(), 2u);
}

TEST(RaftHostile, AnAppendThatWouldRewriteCommittedEntriesIsRefused) {
  auto t = NewTestRaft(1, {1, 2, 3}, 10, 1, StorageWithLog({1, 1, 1}, 1));
  Message hb = Msg(2, 1, Message::MSG_HEARTBEAT, 1);
  hb.set_commit(3);
  t->Step(hb);
  ASSERT_EQ(t->log().committed(), 3u);
  // Index 1 matches; entries 2.. at term 2 conflict with committed ones.
  Message app = Msg(2, 1, Message::MSG_APP, 2);
  app.set_index(1);
  app.set_log_term(1);
  *app.add_entries() = MakeEntry(2, 2);
  *app.add_entries() = MakeEntry(3, 2);
  t->Step(app);
  EXPECT_EQ(t->log().Term(2).value, 1u);
  EXPECT_EQ(t->log().committed(), 3u);
}

TEST(RaftHostile, ALeaderIgnoresAnAcknowledgementOfEntriesItNeverHad) {
  auto t = NewTestRaft(1, {1, 2, 3}, 10, 1);
  t->BecomeCandidate();
  t->BecomeLeader();
  uint64_t last = t->log().LastIndex();
  Message resp = Msg(2, 1, Message::MSG_APP_RESP, t->term());
  resp.set_index(uint64_t{1} << 40);
  t->Step(resp);
  Message resp3 = Msg(3, 1, Message::MSG_APP_RESP, t->term());
  resp3.set_index(uint64_t{1} << 40);
  t->Step(resp3);
  EXPECT_LE(t->log().committed(), last);
}

}  // namespace
}  // namespace orch::raft

namespace orch::raft {
namespace {

TEST(RaftHostile, AVoteWithoutATermIsRefusedAtTheNetworkEdge) {
  // Found by tests/fuzz/raft_frame_fuzz (tests/fuzz/regressions/raft_frame):
  // a MsgVote of term 0 reached HandleVoteRequest, whose answer of term 0
  // tripped RAFT_CHECK(m.term() != 0) and aborted the master.
  MemoryStorage storage;
  Config c = testing::TestConfig(1, {1, 2, 3}, 10, 1, &storage);
  auto node = RawNode::Create(c);
  ASSERT_TRUE(node.ok());
  for (auto type : {Message::MSG_VOTE, Message::MSG_PRE_VOTE, Message::MSG_APP, Message::MSG_HEARTBEAT,
                    Message::MSG_SNAP, Message::MSG_TIMEOUT_NOW}) {
    Message m = Msg(3, 1, type, 0);
    m.set_index(1);
    m.set_log_term(1);
    EXPECT_EQ(node.value->Step(m), Error::kStepLocalMsg) << Message::Type_Name(type);
  }
}

}  // namespace
}  // namespace orch::raft

namespace orch::raft {
namespace {

TEST(RaftHostile, AnAppendPastTheLogWithLogTermZeroMatchesNothing) {
  // Found by tests/fuzz/raft_frame_fuzz: Term() answers 0 past the log, so
  // an append at index 2^40 with log term 0 "matched", and its commit ran
  // past the log (RAFT_CHECK, abort).
  auto t = NewTestRaft(1, {1, 2, 3}, 10, 1, StorageWithLog({1, 1}, 1));
  Message app = Msg(2, 1, Message::MSG_APP, 1);
  app.set_index(uint64_t{1} << 40);
  app.set_log_term(0);
  app.set_commit(uint64_t{1} << 40);
  t->Step(app);
  EXPECT_EQ(t->log().LastIndex(), 2u);
  EXPECT_LE(t->log().committed(), 2u);
  // Entries of term 0 are no real entries either.
  Message zero = Msg(2, 1, Message::MSG_APP, 1);
  zero.set_index(2);
  zero.set_log_term(1);
  zero.set_commit(3);
  *zero.add_entries() = MakeEntry(3, 0);
  t->Step(zero);
  EXPECT_EQ(t->log().LastIndex(), 2u);
  EXPECT_LE(t->log().committed(), 2u);
}

}  // namespace
}  // namespace orch::raft

namespace orch::raft {
namespace {

TEST(RaftHostile, ASnapshotPastTheLogWithTermZeroRestoresNothing) {
  // Found by the raft_frame fuzzer in CI: a snapshot for index 10, term 0,
  // "matched" the log (Term() answers 0 past it), and the fast-forward of
  // commit to its index ran past the log (RAFT_CHECK, abort).
  auto t = NewTestRaft(1, {1, 2, 3}, 10, 1, StorageWithLog({1, 1}, 1));
  Message snap = Msg(2, 1, Message::MSG_SNAP, 1);
  auto* md = snap.mutable_snapshot()->mutable_metadata();
  md->set_index(10);
  md->set_term(0);
  md->mutable_conf_state()->add_voters(1);
  md->mutable_conf_state()->add_voters(2);
  t->Step(snap);
  EXPECT_EQ(t->log().LastIndex(), 2u);
  EXPECT_LE(t->log().committed(), 2u);
  // A snapshot of a real term past the log is still restored.
  md->set_term(1);
  t->Step(snap);
  EXPECT_EQ(t->log().LastIndex(), 10u);
  EXPECT_EQ(t->log().committed(), 10u);
}

}  // namespace
}  // namespace orch::raft
