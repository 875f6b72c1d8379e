// The WAL-gathering VFS: a transaction's frames reach the file in one call,
// and what readers, a killed process and a full disk see is what plain
// writes would have left.
#include "common/sqlite_wal_vfs.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "common/sqlite.h"
#include "tests/unit/common/sqlite_test_rows.h"

namespace orch::sqlite {
namespace {

class SqliteWalVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("orch-wal-vfs-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "t.db").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static void Insert(Db* db, int from, int n, std::size_t bytes) {
    ASSERT_TRUE(db->Exec("BEGIN").ok());
    for (int i = from; i < from + n; ++i) {
      auto stmt = db->Prepare("INSERT INTO t (k, v) VALUES (?, ?)");
      ASSERT_TRUE(stmt.ok());
      ASSERT_TRUE(stmt->Bind(1, int64_t{i}).BindBlob(2, std::string(bytes, 'x')).Run().ok());
    }
    Status st = db->Exec("COMMIT");
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  static int64_t Count(Db* db) { return testing::CountRows(db, "t"); }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(SqliteWalVfsTest, ATransactionsFramesAreWrittenInOneCallAndReadByAnotherConnection) {
  auto writer = Db::Open(path_, Db::Sync::kNormal);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_TRUE((*writer)->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)").ok());
  auto reader = Db::Open(path_, Db::Sync::kNormal);
  ASSERT_TRUE(reader.ok());

  const WalGatheringCounts before = WalGatheringCounters();
  // 200 rows of 3 KiB: ~150 dirty pages, two WAL writes each without the VFS.
  Insert(writer->get(), 0, 200, 3000);
  const WalGatheringCounts after = WalGatheringCounters();
  const auto asked = after.asked - before.asked;
  const auto written = after.written - before.written;
  EXPECT_GE(asked, 300u);
  // 128 KiB a call: ~600 KiB of frames in about 5.
  EXPECT_LE(written, 8u) << asked << " writes asked";

  // Another connection sees the commit at once.
  EXPECT_EQ(Count(reader->get()), 200);
  Insert(writer->get(), 200, 10, 100);
  EXPECT_EQ(Count(reader->get()), 210);
  // And a checkpoint moves it into the database file.
  ASSERT_TRUE((*writer)->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  EXPECT_EQ(Count(reader->get()), 210);
}

TEST_F(SqliteWalVfsTest, ACommitOfAKilledProcessIsInTheFileAndAnUncommittedOneIsNot) {
  {
    auto db = Db::Open(path_, Db::Sync::kNormal);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)").ok());
  }
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto db = Db::Open(path_, Db::Sync::kNormal);
    if (!db.ok()) ::_exit(2);
    if (!(*db)->Exec("BEGIN").ok()) ::_exit(3);
    for (int i = 0; i < 50; ++i) {
      auto stmt = (*db)->Prepare("INSERT INTO t (k, v) VALUES (?, ?)");
      if (!stmt.ok() || !stmt->Bind(1, int64_t{i}).BindBlob(2, std::string(2000, 'c')).Run().ok())
        ::_exit(4);
    }
    if (!(*db)->Exec("COMMIT").ok()) ::_exit(5);
    // A transaction whose pages spill into the WAL (a 16 KiB cache) but that
    // never commits.
    if (!(*db)->Exec("PRAGMA cache_size=4").ok() || !(*db)->Exec("BEGIN").ok()) ::_exit(6);
    for (int i = 1000; i < 1100; ++i) {
      auto stmt = (*db)->Prepare("INSERT INTO t (k, v) VALUES (?, ?)");
      if (!stmt.ok() || !stmt->Bind(1, int64_t{i}).BindBlob(2, std::string(2000, 'u')).Run().ok())
        ::_exit(7);
    }
    ::kill(::getpid(), SIGKILL);  // no close, no flush
    ::_exit(8);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child exited " << status;

  auto db = Db::Open(path_, Db::Sync::kNormal);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(Count(db->get()), 50);
  auto check = (*db)->Prepare("PRAGMA integrity_check");
  ASSERT_TRUE(check.ok());
  ASSERT_TRUE(*check->Step());
  EXPECT_EQ(check->Text(0), "ok");
}

TEST_F(SqliteWalVfsTest, ACommitThatCannotBeWrittenFailsAndLeavesTheLastCommit) {
  {
    auto db = Db::Open(path_, Db::Sync::kNormal);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)").ok());
    Insert(db->get(), 0, 10, 100);
  }
  // The child writes under a file size limit (the disk "fills"): its big
  // commit must fail, not be acknowledged.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    auto db = Db::Open(path_, Db::Sync::kNormal);
    if (!db.ok()) ::_exit(2);
    if (!(*db)->Exec("PRAGMA wal_autocheckpoint=0").ok()) ::_exit(3);
    // 64 KiB: room for the WAL index (32 KiB), not for the ~80 KiB of
    // frames below, which the VFS holds until the commit frame (under its
    // 128 KiB): the write that fails is the one the commit makes.
    rlimit limit{64 * 1024, 64 * 1024};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(4);
    if (!(*db)->Exec("BEGIN").ok()) ::_exit(5);
    for (int i = 100; i < 125; ++i) {
      auto stmt = (*db)->Prepare("INSERT INTO t (k, v) VALUES (?, ?)");
      if (!stmt.ok() || !stmt->Bind(1, int64_t{i}).BindBlob(2, std::string(3000, 'f')).Run().ok())
        ::_exit(0);  // refused on the way: also a clear error
    }
    ::_exit((*db)->Exec("COMMIT").ok() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "1: the commit was acknowledged though its frames could not be written";

  auto db = Db::Open(path_, Db::Sync::kNormal);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(Count(db->get()), 10);
  Insert(db->get(), 10, 5, 100);
  EXPECT_EQ(Count(db->get()), 15);
}

}  // namespace
}  // namespace orch::sqlite
