// Progress, Inflights and quorum arithmetic.
#include <gtest/gtest.h>

#include "master/raft/progress.h"
#include "master/raft/quorum.h"

namespace orch::raft {
namespace {

TEST(Inflights, FullByCountAndBytes) {
  Inflights in(3, 0);
  in.Add(1, 100);
  in.Add(2, 100);
  EXPECT_FALSE(in.Full());
  in.Add(3, 100);
  EXPECT_TRUE(in.Full());
  in.FreeLE(2);
  EXPECT_EQ(in.Count(), 1u);
  EXPECT_FALSE(in.Full());

  Inflights by_bytes(10, 250);
  by_bytes.Add(1, 100);
  by_bytes.Add(2, 100);
  EXPECT_FALSE(by_bytes.Full());
  by_bytes.Add(3, 100);
  EXPECT_TRUE(by_bytes.Full());
  by_bytes.FreeFirstOne();
  EXPECT_EQ(by_bytes.Bytes(), 200u);
  EXPECT_FALSE(by_bytes.Full());
}

TEST(Progress, ProbeSendsOneMessageAtATime) {
  Progress p(5, 256, 0, false);
  EXPECT_FALSE(p.IsPaused());
  p.probe_sent = true;
  EXPECT_TRUE(p.IsPaused());
  EXPECT_TRUE(p.MaybeUpdate(4));  // an ack unpauses
  EXPECT_FALSE(p.IsPaused());
}

TEST(Progress, MaybeUpdateIgnoresStaleAcks) {
  Progress p(6, 256, 0, false);
  p.match = 5;
  EXPECT_FALSE(p.MaybeUpdate(3));
  EXPECT_EQ(p.match, 5u);
  EXPECT_TRUE(p.MaybeUpdate(7));
  EXPECT_EQ(p.next, 8u);
}

TEST(Progress, MaybeDecrToInReplicateGoesBackToMatch) {
  Progress p(10, 256, 0, false);
  p.match = 5;
  p.BecomeReplicate();
  p.next = 10;
  EXPECT_FALSE(p.MaybeDecrTo(5, 5));  // stale: at or below match
  EXPECT_TRUE(p.MaybeDecrTo(9, 9));
  EXPECT_EQ(p.next, 6u);
}

TEST(Progress, MaybeDecrToInProbeUsesHint) {
  Progress p(10, 256, 0, false);
  EXPECT_FALSE(p.MaybeDecrTo(5, 3));  // not the outstanding probe (9)
  EXPECT_TRUE(p.MaybeDecrTo(9, 3));
  EXPECT_EQ(p.next, 4u);
  p.next = 4;
  EXPECT_TRUE(p.MaybeDecrTo(3, 7));  // hint above rejected: use rejected
  EXPECT_EQ(p.next, 3u);
}

TEST(Progress, SnapshotStatePausesUntilProbe) {
  Progress p(3, 256, 0, false);
  p.BecomeSnapshot(10);
  EXPECT_TRUE(p.IsPaused());
  p.BecomeProbe();
  EXPECT_EQ(p.next, 11u);  // resume after the snapshot
  EXPECT_FALSE(p.IsPaused());
}

TEST(Quorum, CommittedIndexIsMajorityMatch) {
  EXPECT_EQ(CommittedIndex({}), 0u);
  EXPECT_EQ(CommittedIndex({5}), 5u);
  EXPECT_EQ(CommittedIndex({5, 3}), 3u);
  EXPECT_EQ(CommittedIndex({5, 3, 1}), 3u);
  EXPECT_EQ(CommittedIndex({5, 3, 1, 4}), 3u);
  EXPECT_EQ(CommittedIndex({9, 1, 2, 8, 7}), 7u);
}

TEST(Quorum, TallyVotes) {
  const std::set<uint64_t> voters = {1, 2, 3};
  EXPECT_EQ(TallyVotes(voters, {{1, true}}), VoteResult::kPending);
  EXPECT_EQ(TallyVotes(voters, {{1, true}, {2, true}}), VoteResult::kWon);
  EXPECT_EQ(TallyVotes(voters, {{1, true}, {2, false}}), VoteResult::kPending);
  EXPECT_EQ(TallyVotes(voters, {{1, true}, {2, false}, {3, false}}), VoteResult::kLost);
  // Votes of non-voters (learners) do not count.
  EXPECT_EQ(TallyVotes(voters, {{1, true}, {4, true}}), VoteResult::kPending);
  EXPECT_EQ(TallyVotes({}, {}), VoteResult::kWon);
  EXPECT_TRUE(HasQuorum(voters, {2, 3}));
  EXPECT_FALSE(HasQuorum(voters, {3, 4}));
}

}  // namespace
}  // namespace orch::raft
