// The exec driver with isolation on (agent/drivers/exec_isolation.h): a
// task without `user` runs as nobody with no capabilities and no_new_privs,
// cannot write /root, sees only its own processes, cannot fork past its
// pids limit, keeps only allowed capabilities, and is refused root or an
// unlisted user with the reason; stop by SIGTERM, exit codes, leftovers and
// adoption by a new driver still work through the namespace's init. Each
// test runs with the orch-exec-shim binary and with a forked supervisor.
// Skips without root or cgroups.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "agent/drivers/exec_driver.h"
#include "agent/files.h"
#include "agent/health/probe.h"
#include "common/capabilities.h"
#include "test_util.h"

namespace orch::agent {
namespace {

using testing::Slurp;
using testing::TempDir;
using testing::WaitFor;

std::string TestParent() { return "orch-isolation-test-" + std::to_string(getpid()); }

// "CapEff:\t0000000000000400" -> the mask.
uint64_t StatusMask(const std::string& status, const std::string& key) {
  auto at = status.find(key + ":\t");
  if (at == std::string::npos) return ~uint64_t{0};
  return std::stoull(status.substr(at + key.size() + 2, 16), nullptr, 16);
}

// Processes running `sleep ARG` (not the shim, whose arguments hold it too).
int Sleepers(const std::string& arg) {
  int n = 0;
  for (pid_t p : testing::ProcessesWithArg(arg)) {
    if (Slurp("/proc/" + std::to_string(p) + "/cmdline") ==
        "sleep" + std::string(1, '\0') + arg + '\0')
      ++n;
  }
  return n;
}

class ExecIsolationTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (namespaces, users, cgroups)";
    driver_ = MakeDriver(false);
    if (!driver_->cgroups().enabled())
      GTEST_SKIP() << "cgroups: " << driver_->cgroups().disabled_reason();
  }

  std::unique_ptr<ExecDriver> MakeDriver(bool allow_root) {
    ExecDriverOptions o;
    o.cgroups = CgroupOptions{TestParent(), "auto"};
    o.shim_path = GetParam() == "shim_binary" ? ORCH_EXEC_SHIM_PATH : "";
    o.isolate = true;
    o.users.default_user = "nobody";
    o.users.allow_root = allow_root;
    o.users.allowed_caps = DefaultCapabilities();
    o.pids_limit = 64;
    return std::make_unique<ExecDriver>(o);
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

  TaskSpec Spec(const std::string& task, const std::string& script) {
    TaskSpec s;
    s.alloc_id = "iso1";
    s.task = task;
    s.command = "/bin/sh";
    s.args = {"-c", script};
    s.env = {{"PATH", "/usr/bin:/bin"}};
    s.task_dir = dir_.path() + "/allocs/iso1/" + task;
    s.stdout_path = s.task_dir + ".stdout";
    s.stderr_path = s.task_dir + ".stderr";
    EXPECT_TRUE(MakeDirs(s.task_dir).ok());
    return s;
  }

  TaskStatus RunToEnd(ExecDriver& d, const TaskSpec& spec) {
    auto h = d.Start(spec);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    TaskStatus last;
    EXPECT_TRUE(WaitFor([&] {
      auto st = d.Inspect(TaskId(spec.alloc_id, spec.task));
      if (!st.ok()) return false;
      last = *st;
      return !st->running();
    }));
    return last;
  }

  TempDir dir_;
  std::unique_ptr<ExecDriver> driver_;
};

TEST_P(ExecIsolationTest, TaskWithoutUserRunsAsNobodyWithoutCapabilitiesAndWithNoNewPrivs) {
  auto spec = Spec("who", "id -u; id -g; cat /proc/self/status; exit 3");
  TaskStatus st = RunToEnd(*driver_, spec);
  EXPECT_EQ(st.exit_code, 3) << "the task's own exit code, through its init";
  std::string out = Slurp(spec.stdout_path);
  EXPECT_EQ(out.substr(0, 12), "65534\n65534\n") << out;
  EXPECT_EQ(StatusMask(out, "CapEff"), 0u) << out;
  EXPECT_EQ(StatusMask(out, "CapPrm"), 0u) << out;
  EXPECT_EQ(StatusMask(out, "CapBnd"), 0u) << out;
  EXPECT_NE(out.find("NoNewPrivs:\t1"), std::string::npos) << out;
  struct stat sb;
  ASSERT_EQ(stat(spec.task_dir.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_uid, 65534u) << "the task dir is its user's";
  EXPECT_EQ(sb.st_mode & 0777, 0700u);
  ASSERT_EQ(stat(spec.stdout_path.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u) << "logs are the agent's";
}

TEST_P(ExecIsolationTest, CannotWriteRootButWritesItsOwnDirectory) {
  std::string marker = "/root/orch-isolation-" + std::to_string(getpid());
  auto spec = Spec("root", "echo mine > own.txt && touch " + marker + " ; echo rc=$?");
  TaskStatus st = RunToEnd(*driver_, spec);
  EXPECT_EQ(st.exit_code, 0);
  EXPECT_EQ(Slurp(spec.stdout_path), "rc=1\n");
  EXPECT_NE(Slurp(spec.stderr_path).find("Permission denied"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_EQ(Slurp(spec.task_dir + "/own.txt"), "mine\n");
}

TEST_P(ExecIsolationTest, SeesOnlyItsOwnProcesses) {
  // The shell is pid 2 (its init is 1); /proc lists the namespace only.
  auto spec = Spec("pids", "echo $$; ls /proc | grep -c '^[0-9]'; test -e /proc/" +
                               std::to_string(getpid()) + " && echo sees-host");
  TaskStatus st = RunToEnd(*driver_, spec);
  std::string out = Slurp(spec.stdout_path);
  EXPECT_EQ(out.substr(0, 2), "2\n") << out;
  int visible = std::stoi(out.substr(2));
  EXPECT_GE(visible, 2) << out;
  EXPECT_LE(visible, 5) << out;
  EXPECT_EQ(out.find("sees-host"), std::string::npos) << out;
}

TEST_P(ExecIsolationTest, CannotForkPastItsPidsLimit) {
  if (!driver_->cgroups().pids_enabled()) GTEST_SKIP() << "no pids controller";
  auto spec = Spec("forks", "i=0; while [ $i -lt 40 ]; do sleep 60 & i=$((i+1)); done; sleep 60");
  spec.pids_limit = 8;
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  std::string cg = driver_->cgroups().TaskCgroup("iso1", "forks");
  EXPECT_EQ(Slurp(driver_->cgroups().FilePath(cg, "pids", "pids.max")), "8\n");
  EXPECT_TRUE(WaitFor([&] { return Slurp(spec.stderr_path).find("fork") != std::string::npos; }))
      << "stderr: " << Slurp(spec.stderr_path);
  auto pids = driver_->cgroups().Pids(cg);
  ASSERT_TRUE(pids.ok());
  EXPECT_LE(pids->size(), 8u);
  EXPECT_GE(std::stoi(Slurp(driver_->cgroups().FilePath(cg, "pids", "pids.events")).substr(4)), 1)
      << "the kernel counted refused forks";
  ASSERT_TRUE(driver_->Stop(TaskId("iso1", "forks"), std::chrono::milliseconds(0)).ok());
}

TEST_P(ExecIsolationTest, RootAndUnknownUsersAndUnlistedCapabilitiesAreRefusedWithTheReason) {
  auto spec = Spec("asroot", "id");
  spec.user = "root";
  auto h = driver_->Start(spec);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(h.status().message().find("--exec-allow-root"), std::string::npos)
      << h.status().ToString();
  spec.user = "0";
  EXPECT_EQ(driver_->Start(spec).status().code(), StatusCode::kPermissionDenied);
  spec.user = "no-such-user-here";
  EXPECT_EQ(driver_->Start(spec).status().code(), StatusCode::kNotFound);
  spec.user = "";
  spec.cap_add = {"SYS_ADMIN"};
  h = driver_->Start(spec);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("SYS_ADMIN"), std::string::npos) << h.status().ToString();
  EXPECT_TRUE(driver_->List().empty()) << "nothing started";
}

TEST_P(ExecIsolationTest, AllowedCapabilityIsKeptByANonRootUser) {
  auto spec = Spec("caps", "cat /proc/self/status");
  spec.cap_add = {"net_bind_service"};
  RunToEnd(*driver_, spec);
  std::string out = Slurp(spec.stdout_path);
  EXPECT_EQ(StatusMask(out, "CapEff"), uint64_t{1} << 10) << out;
  EXPECT_EQ(StatusMask(out, "CapBnd"), uint64_t{1} << 10) << out;
}

TEST_P(ExecIsolationTest, RootWhereAllowedKeepsOnlyTheDefaultSet) {
  auto root_driver = MakeDriver(true);
  auto spec = Spec("root-ok", "id -u; cat /proc/self/status");
  spec.user = "root";
  RunToEnd(*root_driver, spec);
  std::string out = Slurp(spec.stdout_path);
  EXPECT_EQ(out.substr(0, 2), "0\n") << out;
  EXPECT_EQ(StatusMask(out, "CapBnd"), CapabilitiesToMask(DefaultCapabilities()).mask) << out;
}

TEST_P(ExecIsolationTest, StopBySigtermReachesTheTaskAndItsLeftoversDieWithIt) {
  std::string arg = "9013." + std::to_string(getpid());
  // A leftover in a session of its own: no group signal reaches it.
  auto spec = Spec("stop", "setsid sleep " + arg + " & exec sleep 1000");
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  // The handle names the task as the host sees it, not its init: it
  // becomes `sleep 1000` (polled: while sh exec's sleep, its cmdline reads
  // empty for a moment, which once failed a one-shot read in CI).
  EXPECT_TRUE(WaitFor([&] {
    return Slurp("/proc/" + std::to_string(h->pid()) + "/cmdline")
               .rfind(std::string("sleep\0001000", 10), 0) == 0;
  })) << Slurp("/proc/" + std::to_string(h->pid()) + "/cmdline");
  ASSERT_TRUE(WaitFor([&] { return Sleepers(arg) == 1; }));
  ASSERT_TRUE(driver_->Stop(TaskId("iso1", "stop"), std::chrono::seconds(20)).ok());
  auto st = driver_->Wait(TaskId("iso1", "stop"), std::chrono::seconds(10));
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->running()) << "SIGTERM must end it long before the kill timeout";
  EXPECT_EQ(st->signal, SIGTERM);
  EXPECT_TRUE(WaitFor([&] { return Sleepers(arg) == 0; }))
      << "a child the task left ends with its namespace";
}

TEST_P(ExecIsolationTest, NewDriverDiscoversAndAdoptsTheIsolatedTask) {
  auto spec = Spec("adopt", "exec sleep 1000");
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  auto second = MakeDriver(false);
  auto found = second->Discover();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].pid(), h->pid());
  EXPECT_EQ(found[0].exit_file(), h->exit_file()) << "the shim behind the init is found";
  EXPECT_EQ(found[0].shim_pid(), h->shim_pid());
  // A second start adopts rather than duplicates.
  auto again = second->Start(spec);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->pid(), h->pid());
  ASSERT_TRUE(second->Stop(TaskId("iso1", "adopt"), std::chrono::seconds(5)).ok());
  auto st = second->Wait(TaskId("iso1", "adopt"), std::chrono::seconds(10));
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->running());
  EXPECT_EQ(st->signal, SIGTERM) << "the exit record written by the adopted shim";
  (void)driver_->Wait(TaskId("iso1", "adopt"), std::chrono::seconds(5));
}

TEST_P(ExecIsolationTest, CommandCheckRunsInTheTasksNamespacesAsItsUser) {
  auto spec = Spec("checked", "echo ready > ready; exec sleep 1000");
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(spec.task_dir + "/ready"); }));
  // Its user, its pid namespace (the check's shell is not pid 1 or 2 there
  // but sees the task's init), its directory.
  auto r = health::ProbeCommand(
      "sh",
      {"-c", "id -u; test -e /proc/1 && cat /proc/1/comm; cat ready; ls /proc | grep -c '^[0-9]'"},
      spec.env, spec.task_dir, std::chrono::seconds(5), h->pid());
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_NE(r.message.find("65534"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("ready"), std::string::npos) << r.message;
  auto fail = health::ProbeCommand("/bin/sh", {"-c", "touch /root/x"}, spec.env, spec.task_dir,
                                   std::chrono::seconds(5), h->pid());
  EXPECT_FALSE(fail.ok) << "a check has no more rights than its task: " << fail.message;
  ASSERT_TRUE(driver_->Stop(TaskId("iso1", "checked"), std::chrono::milliseconds(0)).ok());
}

// --exec-chroot: the task sees the allowed host paths (read-only), its own
// directories (read-write, at their paths), a private /tmp and a minimal
// /dev, and nothing else of the host; a command outside is refused; a
// command check runs in the same root.
TEST_P(ExecIsolationTest, ChrootHoldsOnlyTheAllowedPathsAndTheTasksDirectories) {
  ExecDriverOptions o;
  o.cgroups = CgroupOptions{TestParent(), "auto"};
  o.shim_path = GetParam() == "shim_binary" ? ORCH_EXEC_SHIM_PATH : "";
  o.isolate = true;
  o.users.default_user = "nobody";
  o.users.allowed_caps = DefaultCapabilities();
  o.chroot_paths = {"/bin", "/etc", "/lib", "/lib64", "/sbin", "/usr", "/nonexistent-path"};
  driver_ = std::make_unique<ExecDriver>(o);
  ASSERT_TRUE(std::filesystem::exists("/sys/fs/cgroup"));
  const std::string cwd = dir_.path() + "/allocs/iso1/jailed";
  auto spec =
      Spec("jailed",
           "set -e; test ! -e /sys/fs/cgroup; test ! -e /root; test ! -e /nonexistent-path; "
           "test -r /etc/passwd; ! touch /etc/orch-x 2>/dev/null; ! touch /usr/orch-x 2>/dev/null; "
           "echo x > /dev/null; head -c 4 /dev/urandom | wc -c > urandom; touch /tmp/mine; "
           "test \"$(pwd)\" = '" +
               cwd +
               "'; ls / | tr '\\n' ' ' > top; echo ready > ready; "
               "exec sleep 1000");
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_TRUE(WaitFor([&] { return std::filesystem::exists(spec.task_dir + "/ready"); }))
      << Slurp(spec.stderr_path);
  EXPECT_EQ(Slurp(spec.task_dir + "/urandom"), "4\n");
  std::string top = " " + Slurp(spec.task_dir + "/top");
  for (const char* want : {" bin ", " dev ", " etc ", " proc ", " tmp ", " usr "}) {
    EXPECT_NE(top.find(want), std::string::npos) << want << "missing in:" << top;
  }
  for (const char* host_only : {" root ", " sys ", " home ", " var ", " boot "}) {
    EXPECT_EQ(top.find(host_only), std::string::npos) << host_only << "is visible:" << top;
  }
  // The task's /tmp is its own.
  EXPECT_FALSE(std::filesystem::exists("/tmp/mine"));
  // A command check runs in the task's root.
  auto check = health::ProbeCommand("sh", {"-c", "test ! -e /sys/fs/cgroup && cat ready"}, spec.env,
                                    spec.task_dir, std::chrono::seconds(5), h->pid());
  EXPECT_TRUE(check.ok) << check.message;
  ASSERT_TRUE(driver_->Stop(TaskId("iso1", "jailed"), std::chrono::milliseconds(0)).ok());
  (void)driver_->Wait(TaskId("iso1", "jailed"), std::chrono::seconds(10));

  // A command the chroot does not hold is refused before it starts.
  auto outside = Spec("outside", "");
  outside.command = ORCH_EXEC_SHIM_PATH;
  outside.args = {};
  auto refused = driver_->Start(outside);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("outside the task's chroot"), std::string::npos)
      << refused.status().ToString();
}

// Host volumes: in a chroot at their destination (read-only ones refuse
// writes); without one, bound in place (read-only too) in the task's mount
// namespace, and nothing of it is seen outside.
TEST_P(ExecIsolationTest, VolumesAreMountedAtTheirDestinationAndReadOnlyOnesRefuseWrites) {
  const std::string rw = dir_.path() + "/vol-rw", ro = dir_.path() + "/vol-ro";
  ASSERT_TRUE(MakeDirs(rw).ok());
  ASSERT_TRUE(MakeDirs(ro).ok());
  // Both writable by anyone: only the read-only mount keeps the task out
  // (and the test's directory open to pass through, for the task without
  // a chroot).
  chmod(dir_.path().c_str(), 0711);
  chmod(rw.c_str(), 0777);
  chmod(ro.c_str(), 0777);
  { std::ofstream(ro + "/seed") << "seeded\n"; }
  ExecDriverOptions o;
  o.cgroups = CgroupOptions{TestParent(), "auto"};
  o.shim_path = GetParam() == "shim_binary" ? ORCH_EXEC_SHIM_PATH : "";
  o.isolate = true;
  o.users.default_user = "nobody";
  o.users.allowed_caps = DefaultCapabilities();
  o.chroot_paths = {"/bin", "/etc", "/lib", "/lib64", "/sbin", "/usr"};
  driver_ = std::make_unique<ExecDriver>(o);
  auto spec = Spec("vols",
                   "set -e; echo written > /data/out; cat /seed/seed > /data/copy; "
                   "! touch /seed/x 2>/dev/null; test ! -e " +
                       rw + "; echo ok > ok");
  spec.mounts = {{rw, "/data", false}, {ro, "/seed", true}};
  EXPECT_EQ(driver_->VolumePath(spec.mounts[0]), "/data");
  auto st = RunToEnd(*driver_, spec);
  EXPECT_EQ(st.exit_code, 0) << Slurp(spec.stderr_path);
  EXPECT_EQ(Slurp(rw + "/out"), "written\n");
  EXPECT_EQ(Slurp(rw + "/copy"), "seeded\n");
  EXPECT_FALSE(std::filesystem::exists(ro + "/x"));

  // No chroot: the task uses the host path; read-only still holds.
  driver_ = MakeDriver(false);
  auto plain = Spec("plain", "set -e; echo again > " + rw + "/again; ! touch " + ro +
                                 "/y 2>/dev/null; echo ok > ok");
  plain.mounts = {{rw, "/ignored", false}, {ro, "/ignored2", true}};
  EXPECT_EQ(driver_->VolumePath(plain.mounts[0]), rw);
  st = RunToEnd(*driver_, plain);
  EXPECT_EQ(st.exit_code, 0) << Slurp(plain.stderr_path);
  EXPECT_EQ(Slurp(rw + "/again"), "again\n");
  EXPECT_FALSE(std::filesystem::exists(ro + "/y"));
  // Outside the task the read-only volume stays writable.
  EXPECT_TRUE(std::ofstream(ro + "/host-can").good());
}

INSTANTIATE_TEST_SUITE_P(Shim, ExecIsolationTest, ::testing::Values("shim_binary", "fork"));

}  // namespace
}  // namespace orch::agent
