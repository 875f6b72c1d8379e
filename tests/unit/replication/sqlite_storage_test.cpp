// SqliteStorage: the Storage contract (mirrored from MemoryStorage's
// tests), durability across reopen, snapshots and crash recovery, and a
// RawNode running on it.
#include "master/replication/sqlite_storage.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "master/raft/bootstrap.h"
#include "master/raft/raw_node.h"
#include "master/replication/snapshot_file.h"
#include "tests/unit/raft/raft_test_util.h"

namespace orch::replication::testing {
namespace {

// The core's types, which the storage speaks.
using namespace orch::raft;           // NOLINT(google-build-using-namespace)
using namespace orch::raft::testing;  // NOLINT(google-build-using-namespace)

namespace fs = std::filesystem;

class SqliteStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "raft_storage_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<SqliteStorage> OpenStorage() {
    auto r = SqliteStorage::Open(dir_);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  // Storage holding entries 4..5 (terms 4,5) after a snapshot at 3.
  std::unique_ptr<SqliteStorage> CompactedStorage() {
    auto s = OpenStorage();
    Snapshot snap;
    snap.mutable_metadata()->set_index(3);
    snap.mutable_metadata()->set_term(3);
    snap.mutable_metadata()->mutable_conf_state()->add_voters(1);
    snap.set_data("image@3");
    EXPECT_TRUE(s->Save(nullptr, {MakeEntry(4, 4), MakeEntry(5, 5)}, &snap, true).ok());
    return s;
  }

  std::vector<std::string> SnapFiles() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_ + "/snap")) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string dir_;
};

std::vector<uint64_t> Terms(const std::vector<Entry>& ents) {
  std::vector<uint64_t> out;
  for (const auto& e : ents) out.push_back(e.term());
  return out;
}

TEST_F(SqliteStorageTest, NewStorageIsEmptyWithDummyEntry) {
  auto s = OpenStorage();
  EXPECT_TRUE(s->IsEmpty());
  EXPECT_EQ(s->FirstIndex(), 1u);
  EXPECT_EQ(s->LastIndex(), 0u);
  EXPECT_EQ(s->Term(0).value, 0u);
  EXPECT_EQ(s->Term(1).error, Error::kUnavailable);
  EXPECT_EQ(s->Entries(1, 1, kNoLimit).error, Error::kUnavailable);
  EXPECT_EQ(s->SnapshotMeta().index(), 0u);
  EXPECT_TRUE(s->GetSnapshot().ok());
}

TEST_F(SqliteStorageTest, TermReportsCompactedAndUnavailable) {
  auto s = CompactedStorage();
  EXPECT_FALSE(s->IsEmpty());
  EXPECT_EQ(s->Term(2).error, Error::kCompacted);
  EXPECT_EQ(s->Term(3).value, 3u);
  EXPECT_EQ(s->Term(5).value, 5u);
  EXPECT_EQ(s->Term(6).error, Error::kUnavailable);
  EXPECT_EQ(s->FirstIndex(), 4u);
  EXPECT_EQ(s->LastIndex(), 5u);
}

TEST_F(SqliteStorageTest, EntriesHonoursBoundsAndByteLimit) {
  auto s = CompactedStorage();
  ASSERT_TRUE(s->Save(nullptr, {MakeEntry(6, 6)}, nullptr, true).ok());
  EXPECT_EQ(s->Entries(3, 5, kNoLimit).error, Error::kCompacted);
  EXPECT_EQ(Terms(s->Entries(4, 7, kNoLimit).value), (std::vector<uint64_t>{4, 5, 6}));
  const uint64_t one = EntrySize(MakeEntry(4, 4));
  EXPECT_EQ(s->Entries(4, 7, 0).value.size(), 1u);  // always at least one
  EXPECT_EQ(s->Entries(4, 7, one * 2).value.size(), 2u);
  EXPECT_EQ(s->Entries(4, 8, kNoLimit).error, Error::kUnavailable);
}

TEST_F(SqliteStorageTest, EntriesFromSqliteAfterReopenMatchTheCache) {
  {
    auto s = OpenStorage();
    std::vector<Entry> ents;
    for (uint64_t i = 1; i <= 50; ++i)
      ents.push_back(MakeEntry(i, 1 + i / 10, "p" + std::to_string(i)));
    ASSERT_TRUE(s->Save(nullptr, ents, nullptr, true).ok());
    auto got = s->Entries(1, 51, kNoLimit);
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got.value.size(), 50u);
    EXPECT_EQ(got.value[41].data(), "p42");
  }
  auto s = OpenStorage();
  auto got = s->Entries(10, 20, EntrySize(MakeEntry(10, 2, "p10")) * 3);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got.value.size(), 3u);
  EXPECT_EQ(got.value[0].data(), "p10");
  EXPECT_EQ(got.value[2].term(), 2u);
  EXPECT_EQ(s->Term(49).value, 5u);
  EXPECT_EQ(s->Term(9).value, 1u);
}

TEST_F(SqliteStorageTest, AppendTruncatesConflictsAndSkipsCompacted) {
  auto s = CompactedStorage();
  ASSERT_TRUE(s->Save(nullptr, {MakeEntry(2, 2), MakeEntry(3, 3), MakeEntry(4, 6), MakeEntry(5, 6)},
                      nullptr, true)
                  .ok());
  EXPECT_EQ(s->Term(4).value, 6u);
  EXPECT_EQ(s->LastIndex(), 5u);
  ASSERT_TRUE(s->Save(nullptr, {MakeEntry(5, 7)}, nullptr, true).ok());
  EXPECT_EQ(s->Term(5).value, 7u);
  ASSERT_TRUE(s->Save(nullptr, {MakeEntry(6, 7)}, nullptr, true).ok());
  EXPECT_EQ(s->LastIndex(), 6u);
  // A gap is refused and changes nothing.
  EXPECT_EQ(s->Save(nullptr, {MakeEntry(8, 7)}, nullptr, true).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(s->LastIndex(), 6u);

  s.reset();
  s = OpenStorage();
  EXPECT_EQ(Terms(s->Entries(4, 7, kNoLimit).value), (std::vector<uint64_t>{6, 7, 7}));
}

TEST_F(SqliteStorageTest, ConflictingSuffixIsDeletedAcrossTheTail) {
  auto s = OpenStorage();
  ASSERT_TRUE(s->Save(nullptr, EntriesWithTerms({1, 1, 2, 2, 2}), nullptr, true).ok());
  ASSERT_TRUE(s->Save(nullptr, {MakeEntry(3, 3)}, nullptr, true).ok());
  EXPECT_EQ(s->LastIndex(), 3u);
  EXPECT_EQ(Terms(s->Entries(1, 4, kNoLimit).value), (std::vector<uint64_t>{1, 1, 3}));
  s.reset();
  s = OpenStorage();
  EXPECT_EQ(s->LastIndex(), 3u);
  EXPECT_EQ(Terms(s->Entries(1, 4, kNoLimit).value), (std::vector<uint64_t>{1, 1, 3}));
}

TEST_F(SqliteStorageTest, EverythingSurvivesReopen) {
  {
    auto s = CompactedStorage();
    HardState hs;
    hs.set_term(5);
    hs.set_vote(2);
    hs.set_commit(5);
    ASSERT_TRUE(s->Save(&hs, {MakeEntry(6, 5, "six")}, nullptr, true).ok());
  }
  auto s = OpenStorage();
  EXPECT_FALSE(s->IsEmpty());
  auto init = s->GetInitialState();
  EXPECT_EQ(init.hard_state.term(), 5u);
  EXPECT_EQ(init.hard_state.vote(), 2u);
  EXPECT_EQ(init.hard_state.commit(), 5u);
  ASSERT_EQ(init.conf_state.voters_size(), 1);
  EXPECT_EQ(init.conf_state.voters(0), 1u);
  EXPECT_EQ(s->FirstIndex(), 4u);
  EXPECT_EQ(s->LastIndex(), 6u);
  EXPECT_EQ(s->Entries(6, 7, kNoLimit).value[0].data(), "six");
  auto snap = s->GetSnapshot();
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap.value.metadata().index(), 3u);
  EXPECT_EQ(snap.value.metadata().term(), 3u);
  EXPECT_EQ(snap.value.data(), "image@3");
}

TEST_F(SqliteStorageTest, SavedSnapshotReplacesTheLogAndRaisesCommit) {
  auto s = OpenStorage();
  ASSERT_TRUE(s->Save(nullptr, EntriesWithTerms({1, 1, 1}), nullptr, true).ok());
  Snapshot snap;
  snap.mutable_metadata()->set_index(10);
  snap.mutable_metadata()->set_term(4);
  snap.mutable_metadata()->mutable_conf_state()->add_voters(7);
  snap.set_data("leader image");
  ASSERT_TRUE(s->Save(nullptr, {MakeEntry(11, 4)}, &snap, false).ok());
  EXPECT_EQ(s->FirstIndex(), 11u);
  EXPECT_EQ(s->LastIndex(), 11u);
  EXPECT_EQ(s->Term(10).value, 4u);
  EXPECT_EQ(s->Term(3).error, Error::kCompacted);
  EXPECT_EQ(s->hard_state().commit(), 10u);
  EXPECT_EQ(s->GetSnapshot().value.data(), "leader image");
  // Not newer: refused.
  EXPECT_EQ(s->Save(nullptr, {}, &snap, true).code(), StatusCode::kFailedPrecondition);
  s.reset();
  s = OpenStorage();
  EXPECT_EQ(s->FirstIndex(), 11u);
  EXPECT_EQ(s->Term(10).value, 4u);
  EXPECT_EQ(s->GetInitialState().hard_state.commit(), 10u);
  EXPECT_EQ(s->GetInitialState().conf_state.voters(0), 7u);
  EXPECT_EQ(s->GetSnapshot().value.data(), "leader image");
  EXPECT_EQ(SnapFiles().size(), 1u);
}

TEST_F(SqliteStorageTest, CreateSnapshotThenCompactKeepsTermOfSnapshot) {
  auto s = OpenStorage();
  ASSERT_TRUE(s->Save(nullptr, EntriesWithTerms({1, 1, 2, 2, 3, 3}), nullptr, true).ok());
  ConfState cs;
  cs.add_voters(1);
  cs.add_learners(2);
  ASSERT_TRUE(s->CreateSnapshot(4, cs, "image@4").ok());
  EXPECT_EQ(s->CreateSnapshot(3, cs, "old").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s->CreateSnapshot(7, cs, "future").code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s->SnapshotMeta().index(), 4u);
  EXPECT_EQ(s->SnapshotMeta().term(), 2u);
  EXPECT_EQ(s->Compact(6).code(), StatusCode::kFailedPrecondition);  // past the snapshot
  ASSERT_TRUE(s->Compact(5).ok());
  EXPECT_TRUE(s->Compact(3).ok());  // already compacted: no-op
  EXPECT_EQ(s->FirstIndex(), 5u);
  EXPECT_EQ(s->Term(s->FirstIndex() - 1).value, 2u);
  EXPECT_EQ(s->Term(3).error, Error::kCompacted);
  EXPECT_EQ(s->Entries(4, 6, kNoLimit).error, Error::kCompacted);
  EXPECT_EQ(Terms(s->Entries(5, 7, kNoLimit).value), (std::vector<uint64_t>{3, 3}));

  ASSERT_TRUE(s->CreateSnapshot(6, cs, "image@6").ok());
  EXPECT_EQ(SnapFiles(), (std::vector<std::string>{snapfile::FileName(3, 6)}));
  s.reset();
  s = OpenStorage();
  EXPECT_EQ(s->FirstIndex(), 5u);
  EXPECT_EQ(s->Term(4).value, 2u);
  auto snap = s->GetSnapshot().value;
  EXPECT_EQ(snap.metadata().index(), 6u);
  EXPECT_EQ(snap.metadata().conf_state().learners(0), 2u);
  EXPECT_EQ(snap.data(), "image@6");
}

// The driver writes a snapshot's file on another thread: what it records
// afterwards is what it wrote, and a snapshot overtaken meanwhile (one
// received from the leader, or taken for a new member) is dropped whole.
TEST_F(SqliteStorageTest, ASnapshotWrittenOffTheDriverThreadIsRecordedOnlyIfStillNewest) {
  auto s = OpenStorage();
  ASSERT_TRUE(s->Save(nullptr, EntriesWithTerms({1, 1, 2, 2, 3, 3}), nullptr, true).ok());
  ConfState cs;
  cs.add_voters(1);
  auto p = s->PrepareSnapshot(4, cs, "image@4");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(s->PrepareSnapshot(7, cs, "future").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s->SnapshotMeta().index(), 0u);  // nothing recorded before the commit
  std::thread writer([&] { ASSERT_TRUE(SqliteStorage::WriteSnapshotFile(&*p).ok()); });
  writer.join();
  EXPECT_EQ(SnapFiles(), (std::vector<std::string>{snapfile::FileName(2, 4)}));
  EXPECT_EQ(s->SnapshotMeta().index(), 0u);
  ASSERT_TRUE(s->CommitSnapshot(std::move(p).value()).ok());
  EXPECT_EQ(s->SnapshotMeta().index(), 4u);
  EXPECT_EQ(s->SnapshotMeta().term(), 2u);
  EXPECT_EQ(s->GetSnapshot().value.data(), "image@4");

  // Overtaken: prepared and written at 5, but one at 6 was taken meanwhile.
  auto late = s->PrepareSnapshot(5, cs, "image@5");
  ASSERT_TRUE(late.ok());
  ASSERT_TRUE(SqliteStorage::WriteSnapshotFile(&*late).ok());
  ASSERT_TRUE(s->CreateSnapshot(6, cs, "image@6").ok());
  EXPECT_EQ(s->CommitSnapshot(std::move(late).value()).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(SnapFiles(), (std::vector<std::string>{snapfile::FileName(3, 6)}));
  s.reset();
  s = OpenStorage();
  EXPECT_EQ(s->SnapshotMeta().index(), 6u);
  EXPECT_EQ(s->GetSnapshot().value.data(), "image@6");
}

TEST_F(SqliteStorageTest, ASnapshotWrittenButNeverCommittedIsGoneAfterReopen) {
  {
    auto s = OpenStorage();
    ASSERT_TRUE(s->Save(nullptr, EntriesWithTerms({1, 1, 2}), nullptr, true).ok());
    ASSERT_TRUE(s->CreateSnapshot(2, ConfState(), "committed").ok());
    // The master stops while the file of the next one is written.
    auto p = s->PrepareSnapshot(3, ConfState(), "written, never recorded");
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(SqliteStorage::WriteSnapshotFile(&*p).ok());
  }
  auto s = OpenStorage();
  EXPECT_EQ(SnapFiles(), (std::vector<std::string>{snapfile::FileName(1, 2)}));
  EXPECT_EQ(s->SnapshotMeta().index(), 2u);
  EXPECT_EQ(s->GetSnapshot().value.data(), "committed");
}

TEST_F(SqliteStorageTest, ReopenRemovesTmpAndUncommittedSnapshotFiles) {
  {
    auto s = OpenStorage();
    ASSERT_TRUE(s->Save(nullptr, EntriesWithTerms({1, 1, 2}), nullptr, true).ok());
    ASSERT_TRUE(s->CreateSnapshot(2, ConfState(), "committed").ok());
  }
  const std::string committed = snapfile::FileName(1, 2);
  // A crash mid-write (tmp left) and one between rename and the metadata
  // commit (a newer file nobody records).
  std::ofstream(dir_ + "/snap/" + snapfile::FileName(2, 3) + ".tmp") << "torn";
  std::ofstream(dir_ + "/snap/" + snapfile::FileName(2, 3)) << "uncommitted";
  auto s = OpenStorage();
  EXPECT_EQ(SnapFiles(), (std::vector<std::string>{committed}));
  EXPECT_EQ(s->SnapshotMeta().index(), 2u);
  EXPECT_EQ(s->GetSnapshot().value.data(), "committed");
  EXPECT_EQ(s->LastIndex(), 3u);
}

TEST_F(SqliteStorageTest, ReopenFailsWhenTheCommittedSnapshotFileIsGone) {
  {
    auto s = OpenStorage();
    ASSERT_TRUE(s->Save(nullptr, EntriesWithTerms({1, 1}), nullptr, true).ok());
    ASSERT_TRUE(s->CreateSnapshot(2, ConfState(), "x").ok());
  }
  fs::remove(dir_ + "/snap/" + snapfile::FileName(1, 2));
  auto r = SqliteStorage::Open(dir_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("missing"), std::string::npos);
}

TEST_F(SqliteStorageTest, ASnapshotFileDamagedOnDiskIsNeverInstalledNorSent) {
  {
    auto s = OpenStorage();
    ASSERT_TRUE(s->Save(nullptr, EntriesWithTerms({1, 1}), nullptr, true).ok());
    ASSERT_TRUE(s->CreateSnapshot(2, ConfState(), std::string(4096, 'a')).ok());
  }
  {
    auto s = OpenStorage();
    ASSERT_TRUE(s->GetSnapshot().ok());  // sound before the damage
  }
  // One flipped byte, size unchanged: only a checksum notices.
  const std::string file = dir_ + "/snap/" + snapfile::FileName(1, 2);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('b');
  }
  auto s = OpenStorage();
  auto snap = s->GetSnapshot();
  ASSERT_FALSE(snap.ok());
  EXPECT_EQ(snap.error, Error::kSnapshotTemporarilyUnavailable);
}

TEST_F(SqliteStorageTest, ASnapshotReceivedFromALeaderIsCheckedAfterReopenToo) {
  { auto s = CompactedStorage(); }
  std::ofstream(dir_ + "/snap/" + snapfile::FileName(3, 3), std::ios::trunc) << "image@4";
  auto s = OpenStorage();
  EXPECT_FALSE(s->GetSnapshot().ok());
}

TEST_F(SqliteStorageTest, TheClusterIdIsKeptAndNeverReplacedByAnother) {
  {
    auto s = OpenStorage();
    EXPECT_EQ(s->ClusterId(), 0u);
    ASSERT_TRUE(s->SetClusterId(0xabcdef).ok());
    EXPECT_TRUE(s->SetClusterId(0xabcdef).ok());  // the same again: fine
    EXPECT_TRUE(s->IsEmpty());                    // an id alone is not a log
  }
  auto s = OpenStorage();
  EXPECT_EQ(s->ClusterId(), 0xabcdefu);
  orch::Status other = s->SetClusterId(0x1234);
  EXPECT_EQ(other.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(other.message().find("0000000000abcdef"), std::string::npos) << other.message();
  EXPECT_EQ(s->ClusterId(), 0xabcdefu);
}

TEST_F(SqliteStorageTest, FullDiskOnSnapshotIsAnErrorAndChangesNothing) {
  auto s = OpenStorage();
  ASSERT_TRUE(s->Save(nullptr, EntriesWithTerms({1, 1, 2}), nullptr, true).ok());
  // Writes to /dev/full fail with ENOSPC, as on a full disk.
  const std::string tmp = dir_ + "/snap/" + snapfile::FileName(2, 3) + ".tmp";
  fs::create_symlink("/dev/full", tmp);
  auto st = s->CreateSnapshot(3, ConfState(), std::string(1 << 20, 'x'));
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted) << st.ToString();
  EXPECT_NE(st.message().find(tmp), std::string::npos) << st.ToString();
  EXPECT_EQ(s->SnapshotMeta().index(), 0u);
  EXPECT_TRUE(SnapFiles().empty());
  // Once space is back, it works.
  ASSERT_TRUE(s->CreateSnapshot(3, ConfState(), "fits").ok());
  EXPECT_EQ(s->GetSnapshot().value.data(), "fits");
}

TEST_F(SqliteStorageTest, UnwritableDirectoryIsAnErrorNotACrash) {
  auto r = SqliteStorage::Open("/proc/orch-no-such-dir/raft");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("/proc/orch-no-such-dir"), std::string::npos);
}

TEST_F(SqliteStorageTest, TailCacheStaysCorrectBeyondItsBound) {
  auto s = OpenStorage();
  const std::string big(64 << 10, 'x');  // 64 KiB: the 16 MiB tail holds ~256
  for (uint64_t i = 1; i <= 400; ++i) {
    ASSERT_TRUE(s->Save(nullptr, {MakeEntry(i, 1 + i / 100, big)}, nullptr, false).ok());
  }
  auto all = s->Entries(1, 401, kNoLimit);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all.value.size(), 400u);
  for (uint64_t i = 1; i <= 400; ++i) ASSERT_EQ(all.value[i - 1].index(), i);
  EXPECT_EQ(s->Term(150).value, 2u);
  EXPECT_EQ(s->Term(400).value, 5u);
  // Unsynced saves are still committed: a clean reopen sees them.
  s.reset();
  s = OpenStorage();
  EXPECT_EQ(s->LastIndex(), 400u);
  EXPECT_EQ(s->Entries(1, 2, kNoLimit).value[0].data(), big);
}

// The driver loop of raw_node_test, persisting through SqliteStorage.
std::vector<Entry> HandleReady(RawNode& n, SqliteStorage& s) {
  std::vector<Entry> applied;
  while (n.HasReady()) {
    Ready rd = n.GetReady();
    const Snapshot* snap = rd.snapshot ? &*rd.snapshot : nullptr;
    const HardState* hs = rd.hard_state ? &*rd.hard_state : nullptr;
    EXPECT_TRUE(s.Save(hs, rd.entries, snap, rd.must_sync).ok());
    for (const auto& e : rd.committed_entries) {
      if (e.type() == Entry::CONF_CHANGE) {
        ConfChange cc;
        cc.ParseFromString(e.data());
        n.ApplyConfChange(cc);
      }
      applied.push_back(e);
    }
    n.Advance(rd);
  }
  return applied;
}

std::unique_ptr<RawNode> StartNode(SqliteStorage* s) {
  Config c = TestConfig(1, {}, 10, 1, s);
  auto r = RawNode::Create(c);
  EXPECT_TRUE(r.ok());
  return std::move(r.value);
}

TEST_F(SqliteStorageTest, SingleNodeRawNodeCommitsAndRestartsWithSameLog) {
  uint64_t last = 0;
  uint64_t commit = 0;
  {
    auto s = OpenStorage();
    ASSERT_TRUE(s->IsEmpty());
    auto bs = MakeBootstrapState({1});
    ASSERT_TRUE(s->Save(&bs.hard_state, bs.entries, nullptr, true).ok());
    auto n = StartNode(s.get());
    HandleReady(*n, *s);  // applies the bootstrap ADD_NODE
    ASSERT_EQ(n->Campaign(), Error::kOk);
    HandleReady(*n, *s);
    for (int i = 0; i < 20; ++i) ASSERT_EQ(n->Propose("cmd" + std::to_string(i)), Error::kOk);
    auto applied = HandleReady(*n, *s);
    ASSERT_EQ(applied.size(), 20u);
    EXPECT_EQ(applied.back().data(), "cmd19");
    last = s->LastIndex();
    commit = s->hard_state().commit();
    EXPECT_EQ(commit, last);
    EXPECT_EQ(last, 22u);  // bootstrap entry, leader's empty entry, 20 commands
  }
  auto s = OpenStorage();
  EXPECT_FALSE(s->IsEmpty());
  EXPECT_EQ(s->LastIndex(), last);
  EXPECT_EQ(s->GetInitialState().hard_state.commit(), commit);
  auto n = StartNode(s.get());
  // Restarted from the log alone: everything committed is handed out again.
  auto replay = HandleReady(*n, *s);
  ASSERT_EQ(replay.size(), last);
  EXPECT_EQ(replay.back().data(), "cmd19");
  ASSERT_EQ(n->Campaign(), Error::kOk);
  HandleReady(*n, *s);
  ASSERT_EQ(n->Propose("after restart"), Error::kOk);
  auto applied = HandleReady(*n, *s);
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].data(), "after restart");
  EXPECT_EQ(s->hard_state().commit(), last + 2);
}

}  // namespace
}  // namespace orch::replication::testing
