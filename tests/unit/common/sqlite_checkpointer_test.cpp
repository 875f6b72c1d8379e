// WalCheckpointer: the writer's commits only append to the WAL, a thread of
// its own copies them back into the database file, and the WAL still
// restarts (stays bounded) under a writer that never pauses.
#include "common/sqlite_checkpointer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "common/sqlite.h"
#include "tests/unit/agent/test_util.h"
#include "tests/unit/common/sqlite_test_rows.h"

namespace orch::sqlite {
namespace {

class WalCheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Db::Open(path_, Db::Sync::kNormal);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    writer_ = std::move(db).value();
    ASSERT_TRUE(writer_->Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)").ok());
  }
  void TearDown() override { writer_.reset(); }

  // One transaction of `n` rows of 3 KiB: about one page each.
  void Commit(int n) {
    ASSERT_TRUE(writer_->Exec("BEGIN IMMEDIATE").ok());
    auto stmt = writer_->Prepare("INSERT INTO t (k, v) VALUES (?, ?)");
    ASSERT_TRUE(stmt.ok());
    const std::string blob(3000, 'x');
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(stmt->Bind(1, next_++).BindBlob(2, blob).Run().ok());  // Run resets it
    }
    ASSERT_TRUE(writer_->Exec("COMMIT").ok());
  }

  uintmax_t DbBytes() const { return std::filesystem::file_size(path_); }
  uintmax_t WalBytes() const { return std::filesystem::file_size(path_ + "-wal"); }

  agent::testing::TempDir dir_;
  const std::string path_ = dir_.path() + "/t.db";
  std::unique_ptr<Db> writer_;
  int64_t next_ = 0;
};

TEST_F(WalCheckpointerTest, CommitsOnlyAppendAndTheThreadCopiesThemBack) {
  WalCheckpointer::Options opts;
  opts.background_pages = 50;
  opts.inline_pages = 100000;  // never inline here
  opts.min_interval = std::chrono::milliseconds(1);
  auto c = WalCheckpointer::Start(writer_->raw(), path_, opts);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const uintmax_t before = DbBytes();
  Commit(20);  // under background_pages: nothing is due
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ((*c)->counts().background, 0u);
  EXPECT_EQ(DbBytes(), before) << "the commit checkpointed itself";
  Commit(60);  // past it: the thread copies the 80 rows back
  using agent::testing::WaitFor;
  EXPECT_TRUE(WaitFor([&] { return (*c)->counts().background >= 1; }, std::chrono::seconds(5)));
  EXPECT_EQ((*c)->counts().inline_, 0u);
  EXPECT_TRUE(WaitFor([&] { return DbBytes() >= before + 80 * 3000; }, std::chrono::seconds(5)))
      << "the rows did not reach the database file";
  // What the thread copied is what the writer committed.
  auto reader = Db::Open(path_, Db::Sync::kNormal);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(testing::CountRows(reader->get(), "t"), 80);
}

TEST_F(WalCheckpointerTest, AWriterThatNeverPausesStillRestartsTheWal) {
  // A transaction begins right after each commit (as the state store's
  // batches do): the thread alone never sees the WAL fully copied back at
  // a transaction's start, so only the commits' own checkpoints restart it.
  WalCheckpointer::Options opts;
  opts.background_pages = 20;
  opts.inline_pages = 200;
  opts.min_interval = std::chrono::milliseconds(1);
  auto c = WalCheckpointer::Start(writer_->raw(), path_, opts);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  uintmax_t most = 0;
  for (int i = 0; i < 300; ++i) {
    Commit(10);
    most = std::max(most, WalBytes());
  }
  // Frames are a page and a 24-byte header. A commit past twice
  // inline_pages checkpoints (after the thread's pass under way), and the
  // transaction after it restarts the WAL: at most that and one commit's
  // ~12 pages. Unbounded, 300 commits would reach ~3,600 frames.
  const uintmax_t frame = 4096 + 24;
  EXPECT_LE(most, (2 * 200 + 20) * frame + 32) << "the WAL grew without bound";
  EXPECT_GE((*c)->counts().inline_, 1u);
  EXPECT_EQ(testing::CountRows(writer_.get(), "t"), 3000);
}

TEST_F(WalCheckpointerTest, GoneItHandsTheCheckpointsBackToSqlite) {
  WalCheckpointer::Options opts;
  opts.background_pages = 100000;
  opts.inline_pages = 100000;
  {
    auto c = WalCheckpointer::Start(writer_->raw(), path_, opts);
    ASSERT_TRUE(c.ok());
    Commit(50);
  }
  const uintmax_t before = DbBytes();
  // SQLite's own checkpoint runs in the commit that passes 1,000 pages.
  for (int i = 0; i < 11; ++i) Commit(100);
  EXPECT_GT(DbBytes(), before + 500 * 3000);
}

}  // namespace
}  // namespace orch::sqlite
