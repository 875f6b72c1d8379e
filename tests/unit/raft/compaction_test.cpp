// Log compaction on the leader keeps what its followers still need.
#include "master/raft/compaction.h"

#include <gtest/gtest.h>

namespace orch::raft {
namespace {

constexpr uint64_t kSelf = 1;

Progress At(ProgressState state, uint64_t match, uint64_t next, uint64_t pending = 0) {
  Progress pr(next, 256, 0, false);
  pr.state = state;
  pr.match = match;
  pr.pending_snapshot = pending;
  return pr;
}

TEST(CompactionTest, KeepsKeepEntriesWhenEveryFollowerIsCurrent) {
  std::map<uint64_t, Progress> prs;
  prs.emplace(kSelf, At(ProgressState::kReplicate, 20000, 20001));
  prs.emplace(2, At(ProgressState::kReplicate, 20000, 20001));
  prs.emplace(3, At(ProgressState::kReplicate, 19990, 20001));
  EXPECT_EQ(CompactionIndex(20000, 5000, 40000, kSelf, prs), 15000u);
  // A follower (or a leader) with nothing to compact.
  EXPECT_EQ(CompactionIndex(20000, 5000, 40000, kSelf, {}), 15000u);
  EXPECT_EQ(CompactionIndex(4000, 5000, 40000, kSelf, prs), 0u);
}

TEST(CompactionTest, NeverDiscardsTheEntriesAfterASnapshotInFlight) {
  // Follower 3 is being sent the snapshot at 10,000 while the log reached
  // 20,000: once it installed it, it needs 10,001 onwards from the log.
  std::map<uint64_t, Progress> prs;
  prs.emplace(kSelf, At(ProgressState::kReplicate, 20000, 20001));
  prs.emplace(2, At(ProgressState::kReplicate, 20000, 20001));
  prs.emplace(3, At(ProgressState::kSnapshot, 0, 1, 10000));
  EXPECT_EQ(CompactionIndex(20000, 5000, 40000, kSelf, prs), 10000u);
}

TEST(CompactionTest, KeepsWhatAFollowerProbingAfterItsSnapshotIsSentNext) {
  // Snapshot 10,000 installed: probing from 10,001 with match still old.
  std::map<uint64_t, Progress> prs;
  prs.emplace(2, At(ProgressState::kProbe, 0, 10001));
  prs.emplace(3, At(ProgressState::kReplicate, 17000, 19000));
  EXPECT_EQ(CompactionIndex(20000, 5000, 40000, kSelf, prs), 10000u);
  // Replicate: what it acknowledged, not what was sent optimistically.
  prs.erase(2);
  prs.emplace(2, At(ProgressState::kReplicate, 12000, 19999));
  EXPECT_EQ(CompactionIndex(20000, 5000, 40000, kSelf, prs), 12000u);
}

TEST(CompactionTest, AFollowerTooFarBehindHoldsNothingBack) {
  // A dead follower (match 100) must not make the log grow for good.
  std::map<uint64_t, Progress> prs;
  prs.emplace(2, At(ProgressState::kProbe, 100, 101));
  prs.emplace(3, At(ProgressState::kReplicate, 60000, 60001));
  EXPECT_EQ(CompactionIndex(60000, 5000, 40000, kSelf, prs), 55000u);
  EXPECT_EQ(CompactionIndex(20000, 5000, 40000, kSelf, prs), 100u);
  // The leader's own progress is never a reason to keep entries.
  prs.emplace(kSelf, At(ProgressState::kProbe, 0, 1));
  EXPECT_EQ(CompactionIndex(60000, 5000, 40000, kSelf, prs), 55000u);
}

}  // namespace
}  // namespace orch::raft
