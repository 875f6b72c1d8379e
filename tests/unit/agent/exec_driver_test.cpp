#include "agent/drivers/exec_driver.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include "agent/files.h"
#include "test_util.h"

namespace orch::agent {
namespace {

using testing::Slurp;
using testing::TempDir;
using testing::WaitFor;

class ExecDriverTest : public ::testing::Test {
 protected:
  TaskSpec Spec(const std::string& task, const std::string& command,
                std::vector<std::string> args) {
    TaskSpec s;
    s.alloc_id = "alloc1";
    s.task = task;
    s.command = command;
    s.args = std::move(args);
    s.env = {{"PATH", "/usr/bin:/bin"}, {"GREETING", "hi"}};
    s.task_dir = dir_.path() + "/allocs/alloc1/" + task;
    s.stdout_path = s.task_dir + ".stdout";
    s.stderr_path = s.task_dir + ".stderr";
    EXPECT_TRUE(MakeDirs(s.task_dir).ok());
    return s;
  }

  // Waits for the task to exit and returns its final status.
  TaskStatus WaitExited(const std::string& id) {
    TaskStatus last;
    EXPECT_TRUE(WaitFor([&] {
      auto st = driver_.Inspect(id);
      if (!st.ok()) return false;
      last = *st;
      return !st->running();
    })) << "task "
        << id << " did not exit";
    return last;
  }

  void TearDown() override {
    // Whatever a failed test left running.
    for (const auto& id : driver_.List()) (void)driver_.Stop(id, std::chrono::milliseconds(0));
  }

  TempDir dir_;
  ExecDriver driver_;
};

TEST_F(ExecDriverTest, RunsCommandWithOutputInLogFilesAndExitCodeZero) {
  auto spec = Spec("hello", "/bin/sh", {"-c", "echo out $GREETING; echo err >&2; pwd"});
  auto h = driver_.Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_GT(h->pid(), 0);
  TaskStatus st = WaitExited(TaskId("alloc1", "hello"));
  EXPECT_TRUE(st.exit_known);
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(st.signal, 0);
  EXPECT_EQ(Slurp(spec.stdout_path), "out hi\n" + spec.task_dir + "\n");
  EXPECT_EQ(Slurp(spec.stderr_path), "err\n");
}

TEST_F(ExecDriverTest, ReportsNonZeroExitCode) {
  auto spec = Spec("fail", "/bin/sh", {"-c", "exit 3"});
  ASSERT_TRUE(driver_.Start(spec).ok());
  TaskStatus st = WaitExited(TaskId("alloc1", "fail"));
  EXPECT_EQ(st.exit_code, 3);
  EXPECT_EQ(st.signal, 0);
}

TEST_F(ExecDriverTest, LogsAreAppendedAcrossRuns) {
  auto spec = Spec("twice", "/bin/echo", {"line"});
  ASSERT_TRUE(driver_.Start(spec).ok());
  WaitExited(TaskId("alloc1", "twice"));
  driver_.Forget(TaskId("alloc1", "twice"));
  ASSERT_TRUE(driver_.Start(spec).ok());
  WaitExited(TaskId("alloc1", "twice"));
  EXPECT_EQ(Slurp(spec.stdout_path), "line\nline\n");
}

TEST_F(ExecDriverTest, MissingCommandFailsToStartWithClearMessage) {
  auto h = driver_.Start(Spec("missing", "/nonexistent/server", {}));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("/nonexistent/server"), std::string::npos)
      << h.status().message();
  EXPECT_NE(h.status().message().find("No such file"), std::string::npos) << h.status().message();

  auto bare = driver_.Start(Spec("bare", "no-such-command-xyz", {}));
  ASSERT_FALSE(bare.ok());
  EXPECT_NE(bare.status().message().find("not found in PATH"), std::string::npos)
      << bare.status().message();
  EXPECT_TRUE(driver_.List().empty());
}

TEST_F(ExecDriverTest, NonExecutableCommandFailsToStart) {
  std::string file = dir_.path() + "/script.sh";
  ASSERT_TRUE(WriteFileAtomic(file, "#!/bin/sh\necho hi\n").ok());
  chmod(file.c_str(), 0644);
  auto h = driver_.Start(Spec("noexec", file, {}));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("not executable"), std::string::npos) << h.status().message();
}

TEST_F(ExecDriverTest, ExecFailureInChildIsReported) {
  // Executable bit set but not a valid binary or script: execve fails with
  // ENOEXEC in the child and the pipe carries it back.
  std::string file = dir_.path() + "/garbage";
  ASSERT_TRUE(WriteFileAtomic(file, std::string("\x7f"
                                                "ELF garbage",
                                                11))
                  .ok());
  chmod(file.c_str(), 0755);
  auto h = driver_.Start(Spec("garbage", file, {}));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("exec " + file), std::string::npos) << h.status().message();
  EXPECT_TRUE(testing::ZombieChildren().empty());
}

TEST_F(ExecDriverTest, StopSendsTermToTheProcessGroup) {
  auto spec = Spec("sleeper", "/bin/sh", {"-c", "echo ready; sleep 9002.5"});
  ASSERT_TRUE(driver_.Start(spec).ok());
  ASSERT_TRUE(WaitFor([&] { return Slurp(spec.stdout_path) == "ready\n"; }));
  ASSERT_TRUE(driver_.Stop(TaskId("alloc1", "sleeper"), std::chrono::seconds(60)).ok());
  TaskStatus st = WaitExited(TaskId("alloc1", "sleeper"));
  EXPECT_EQ(st.signal, SIGTERM);
  EXPECT_TRUE(st.stop_requested);
  EXPECT_TRUE(testing::ProcessesWithArg("sleep 9002.5").empty());
}

TEST_F(ExecDriverTest, StopEscalatesToKillWhenTermIsIgnored) {
  auto spec = Spec("stubborn", "/bin/sh",
                   {"-c", "trap 'echo got TERM' TERM; echo ready; while :; do sleep 0.05; done"});
  ASSERT_TRUE(driver_.Start(spec).ok());
  ASSERT_TRUE(WaitFor([&] { return Slurp(spec.stdout_path) == "ready\n"; }));
  ASSERT_TRUE(driver_.Stop(TaskId("alloc1", "stubborn"), std::chrono::milliseconds(300)).ok());
  TaskStatus st = WaitExited(TaskId("alloc1", "stubborn"));
  EXPECT_EQ(st.signal, SIGKILL);
  EXPECT_NE(Slurp(spec.stdout_path).find("got TERM"), std::string::npos);
}

TEST_F(ExecDriverTest, TermReachesTaskEvenWhenTheAgentBlocksIt) {
  // The agent blocks SIGTERM in all its threads (BlockShutdownSignals); the
  // task must not inherit that mask.
  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, &old);
  auto spec = Spec("masked", "/bin/sleep", {"9001.5"});
  auto h = driver_.Start(spec);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(driver_.Stop(TaskId("alloc1", "masked"), std::chrono::seconds(60)).ok());
  TaskStatus st = WaitExited(TaskId("alloc1", "masked"));
  EXPECT_EQ(st.signal, SIGTERM);
}

TEST_F(ExecDriverTest, LeavesNoZombies) {
  for (int i = 0; i < 3; ++i) {
    std::string name = "t" + std::to_string(i);
    ASSERT_TRUE(
        driver_.Start(Spec(name, "/bin/sh", {"-c", "sleep 9001.5 & exit " + std::to_string(i)}))
            .ok());
  }
  ASSERT_TRUE(driver_.Start(Spec("killed", "/bin/sleep", {"9001.5"})).ok());
  ASSERT_TRUE(driver_.Stop(TaskId("alloc1", "killed"), std::chrono::milliseconds(0)).ok());
  for (int i = 0; i < 3; ++i) WaitExited(TaskId("alloc1", "t" + std::to_string(i)));
  WaitExited(TaskId("alloc1", "killed"));
  EXPECT_TRUE(WaitFor([] { return testing::ZombieChildren().empty(); }));
  // Leave no stray sleepers behind for the other tests.
  for (pid_t p : testing::ProcessesWithArg("sleep 9001.5")) kill(p, SIGKILL);
}

TEST_F(ExecDriverTest, StatsReportMemoryOfRunningTask) {
  auto spec = Spec("stats", "/bin/sleep", {"9001.5"});
  ASSERT_TRUE(driver_.Start(spec).ok());
  auto u = driver_.Stats(TaskId("alloc1", "stats"));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_GT(u->memory_bytes, 0);
  ASSERT_TRUE(driver_.Stop(TaskId("alloc1", "stats"), std::chrono::milliseconds(0)).ok());
  WaitExited(TaskId("alloc1", "stats"));
}

TEST_F(ExecDriverTest, NotifiesWhenATaskExits) {
  std::atomic<int> events{0};
  driver_.SetEventCallback([&] { events++; });
  ASSERT_TRUE(driver_.Start(Spec("quick", "/bin/true", {})).ok());
  EXPECT_TRUE(WaitFor([&] { return events.load() > 0; }));
  driver_.SetEventCallback(nullptr);
}

}  // namespace
}  // namespace orch::agent
