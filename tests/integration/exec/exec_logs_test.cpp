// The exec driver's output files: rotation by size with a bounded number
// of kept files, Logs() over the kept files (everything, tail, per stream)
// and Logs() with follow, across rotations, until the task exits. Needs
// neither root nor cgroups (the driver runs with cgroups off). Each runs with
// the orch-exec-shim program as the supervisor and with a forked one.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <mutex>
#include <thread>

#include "agent/drivers/exec_driver.h"
#include "agent/files.h"
#include "test_util.h"

namespace orch::agent {
namespace {

using testing::Slurp;
using testing::TempDir;

bool Exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

int64_t Size(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 ? st.st_size : -1;
}

// "line 0 ...\nline 1 ...\n" as the task prints it.
std::string Lines(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += "line " + std::to_string(i) + " abcdefghijklmnopqrstuvwxyz\n";
  return out;
}

std::string PrintLines(int n, const std::string& pause = "") {
  return "i=0; while [ $i -lt " + std::to_string(n) +
         " ]; do echo \"line $i abcdefghijklmnopqrstuvwxyz\"; " + pause + "i=$((i+1)); done";
}

class ExecLogsTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<ExecDriver> MakeDriver(int64_t max_bytes, int max_files) {
    ExecDriverOptions o;
    o.cgroups.mode = "none";
    o.log_max_bytes = max_bytes;
    o.log_max_files = max_files;
    // The supervisor as its own program, or as a fork of this process.
    o.shim_path = GetParam() == "shim_binary" ? ORCH_EXEC_SHIM_PATH : "";
    return std::make_unique<ExecDriver>(o);
  }

  TaskSpec Spec(const std::string& task, const std::string& script) {
    TaskSpec s;
    s.alloc_id = "logs1";
    s.task = task;
    s.command = "/bin/sh";
    s.args = {"-c", script};
    s.env = {{"PATH", "/usr/bin:/bin"}};
    s.task_dir = dir_.path() + "/" + task;
    s.stdout_path = s.task_dir + ".stdout";
    s.stderr_path = s.task_dir + ".stderr";
    EXPECT_TRUE(MakeDirs(s.task_dir).ok());
    return s;
  }

  // Collected output per stream.
  struct Collected {
    std::mutex mu;
    std::string out, err;
    LogSink Sink() {
      return [this](LogStream s, std::string_view data) {
        std::lock_guard lk(mu);
        (s == LogStream::kStdout ? out : err).append(data);
        return true;
      };
    }
  };

  TempDir dir_;
};

TEST_P(ExecLogsTest, OutputIsRotatedBySizeKeepingOnlyTheNewestFiles) {
  auto driver = MakeDriver(1000, 2);
  TaskSpec s = Spec("rot", PrintLines(200) + "; echo oops >&2");
  ASSERT_TRUE(driver->Start(s).ok());
  auto st = driver->Wait(TaskId("logs1", "rot"), std::chrono::seconds(30));
  ASSERT_TRUE(st.ok());
  ASSERT_FALSE(st->running());
  EXPECT_EQ(st->exit_code, 0);

  std::string p = s.stdout_path;
  ASSERT_TRUE(Exists(p + ".1"));
  ASSERT_TRUE(Exists(p + ".2"));
  EXPECT_FALSE(Exists(p + ".3")) << "more files kept than configured";
  for (const auto& f : {p, p + ".1", p + ".2"}) EXPECT_LE(Size(f), 1000) << f;
  EXPECT_EQ(Size(p + ".1"), 1000);
  EXPECT_EQ(Size(p + ".2"), 1000);
  // What is kept is the newest output, contiguous, oldest file first.
  std::string kept = Slurp(p + ".2") + Slurp(p + ".1") + Slurp(p);
  std::string all = Lines(200);
  ASSERT_LT(kept.size(), all.size());
  EXPECT_EQ(kept, all.substr(all.size() - kept.size()));
  // stderr has its own file, not rotated (small).
  EXPECT_EQ(Slurp(s.stderr_path), "oops\n");
  EXPECT_FALSE(Exists(s.stderr_path + ".1"));

  // Logs() returns the kept output in order, per stream, or its tail.
  Collected c;
  ASSERT_TRUE(driver->Logs(TaskId("logs1", "rot"), LogOptions{}, c.Sink()).ok());
  EXPECT_EQ(c.out, kept);
  EXPECT_EQ(c.err, "oops\n");
  Collected tail;
  LogOptions only_out;
  only_out.stderr_stream = false;
  only_out.tail_bytes = 1500;  // spans the live file and the one before
  ASSERT_TRUE(driver->Logs(TaskId("logs1", "rot"), only_out, tail.Sink()).ok());
  EXPECT_EQ(tail.out, kept.substr(kept.size() - 1500));
  EXPECT_EQ(tail.err, "");
}

TEST_P(ExecLogsTest, AppendsToExistingOutputBelowTheLimit) {
  auto driver = MakeDriver(1 << 20, 3);
  TaskSpec s = Spec("twice", "echo run");
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(driver->Start(s).ok());
    ASSERT_TRUE(driver->Wait(TaskId("logs1", "twice"), std::chrono::seconds(30)).ok());
    driver->Forget(TaskId("logs1", "twice"));
  }
  EXPECT_EQ(Slurp(s.stdout_path), "run\nrun\n");
  EXPECT_FALSE(Exists(s.stdout_path + ".1"));
}

TEST_P(ExecLogsTest, FollowStreamsEverythingAcrossRotationsUntilTheTaskExits) {
  // Many kept files, so nothing is dropped whatever the reader's pace.
  auto driver = MakeDriver(200, 500);
  TaskSpec s = Spec("follow", "echo begin; " + PrintLines(40, "sleep 0.02; ") + "; echo end >&2");
  ASSERT_TRUE(driver->Start(s).ok());
  Collected c;
  LogOptions follow;
  follow.follow = true;
  // Returns by itself once the task has exited and its output is read.
  Status st = driver->Logs(TaskId("logs1", "follow"), follow, c.Sink());
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(c.out, "begin\n" + Lines(40));
  EXPECT_EQ(c.err, "end\n");
  EXPECT_TRUE(Exists(s.stdout_path + ".1")) << "the output should have been rotated";
  auto done = driver->Inspect(TaskId("logs1", "follow"));
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(done->running());
}

TEST_P(ExecLogsTest, FollowStopsWhenTheSinkSaysSo) {
  auto driver = MakeDriver(1 << 20, 1);
  TaskSpec s = Spec("endless", "while :; do echo tick; sleep 0.05; done");
  ASSERT_TRUE(driver->Start(s).ok());
  int calls = 0;
  LogOptions follow;
  follow.follow = true;
  ASSERT_TRUE(driver
                  ->Logs(TaskId("logs1", "endless"), follow,
                         [&](LogStream, std::string_view) { return ++calls < 3; })
                  .ok());
  EXPECT_EQ(calls, 3);
  auto st = driver->Inspect(TaskId("logs1", "endless"));
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->running());
  ASSERT_TRUE(driver->Stop(TaskId("logs1", "endless"), std::chrono::milliseconds(0)).ok());
  ASSERT_TRUE(driver->Wait(TaskId("logs1", "endless"), std::chrono::seconds(30)).ok());
}

TEST_P(ExecLogsTest, LogsOfAnUnknownTaskIsNotFound) {
  auto driver = MakeDriver(1000, 1);
  Collected c;
  EXPECT_EQ(driver->Logs("nope/none", LogOptions{}, c.Sink()).code(), StatusCode::kNotFound);
}

TEST_P(ExecLogsTest, RecoveredTaskLogsAreFoundNextToItsExitRecord) {
  auto first = MakeDriver(1 << 20, 2);
  TaskSpec s = Spec("rec", "echo hello; sleep 30");
  auto h = first->Start(s);
  ASSERT_TRUE(h.ok());
  first.reset();
  auto second = MakeDriver(1 << 20, 2);
  ASSERT_TRUE(second->Recover(*h).ok());
  Collected c;
  ASSERT_TRUE(testing::WaitFor([&] {
    Collected once;
    EXPECT_TRUE(second->Logs(TaskId("logs1", "rec"), LogOptions{}, once.Sink()).ok());
    return once.out == "hello\n";
  }));
  ASSERT_TRUE(second->Stop(TaskId("logs1", "rec"), std::chrono::milliseconds(0)).ok());
  ASSERT_TRUE(second->Wait(TaskId("logs1", "rec"), std::chrono::seconds(30)).ok());
}

INSTANTIATE_TEST_SUITE_P(Supervisors, ExecLogsTest, ::testing::Values("shim_binary", "forked"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace orch::agent
