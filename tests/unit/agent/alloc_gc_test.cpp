// AllocGc: files of allocations nobody tracks are removed once idle for the
// configured time; tracked or recently written ones stay.
#include "agent/alloc_gc.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "test_util.h"

namespace orch::agent {
namespace {

namespace fs = std::filesystem;

// Makes <dir>/allocs/<id>/web and a log, all last written `age` ago.
void MakeAllocDir(const std::string& data_dir, const std::string& id, std::chrono::seconds age) {
  fs::path d = fs::path(data_dir) / "allocs" / id;
  fs::create_directories(d / "web");
  std::ofstream(d / "web.stdout") << "output\n";
  struct timespec ts[2];
  clock_gettime(CLOCK_REALTIME, &ts[0]);
  ts[0].tv_sec -= age.count();
  ts[1] = ts[0];
  for (const auto& p : {d / "web", d / "web.stdout", d}) utimensat(AT_FDCWD, p.c_str(), ts, 0);
}

TEST(AllocGcTest, RemovesOnlyUntrackedAllocationsIdleLongEnough) {
  testing::TempDir dir;
  MakeAllocDir(dir.path(), "old", std::chrono::hours(2));
  MakeAllocDir(dir.path(), "tracked", std::chrono::hours(2));
  MakeAllocDir(dir.path(), "recent", std::chrono::minutes(5));
  AllocGc gc(dir.path(), std::chrono::hours(1), SystemClock::Get());
  EXPECT_EQ(gc.Collect({"tracked"}), 1);
  EXPECT_FALSE(fs::exists(dir.path() + "/allocs/old"));
  EXPECT_TRUE(fs::exists(dir.path() + "/allocs/tracked/web.stdout"));
  EXPECT_TRUE(fs::exists(dir.path() + "/allocs/recent/web.stdout"));
  EXPECT_EQ(gc.Collect({"tracked"}), 0);  // idempotent
}

TEST(AllocGcTest, SweepsAtMostOncePerInterval) {
  testing::TempDir dir;
  AllocGc gc(dir.path(), std::chrono::hours(1), SystemClock::Get(), std::chrono::hours(1));
  int asked = 0;
  auto keep = [&] {
    ++asked;
    return std::set<std::string>{};
  };
  gc.MaybeCollect(keep);
  MakeAllocDir(dir.path(), "old", std::chrono::hours(2));
  EXPECT_EQ(gc.MaybeCollect(keep), 0);  // not due yet
  EXPECT_EQ(asked, 1);
  EXPECT_TRUE(fs::exists(dir.path() + "/allocs/old"));
}

}  // namespace
}  // namespace orch::agent
