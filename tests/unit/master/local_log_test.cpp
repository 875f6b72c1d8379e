#include "master/log/local_log.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"

namespace orch::master {
namespace {

TEST(LocalLogTest, AcknowledgedWritesSurviveRestart) {
  std::string dir = testing::TempDir("d");
  {
    auto store = std::move(*StateStore::Open(dir + "/state.db"));
    auto log = std::move(*LocalLog::Open(dir + "/raft.db", "m1", store.get()));
    for (int i = 0; i < 5; ++i) {
      auto idx = log->Propose(testing::RegisterJobCmd(testing::SampleJob("j" + std::to_string(i), 1), "e" + std::to_string(i)),
                              std::chrono::seconds(1));
      ASSERT_TRUE(idx.ok());
      EXPECT_EQ(*idx, static_cast<uint64_t>(i + 1));
    }
  }
  auto store = std::move(*StateStore::Open(dir + "/state.db"));
  auto log = std::move(*LocalLog::Open(dir + "/raft.db", "m1", store.get()));
  EXPECT_EQ(store->ListJobs().size(), 5u);
  EXPECT_EQ(*log->Propose(testing::RegisterNodeCmd(testing::SampleNode("n")), std::chrono::seconds(1)), 6u);
}

TEST(LocalLogTest, LostStateIsRebuiltFromTheLog) {
  std::string dir = testing::TempDir("d");
  {
    auto store = std::move(*StateStore::Open(dir + "/state.db"));
    auto log = std::move(*LocalLog::Open(dir + "/raft.db", "m1", store.get()));
    ASSERT_TRUE(log->Propose(testing::RegisterJobCmd(testing::SampleJob("web", 1), "e1"), std::chrono::seconds(1)).ok());
  }
  // As if the state machine had not applied (or lost) what the log holds.
  std::filesystem::remove(dir + "/state.db");
  std::filesystem::remove(dir + "/state.db-wal");
  std::filesystem::remove(dir + "/state.db-shm");
  auto store = std::move(*StateStore::Open(dir + "/state.db"));
  auto log = std::move(*LocalLog::Open(dir + "/raft.db", "m1", store.get()));
  EXPECT_TRUE(store->GetJob("web").ok());
  EXPECT_EQ(store->AppliedIndex(), 1u);
}

TEST(LocalLogTest, RefusedCommandReturnsItsOutcome) {
  std::string dir = testing::TempDir("d");
  auto store = std::move(*StateStore::Open(dir + "/state.db"));
  auto log = std::move(*LocalLog::Open(dir + "/raft.db", "m1", store.get()));
  v1::Command cmd;
  cmd.mutable_deregister_job()->set_job_id("ghost");
  auto r = log->Propose(cmd, std::chrono::seconds(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  log->Close();
  EXPECT_EQ(log->Propose(cmd, std::chrono::seconds(1)).status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace orch::master
