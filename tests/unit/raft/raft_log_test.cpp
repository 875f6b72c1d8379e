// MemoryStorage, Unstable and RaftLog: the log bookkeeping under the core.
#include <gtest/gtest.h>

#include "master/raft/log.h"
#include "master/raft/memory_storage.h"
#include "tests/unit/raft/raft_test_util.h"

namespace orch::raft::testing {
namespace {

std::vector<uint64_t> Terms(const std::vector<Entry>& ents) {
  std::vector<uint64_t> out;
  for (const auto& e : ents) out.push_back(e.term());
  return out;
}

// Storage holding entries 3..5 (terms 3,4,5) after a snapshot at 3.
MemoryStorage CompactedStorage() {
  MemoryStorage s;
  Snapshot snap;
  snap.mutable_metadata()->set_index(3);
  snap.mutable_metadata()->set_term(3);
  s.ApplySnapshot(snap);
  s.Append({MakeEntry(4, 4), MakeEntry(5, 5)});
  return s;
}

TEST(MemoryStorage, TermReportsCompactedAndUnavailable) {
  MemoryStorage s = CompactedStorage();
  EXPECT_EQ(s.Term(2).error, Error::kCompacted);
  EXPECT_EQ(s.Term(3).value, 3u);
  EXPECT_EQ(s.Term(5).value, 5u);
  EXPECT_EQ(s.Term(6).error, Error::kUnavailable);
  EXPECT_EQ(s.FirstIndex(), 4u);
  EXPECT_EQ(s.LastIndex(), 5u);
}

TEST(MemoryStorage, EntriesHonoursBoundsAndByteLimit) {
  MemoryStorage s = CompactedStorage();
  s.Append({MakeEntry(6, 6)});
  EXPECT_EQ(s.Entries(3, 5, kNoLimit).error, Error::kCompacted);
  EXPECT_EQ(Terms(s.Entries(4, 7, kNoLimit).value), (std::vector<uint64_t>{4, 5, 6}));
  const uint64_t one = EntrySize(MakeEntry(4, 4));
  EXPECT_EQ(s.Entries(4, 7, 0).value.size(), 1u);  // always at least one
  EXPECT_EQ(s.Entries(4, 7, one * 2).value.size(), 2u);
  EXPECT_EQ(s.Entries(4, 8, kNoLimit).error, Error::kUnavailable);
}

TEST(MemoryStorage, CompactKeepsTermOfLastCompactedEntry) {
  MemoryStorage s = CompactedStorage();
  EXPECT_EQ(s.Compact(3), Error::kCompacted);
  EXPECT_EQ(s.Compact(4), Error::kOk);
  EXPECT_EQ(s.FirstIndex(), 5u);
  EXPECT_EQ(s.Term(4).value, 4u);
  EXPECT_EQ(s.Term(3).error, Error::kCompacted);
}

TEST(MemoryStorage, AppendTruncatesConflictsAndSkipsCompacted) {
  MemoryStorage s = CompactedStorage();
  s.Append({MakeEntry(2, 2), MakeEntry(3, 3), MakeEntry(4, 6), MakeEntry(5, 6)});
  EXPECT_EQ(s.Term(4).value, 6u);
  EXPECT_EQ(s.LastIndex(), 5u);
  s.Append({MakeEntry(5, 7)});
  EXPECT_EQ(s.Term(5).value, 7u);
  s.Append({MakeEntry(6, 7)});
  EXPECT_EQ(s.LastIndex(), 6u);
}

TEST(MemoryStorage, SnapshotsMustMoveForward) {
  MemoryStorage s = CompactedStorage();
  ConfState cs;
  cs.add_voters(1);
  auto snap = s.CreateSnapshot(5, &cs, "state");
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap.value.metadata().term(), 5u);
  EXPECT_EQ(s.CreateSnapshot(4, &cs, "old").error, Error::kSnapOutOfDate);
  EXPECT_EQ(s.ApplySnapshot(snap.value), Error::kSnapOutOfDate);
  EXPECT_EQ(s.GetInitialState().conf_state.voters_size(), 1);
}

TEST(Unstable, StableToIgnoresReplacedEntries) {
  Unstable u(5);
  u.TruncateAndAppend({MakeEntry(5, 1), MakeEntry(6, 1)});
  u.TruncateAndAppend({MakeEntry(6, 2)});  // replaces 6
  u.StableTo(6, 1);                        // the old 6 was persisted: ignore
  EXPECT_EQ(u.entries().size(), 2u);
  u.StableTo(6, 2);
  EXPECT_TRUE(u.entries().empty());
  EXPECT_EQ(u.offset(), 7u);
}

TEST(Unstable, TruncateAndAppendBeforeOffsetReplacesAll) {
  Unstable u(5);
  u.TruncateAndAppend({MakeEntry(5, 1), MakeEntry(6, 1)});
  u.TruncateAndAppend({MakeEntry(4, 2)});
  EXPECT_EQ(u.offset(), 4u);
  EXPECT_EQ(u.entries().size(), 1u);
  EXPECT_EQ(u.MaybeLastIndex().value(), 4u);
}

TEST(RaftLog, FindConflictReportsFirstMismatchOrNewEntry) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append({MakeEntry(1, 1), MakeEntry(2, 2), MakeEntry(3, 3)});
  EXPECT_EQ(log.FindConflict({MakeEntry(1, 1), MakeEntry(2, 2)}), 0u);
  EXPECT_EQ(log.FindConflict({MakeEntry(2, 2), MakeEntry(3, 3), MakeEntry(4, 4)}), 4u);
  EXPECT_EQ(log.FindConflict({MakeEntry(2, 1), MakeEntry(3, 4)}), 2u);
}

TEST(RaftLog, FindConflictByTermSkipsWholeTerms) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  // terms 1 1 1 4 4 5 5 6 6 6
  std::vector<uint64_t> terms = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
  log.Append(EntriesWithTerms(terms));
  EXPECT_EQ(log.FindConflictByTerm(10, 3), (std::pair<uint64_t, uint64_t>{3, 1}));
  EXPECT_EQ(log.FindConflictByTerm(10, 5), (std::pair<uint64_t, uint64_t>{7, 5}));
  EXPECT_EQ(log.FindConflictByTerm(10, 6), (std::pair<uint64_t, uint64_t>{10, 6}));
  EXPECT_EQ(log.FindConflictByTerm(5, 0), (std::pair<uint64_t, uint64_t>{0, 0}));
}

TEST(RaftLog, MaybeAppendChecksMatchAndCommits) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append({MakeEntry(1, 1), MakeEntry(2, 2), MakeEntry(3, 3)});
  log.CommitTo(1);
  EXPECT_FALSE(log.MaybeAppend(3, 2, 3, {MakeEntry(4, 4)}).has_value());
  auto last = log.MaybeAppend(2, 2, 10, {MakeEntry(3, 4)});
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(*last, 3u);
  EXPECT_EQ(log.committed(), 3u);  // min(leader commit, last new)
  EXPECT_EQ(log.Term(3).value, 4u);
}

TEST(RaftLog, SliceSpansStorageAndUnstable) {
  MemoryStorage s = CompactedStorage();
  RaftLog log(&s, kNoLimit);
  log.Append({MakeEntry(6, 6), MakeEntry(7, 7)});
  EXPECT_EQ(log.Slice(3, 5, kNoLimit).error, Error::kCompacted);
  EXPECT_EQ(Terms(log.Slice(4, 8, kNoLimit).value), (std::vector<uint64_t>{4, 5, 6, 7}));
  EXPECT_EQ(Terms(log.Slice(5, 7, kNoLimit).value), (std::vector<uint64_t>{5, 6}));
  const uint64_t one = EntrySize(MakeEntry(4, 4));
  EXPECT_EQ(log.Slice(4, 8, one * 3).value.size(), 3u);
}

TEST(RaftLog, NextEntriesAreCommittedButUnapplied) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append(EntriesWithTerms({1, 1, 1, 1}));
  EXPECT_FALSE(log.HasNextEntries());
  log.CommitTo(3);
  EXPECT_EQ(log.NextEntries().size(), 3u);
  log.AppliedTo(2);
  ASSERT_EQ(log.NextEntries().size(), 1u);
  EXPECT_EQ(log.NextEntries()[0].index(), 3u);
}

TEST(RaftLog, IsUpToDateComparesLastTermThenIndex) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  log.Append(EntriesWithTerms({1, 2, 3}));
  EXPECT_TRUE(log.IsUpToDate(2, 4));
  EXPECT_FALSE(log.IsUpToDate(4, 2));
  EXPECT_TRUE(log.IsUpToDate(3, 3));
  EXPECT_FALSE(log.IsUpToDate(2, 3));
}

TEST(RaftLog, RestoreSnapshotResetsLog) {
  MemoryStorage s;
  RaftLog log(&s, kNoLimit);
  Snapshot snap;
  snap.mutable_metadata()->set_index(100);
  snap.mutable_metadata()->set_term(5);
  log.Restore(snap);
  EXPECT_EQ(log.committed(), 100u);
  EXPECT_EQ(log.FirstIndex(), 101u);
  EXPECT_EQ(log.LastIndex(), 100u);
  EXPECT_EQ(log.Term(100).value, 5u);
  EXPECT_TRUE(log.HasPendingSnapshot());
}

}  // namespace
}  // namespace orch::raft::testing
