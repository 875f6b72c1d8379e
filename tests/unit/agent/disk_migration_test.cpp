// Ephemeral disk migration on the agent: the tar stream with its trailer
// (round trip, truncation and damage refused), the migrator against a fake
// source (waits while the previous allocation runs, gives up on a node that
// stays unreachable, refuses more than the limit, never leaves half a disk),
// and the agent API route the masters fetch a stopped allocation's disk from.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "agent/alloc_runner.h"
#include "agent/disk_archive.h"
#include "agent/disk_migrator.h"
#include "agent/files.h"
#include "agent/http_api.h"
#include "common/ids.h"
#include "common/json.h"
#include "orch/v1/api.pb.h"
#include "test_util.h"

namespace orch::agent {
namespace {

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// A source directory like an allocation's _shared: files, a subdirectory,
// a link, modes.
void FillDisk(const std::string& dir) {
  ASSERT_TRUE(MakeDirs(dir + "/db").ok());
  WriteFile(dir + "/db/rows", std::string(200000, 'x') + "end");
  WriteFile(dir + "/note", "hello\n");
  ASSERT_EQ(chmod((dir + "/note").c_str(), 0640), 0);
  ASSERT_EQ(symlink("db/rows", (dir + "/latest").c_str()), 0);
}

std::string Archive(const std::string& dir) {
  std::string out;
  Status st = TarDirectory(dir, [&](std::string_view piece) {
    out.append(piece);
    return true;
  });
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

Status Extract(const std::string& archive, const std::string& into, size_t piece = 7000) {
  auto tar = TarExtractor::Start(into);
  if (!tar.ok()) return tar.status();
  for (size_t at = 0; at < archive.size(); at += piece) {
    ORCH_RETURN_IF_ERROR((*tar)->Write(std::string_view(archive).substr(at, piece)));
  }
  return (*tar)->Finish();
}

class DiskMigrationTest : public ::testing::Test {
 protected:
  void SetUp() override { signal(SIGPIPE, SIG_IGN); }
  testing::TempDir dir_;
};

TEST_F(DiskMigrationTest, AnArchiveComesBackWholeWithModesAndLinks) {
  std::string src = dir_.path() + "/src", dst = dir_.path() + "/dst";
  FillDisk(src);
  std::string archive = Archive(src);
  ASSERT_GT(archive.size(), 200000u);
  EXPECT_EQ(archive.substr(archive.size() - TarExtractor::kTrailerBytes, 14), "orch-disk-end ");
  ASSERT_TRUE(MakeDirs(dst).ok());
  Status st = Extract(archive, dst);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(testing::Slurp(dst + "/note"), "hello\n");
  EXPECT_EQ(testing::Slurp(dst + "/latest").size(), 200003u);
  struct stat sb;
  ASSERT_EQ(lstat((dst + "/latest").c_str(), &sb), 0);
  EXPECT_TRUE(S_ISLNK(sb.st_mode));
  ASSERT_EQ(stat((dst + "/note").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0640u);
  auto bytes = DirectoryBytes(src);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, 200003 + 6);
}

TEST_F(DiskMigrationTest, ATruncatedOrDamagedArchiveIsRefused) {
  std::string src = dir_.path() + "/src";
  FillDisk(src);
  std::string archive = Archive(src);
  // Cut inside a file's data: tar alone extracts this "successfully".
  for (size_t cut : {size_t{700}, archive.size() / 2, archive.size() - TarExtractor::kTrailerBytes,
                     archive.size() - 1}) {
    std::string dst = dir_.path() + "/cut" + std::to_string(cut);
    ASSERT_TRUE(MakeDirs(dst).ok());
    Status st = Extract(archive.substr(0, cut), dst);
    EXPECT_FALSE(st.ok()) << "cut at " << cut << " of " << archive.size();
  }
  std::string damaged = archive;
  damaged[archive.size() / 2] ^= 0x55;  // in the rows' data
  std::string dst = dir_.path() + "/damaged";
  ASSERT_TRUE(MakeDirs(dst).ok());
  Status st = Extract(damaged, dst);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("trailer"), std::string::npos) << st.ToString();
}

// A source that serves `dir` as the old agent would, after `running_for`
// refusals ("still runs") and `down_for` unreachable answers.
struct FakeSource {
  std::string dir;
  std::atomic<int> running_for{0};
  std::atomic<int> down_for{0};
  std::atomic<int> asked{0};
  bool gone = false;

  DiskSource Make() {
    DiskSource s;
    s.size = [this](const std::string&) -> Result<int64_t> {
      ++asked;
      if (gone) return Status::NotFound("allocation p1 is gone (collected); nothing to migrate");
      if (down_for > 0) {
        --down_for;
        return Status::Unavailable("node n1 is down");
      }
      if (running_for > 0) {
        --running_for;
        return Status::AlreadyExists(
            "allocation p1 still runs on this node");  // 409 as the client maps it
      }
      return DirectoryBytes(dir);
    };
    s.fetch = [this](const std::string&, const std::function<bool(std::string_view)>& on_data) {
      return TarDirectory(dir, on_data);
    };
    return s;
  }
};

v1::Allocation Replacement(int64_t size_mib = 0) {
  v1::Allocation a;
  a.set_id("new-alloc-1");
  a.set_previous_allocation("prev-alloc-1");
  a.mutable_task_group()->mutable_ephemeral_disk()->set_migrate(true);
  a.mutable_task_group()->mutable_ephemeral_disk()->set_size(size_mib);
  return a;
}

DiskMigratorOptions Quick() {
  DiskMigratorOptions o;
  o.retry_every = std::chrono::milliseconds(10);
  o.wait_for_node = std::chrono::milliseconds(300);
  o.wait_for_stop = std::chrono::seconds(10);
  return o;
}

MigrationPoll PollUntilDone(DiskMigrator& m, const v1::Allocation& a) {
  MigrationPoll p;
  testing::WaitFor([&] {
    p = m.Poll(a);
    return p.done;
  });
  return p;
}

TEST_F(DiskMigrationTest, TheMigratorWaitsForThePreviousAllocationToStopThenMovesItsData) {
  FakeSource src;
  src.dir = dir_.path() + "/old";
  FillDisk(src.dir);
  src.running_for = 5;
  DiskMigrator m(dir_.path(), src.Make(), nullptr, Quick());
  MigrationPoll first = m.Poll(Replacement());
  EXPECT_FALSE(first.done);
  MigrationPoll p = PollUntilDone(m, Replacement());
  ASSERT_TRUE(p.done);
  EXPECT_TRUE(p.migrated) << p.message;
  EXPECT_GE(src.asked.load(), 6) << "asked again while the previous allocation ran";
  std::string shared = AllocRunner::AllocDir(dir_.path(), "new-alloc-1") + "/_shared";
  EXPECT_EQ(testing::Slurp(shared + "/note"), "hello\n");
  EXPECT_FALSE(std::filesystem::exists(shared + ".migrating"));
  // Told once; a later poll (a restarted agent) finds the disk in place.
  MigrationPoll again = PollUntilDone(m, Replacement());
  EXPECT_TRUE(again.migrated);
  EXPECT_NE(again.message.find("in place"), std::string::npos) << again.message;
}

TEST_F(DiskMigrationTest, ANodeThatStaysUnreachableIsGivenUpAndTheTasksStartEmpty) {
  FakeSource src;
  src.dir = dir_.path() + "/old";
  FillDisk(src.dir);
  src.down_for = 1000000;
  DiskMigrator m(dir_.path(), src.Make(), nullptr, Quick());
  MigrationPoll p = PollUntilDone(m, Replacement());
  ASSERT_TRUE(p.done);
  EXPECT_FALSE(p.migrated);
  EXPECT_NE(p.message.find("node n1 is down"), std::string::npos) << p.message;
  EXPECT_NE(p.message.find("empty"), std::string::npos) << p.message;
  EXPECT_FALSE(
      std::filesystem::exists(AllocRunner::AllocDir(dir_.path(), "new-alloc-1") + "/_shared"));
}

TEST_F(DiskMigrationTest, ADiskOverTheLimitOrGoneIsNotMigrated) {
  FakeSource src;
  src.dir = dir_.path() + "/old";
  FillDisk(src.dir);
  ASSERT_TRUE(MakeDirs(src.dir + "/big").ok());
  WriteFile(src.dir + "/big/blob", std::string(1200 * 1024, 'b'));  // 1.2 MiB over a 1 MiB size
  {
    DiskMigrator m(dir_.path(), src.Make(), nullptr, Quick());
    MigrationPoll p = PollUntilDone(m, Replacement(/*size_mib=*/1));
    EXPECT_FALSE(p.migrated);
    EXPECT_NE(p.message.find("ephemeral_disk.size"), std::string::npos) << p.message;
  }
  src.gone = true;
  DiskMigrator m(dir_.path(), src.Make(), nullptr, Quick());
  MigrationPoll p = PollUntilDone(m, Replacement());
  EXPECT_FALSE(p.migrated);
  EXPECT_NE(p.message.find("collected"), std::string::npos) << p.message;
  EXPECT_EQ(MigrationLimitBytes(Replacement(0).task_group().ephemeral_disk()), int64_t{1} << 30);
}

TEST_F(DiskMigrationTest, AStreamCutShortLeavesNoHalfDisk) {
  FakeSource src;
  src.dir = dir_.path() + "/old";
  FillDisk(src.dir);
  DiskSource s = src.Make();
  s.fetch = [&](const std::string&, const std::function<bool(std::string_view)>& on_data) {
    std::string whole = Archive(src.dir);
    on_data(std::string_view(whole).substr(0, whole.size() / 2));
    return Status::Ok();  // the connection ended "cleanly" halfway
  };
  DiskMigrator m(dir_.path(), std::move(s), nullptr, Quick());
  MigrationPoll p = PollUntilDone(m, Replacement());
  EXPECT_FALSE(p.migrated);
  EXPECT_NE(p.message.find("incomplete"), std::string::npos) << p.message;
  std::string alloc_dir = AllocRunner::AllocDir(dir_.path(), "new-alloc-1");
  EXPECT_FALSE(std::filesystem::exists(alloc_dir + "/_shared"));
  EXPECT_FALSE(std::filesystem::exists(alloc_dir + "/_shared.migrating"));
}

HttpRequest Get(const std::string& target, const std::string& credential) {
  HttpRequest r;
  r.method = "GET";
  r.target = target;
  EXPECT_TRUE(ParseTarget(target, &r.path, &r.query).ok());
  if (!credential.empty()) r.headers[kNodeAuthHeader] = credential;
  return r;
}

TEST_F(DiskMigrationTest, TheAgentServesAStoppedAllocationsDiskToTheMastersOnly) {
  const std::string secret = NewSecret();
  std::atomic<bool> running{true};
  auto router = MakeAgentRouter(
      dir_.path(), [] { return std::string("n1"); }, nullptr, SecretHash(secret), nullptr,
      [&](const std::string& id) { return id == "p1" && running.load(); });
  FillDisk(AllocRunner::AllocDir(dir_.path(), "p1") + "/_shared");
  const std::string master = SecretHash(secret);
  EXPECT_EQ(router->Handle(Get("/v1/allocations/p1/ephemeral-disk", "")).status, 403);
  EXPECT_EQ(router->Handle(Get("/v1/allocations/p1/ephemeral-disk", SecretHash("other"))).status,
            403);
  EXPECT_EQ(router->Handle(Get("/v1/allocations/p2/ephemeral-disk", master)).status, 404);
  EXPECT_EQ(router->Handle(Get("/v1/allocations/..%2Fx/ephemeral-disk", master)).status, 404);
  auto busy = router->Handle(Get("/v1/allocations/p1/ephemeral-disk?check=true", master));
  EXPECT_EQ(busy.status, 409) << busy.body;
  running = false;
  auto check = router->Handle(Get("/v1/allocations/p1/ephemeral-disk?check=true", master));
  ASSERT_EQ(check.status, 200) << check.body;
  v1::PreviousDiskResponse size;
  ASSERT_TRUE(FromJson(check.body, &size).ok());
  EXPECT_EQ(size.bytes(), 200003 + 6);
  auto tar = router->Handle(Get("/v1/allocations/p1/ephemeral-disk", master));
  ASSERT_EQ(tar.status, 200);
  ASSERT_TRUE(tar.stream);
  std::string archive;
  tar.stream([&](std::string_view piece) {
    archive.append(piece);
    return true;
  });
  std::string dst = dir_.path() + "/dst";
  ASSERT_TRUE(MakeDirs(dst).ok());
  Status st = Extract(archive, dst);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(testing::Slurp(dst + "/note"), "hello\n");
}

}  // namespace
}  // namespace orch::agent
