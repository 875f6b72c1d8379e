// The exec driver in real cgroups: limits written and read back from the
// cgroup files (v1, and v2 where the unified hierarchy holds cpu and
// memory), usage from the group, a task past its memory limit OOM-killed
// and reported so (by the driver and in the allocation's task state), the
// group removed after the task, and adoption by a new driver instance
// (Discover + Recover) with no duplicate. Skips without root or cgroups.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "agent/alloc_runner.h"
#include "agent/cgroups/cgroups.h"
#include "agent/drivers/exec_driver.h"
#include "agent/files.h"
#include "agent/reconciler.h"
#include "agent/state_store.h"
#include "test_util.h"

namespace orch::agent {
namespace {

using testing::Slurp;
using testing::TempDir;
using testing::WaitFor;

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A parent of its own, so a real agent's groups and parallel tests never mix.
std::string TestParent() { return "orch-test-" + std::to_string(getpid()); }

class ExecCgroupsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to create cgroups";
    CgroupOptions o{TestParent(), GetParam()};
    auto probe = Cgroups::Open(o);
    if (!probe->enabled()) {
      GTEST_SKIP() << "cgroup " << GetParam() << " not usable here: " << probe->disabled_reason();
    }
    ExecDriverOptions opts;
    opts.cgroups = o;
    opts.shim_path = ORCH_EXEC_SHIM_PATH;
    driver_ = std::make_unique<ExecDriver>(opts);
    ASSERT_TRUE(driver_->cgroups().enabled());
  }

  void TearDown() override {
    if (driver_) {
      for (const auto& id : driver_->List()) (void)driver_->Stop(id, std::chrono::milliseconds(0));
      for (const auto& id : driver_->List()) (void)driver_->Wait(id, std::chrono::seconds(10));
    }
    driver_.reset();
    for (const char* c : {"memory", "cpu", "cpuacct", "pids", "unified"}) {
      rmdir(("/sys/fs/cgroup/" + std::string(c) + "/" + TestParent()).c_str());
    }
    rmdir(("/sys/fs/cgroup/" + TestParent()).c_str());
  }

  TaskSpec Spec(const std::string& alloc, const std::string& task, const std::string& command,
                std::vector<std::string> args) {
    TaskSpec s;
    s.alloc_id = alloc;
    s.task = task;
    s.command = command;
    s.args = std::move(args);
    s.env = {{"PATH", "/usr/bin:/bin"}};
    s.task_dir = dir_.path() + "/allocs/" + alloc + "/" + task;
    s.stdout_path = s.task_dir + ".stdout";
    s.stderr_path = s.task_dir + ".stderr";
    EXPECT_TRUE(MakeDirs(s.task_dir).ok());
    return s;
  }

  TaskStatus WaitExited(ExecDriver& d, const std::string& id) {
    auto st = d.Wait(id, std::chrono::seconds(30));
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    EXPECT_FALSE(st.ok() && st->running()) << id << " did not exit";
    return st.ok() ? *st : TaskStatus{};
  }

  std::string File(const std::string& cg, const std::string& controller, const std::string& f) {
    return Trim(Slurp(driver_->cgroups().FilePath(cg, controller, f)));
  }

  bool V1() const { return driver_->cgroups().mode() == CgroupMode::kV1; }

  TempDir dir_;
  std::unique_ptr<ExecDriver> driver_;
};

TEST_P(ExecCgroupsTest, LimitsAreWrittenToTheTasksCgroupAndTheTaskRunsInIt) {
  TaskSpec s = Spec("lim1", "web", "/bin/sleep", {"60"});
  s.cpu_millicores = 250;
  s.memory_mib = 64;
  auto h = driver_->Start(s);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  std::string cg = TestParent() + "/lim1/web";
  EXPECT_EQ(h->cgroup(), cg);
  if (V1()) {
    EXPECT_EQ(File(cg, "cpu", "cpu.shares"), "256");
    EXPECT_EQ(File(cg, "cpu", "cpu.cfs_period_us"), "100000");
    EXPECT_EQ(File(cg, "cpu", "cpu.cfs_quota_us"), "25000");
    EXPECT_EQ(File(cg, "memory", "memory.limit_in_bytes"), std::to_string(64 << 20));
  } else {
    EXPECT_EQ(File(cg, "cpu", "cpu.max"), "25000 100000");
    EXPECT_EQ(File(cg, "cpu", "cpu.weight"), std::to_string(1 + ((256 - 2) * 9999) / 262142));
    EXPECT_EQ(File(cg, "memory", "memory.max"), std::to_string(64 << 20));
  }
  // The task (not its supervisor) is in the group, in every hierarchy.
  for (const char* c : {"cpu", "cpuacct", "memory"}) {
    std::string path = driver_->cgroups().FilePath(cg, c, "cgroup.procs");
    EXPECT_EQ(Trim(Slurp(path)), std::to_string(h->pid())) << path;
  }
  auto pids = driver_->cgroups().Pids(cg);
  ASSERT_TRUE(pids.ok());
  EXPECT_EQ(std::count(pids->begin(), pids->end(), h->shim_pid()), 0);

  ASSERT_TRUE(driver_->Stop(TaskId("lim1", "web"), std::chrono::seconds(5)).ok());
  TaskStatus st = WaitExited(*driver_, TaskId("lim1", "web"));
  EXPECT_EQ(st.signal, SIGTERM);
  EXPECT_FALSE(st.oom_killed);
  // Removed once the task is reaped, with its allocation's group.
  EXPECT_FALSE(driver_->cgroups().Exists(cg));
  EXPECT_FALSE(driver_->cgroups().Exists(TestParent() + "/lim1"));
}

TEST_P(ExecCgroupsTest, StatsComeFromTheWholeGroup) {
  // The shell's busy child does the work: only a group sees it.
  TaskSpec s = Spec("use1", "busy", "/bin/sh",
                    {"-c", "sh -c 'while :; do :; done' & sh -c 'while :; do :; done' & wait"});
  s.cpu_millicores = 500;
  ASSERT_TRUE(driver_->Start(s).ok());
  std::string id = TaskId("use1", "busy");
  TaskUsage u;
  EXPECT_TRUE(WaitFor([&] {
    auto r = driver_->Stats(id);
    if (r.ok()) u = *r;
    return r.ok() && u.cpu_time > std::chrono::milliseconds(200) && u.memory_bytes > 0;
  })) << "cpu "
      << u.cpu_time.count() << "ns, memory " << u.memory_bytes;
  ASSERT_TRUE(driver_->Stop(id, std::chrono::milliseconds(0)).ok());
  WaitExited(*driver_, id);
}

TEST_P(ExecCgroupsTest, TaskPastItsMemoryLimitIsKilledAndReportedAsOom) {
  TaskSpec s = Spec("oom1", "hog", ORCH_MEMHOG_PATH, {});
  s.memory_mib = 32;
  auto h = driver_->Start(s);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  TaskStatus st = WaitExited(*driver_, TaskId("oom1", "hog"));
  EXPECT_TRUE(st.oom_killed);
  EXPECT_EQ(st.signal, SIGKILL);
  EXPECT_EQ(st.message, "OOM killed: exceeded memory limit of 32 MiB");
  EXPECT_FALSE(driver_->cgroups().Exists(h->cgroup()));
}

TEST_P(ExecCgroupsTest, OomKilledTaskFailsItsAllocationWithTheReason) {
  v1::Allocation a;
  a.set_id("oom2");
  a.set_job_id("hog");
  a.set_group("hog");
  a.set_desired_status(v1::Allocation::RUN);
  auto* t = a.mutable_task_group()->add_tasks();
  t->set_name("hog");
  t->set_driver("exec");
  t->set_command(ORCH_MEMHOG_PATH);
  t->mutable_resources()->set_memory(32);
  RunnerContext ctx;
  ctx.data_dir = dir_.path();
  ctx.drivers = {{"exec", driver_.get()}};
  AllocRunner runner(pb::AllocRecord{});
  runner.SetAlloc(a);
  v1::TaskState seen;
  // Whatever the restart policy does next, the first death is an OOM kill.
  EXPECT_TRUE(WaitFor(
      [&] {
        runner.Step(AllocRunner::Want::kRun, ctx);
        v1::AllocationUpdate u = runner.Update();
        for (const auto& ts : u.task_states()) {
          if (ts.oom_killed()) seen = ts;
        }
        return seen.oom_killed();
      },
      std::chrono::seconds(30)));
  EXPECT_TRUE(seen.failed());
  EXPECT_EQ(seen.message(), "OOM killed: exceeded memory limit of 32 MiB");
  runner.Step(AllocRunner::Want::kStop, ctx);
  for (const auto& id : driver_->List()) (void)driver_->Wait(id, std::chrono::seconds(10));
}

TEST_P(ExecCgroupsTest, NewDriverDiscoversAndAdoptsTheTaskWithoutDuplicate) {
  TaskSpec s = Spec("adopt1", "web", "/bin/sh",
                    {"-c", "trap 'exit 3' TERM; echo started; while :; do sleep 0.1; done"});
  s.memory_mib = 64;
  auto h = driver_->Start(s);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  // Its TERM trap is set once it says so.
  ASSERT_TRUE(WaitFor([&] { return Slurp(s.stdout_path) == "started\n"; }));
  // The agent is gone: a new driver with no records finds the task by its cgroup.
  ExecDriverOptions opts;
  opts.cgroups = CgroupOptions{TestParent(), GetParam()};
  opts.shim_path = ORCH_EXEC_SHIM_PATH;
  driver_.reset();
  ExecDriver second(opts);
  EXPECT_TRUE(second.List().empty());
  std::vector<pb::TaskHandle> found = second.Discover();
  ASSERT_EQ(found.size(), 1u);
  const pb::TaskHandle& d = found[0];
  EXPECT_EQ(d.alloc_id(), "adopt1");
  EXPECT_EQ(d.task(), "web");
  EXPECT_EQ(d.pid(), h->pid());
  EXPECT_EQ(d.start_ticks(), h->start_ticks());
  EXPECT_EQ(d.shim_pid(), h->shim_pid());
  EXPECT_EQ(d.exit_file(), h->exit_file());
  EXPECT_EQ(d.cgroup(), h->cgroup());

  ASSERT_TRUE(second.Recover(d).ok());
  std::string id = TaskId("adopt1", "web");
  auto st = second.Inspect(id);
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->running());
  // Starting it again is refused by the driver that tracks it.
  auto again = second.Start(s);
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists) << again.status().ToString();
  // A driver without any record (the agent lost its state) adopts the run
  // instead of starting a second one.
  {
    ExecDriver third(opts);
    auto adopted = third.Start(s);
    ASSERT_TRUE(adopted.ok()) << adopted.status().ToString();
    EXPECT_EQ(adopted->pid(), h->pid());
    EXPECT_EQ(adopted->exit_file(), h->exit_file());
    auto st3 = third.Inspect(id);
    ASSERT_TRUE(st3.ok());
    EXPECT_TRUE(st3->running());
  }
  auto pids = second.cgroups().Pids(h->cgroup());
  ASSERT_TRUE(pids.ok());
  EXPECT_EQ(std::count(pids->begin(), pids->end(), h->pid()), 1);

  // Stopped through the adopting driver, with the real exit status (the
  // shim's record, found through the discovered handle).
  ASSERT_TRUE(second.Stop(id, std::chrono::seconds(10)).ok());
  auto done = second.Wait(id, std::chrono::seconds(30));
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(done->running());
  EXPECT_TRUE(done->exit_known);
  EXPECT_EQ(done->exit_code, 3);
  EXPECT_FALSE(second.cgroups().Exists(h->cgroup()));
  EXPECT_TRUE(second.Discover().empty());
  EXPECT_EQ(Slurp(s.stdout_path), "started\n");
}

TEST_P(ExecCgroupsTest, AgentThatLostItsStateAdoptsTheRunningTaskInsteadOfStartingAnother) {
  v1::Allocation a;
  a.set_id("lost2");
  a.set_job_id("web");
  a.set_group("web");
  a.set_desired_status(v1::Allocation::RUN);
  auto* t = a.mutable_task_group()->add_tasks();
  t->set_name("web");
  t->set_driver("exec");
  t->set_command("/bin/sleep");
  t->add_args("600");
  t->mutable_resources()->set_memory(32);
  auto run_until_running = [&](ExecDriver& d, StateStore& store) {
    RunnerContext ctx;
    ctx.data_dir = dir_.path();
    ctx.drivers = {{"exec", &d}};
    auto r = std::make_unique<Reconciler>(std::move(ctx), &store);
    EXPECT_TRUE(r->Restore().ok());
    r->SetDesired({a});
    int pid = 0;
    EXPECT_TRUE(WaitFor([&] {
      for (const auto& u : r->Reconcile()) {
        if (u.client_status() == v1::Allocation::RUNNING) pid = u.task_states(0).pid();
      }
      return pid != 0;
    }));
    return pid;
  };
  StateStore first_store(dir_.path() + "/first");
  ASSERT_TRUE(first_store.Init().ok());
  int pid = run_until_running(*driver_, first_store);
  ASSERT_GT(pid, 0);
  // A new agent whose state is gone (another state dir), same tasks dir.
  ExecDriverOptions opts;
  opts.cgroups = CgroupOptions{TestParent(), GetParam()};
  opts.shim_path = ORCH_EXEC_SHIM_PATH;
  driver_.reset();
  driver_ = std::make_unique<ExecDriver>(opts);
  StateStore second_store(dir_.path() + "/second");
  ASSERT_TRUE(second_store.Init().ok());
  EXPECT_EQ(run_until_running(*driver_, second_store), pid);
  auto pids = driver_->cgroups().Pids(TestParent() + "/lost2/web");
  ASSERT_TRUE(pids.ok());
  EXPECT_EQ(*pids, std::vector<pid_t>{pid}) << "one task, the first one";
}

INSTANTIATE_TEST_SUITE_P(Versions, ExecCgroupsTest, ::testing::Values("v1", "v2"),
                         [](const auto& info) { return info.param; });

TEST(ExecWithoutCgroups, TasksRunWithoutLimitsAndStatsComeFromProc) {
  TempDir dir;
  ExecDriverOptions opts;
  opts.cgroups.mode = "none";
  ExecDriver driver(opts);
  EXPECT_FALSE(driver.cgroups().enabled());
  TaskSpec s;
  s.alloc_id = "nocg";
  s.task = "t";
  s.command = "/bin/sleep";
  s.args = {"30"};
  s.task_dir = dir.path() + "/t";
  s.stdout_path = s.task_dir + ".stdout";
  s.stderr_path = s.task_dir + ".stderr";
  s.memory_mib = 16;
  ASSERT_TRUE(MakeDirs(s.task_dir).ok());
  auto h = driver.Start(s);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->cgroup(), "");
  auto u = driver.Stats(TaskId("nocg", "t"));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_GT(u->memory_bytes, 0);
  EXPECT_TRUE(driver.Discover().empty());
  ASSERT_TRUE(driver.Stop(TaskId("nocg", "t"), std::chrono::seconds(5)).ok());
  auto st = driver.Wait(TaskId("nocg", "t"), std::chrono::seconds(30));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->signal, SIGTERM);
}

TEST(CgroupsOpen, UnknownModeIsRefusedWithTheReason) {
  auto cg = Cgroups::Open(CgroupOptions{"orch", "v3"});
  EXPECT_FALSE(cg->enabled());
  EXPECT_NE(cg->disabled_reason().find("unknown cgroup mode \"v3\""), std::string::npos)
      << cg->disabled_reason();
}

}  // namespace
}  // namespace orch::agent
