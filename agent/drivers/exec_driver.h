// ExecDriver: runs a task as a plain process (fork/exec under a shim, see
// exec_launch.h), in its own session and process group, with its output
// appended to log files. Stop sends SIGTERM to the process group and SIGKILL
// once the kill timeout has passed. A monitor thread notices exits (from the
// shim's exit record), escalates kills and reaps the shims it started, so no
// zombies are left.
//
// Recovery: the handle names the task's pid and start time, the shim's pid
// and the exit-record file; Recover() adopts a live task (no duplicate
// process) and reports one that ended meanwhile with its real exit status.
//
// Cgroups (agent/cgroups): each task runs in "<parent>/<alloc_id>/<task>"
// with its cpu and memory limits, joined before exec; usage (Stats) comes
// from the group, a task the kernel OOM-killed is reported with
// oom_killed and "OOM killed: exceeded memory limit of N MiB", and the
// group is removed once the task is reaped. Discover() finds task groups
// holding processes, so an agent that lost its state still finds its work;
// Start() of a task whose group holds processes adopts that run (returns
// its handle) rather than starting a second copy.
// Without usable cgroups (not root, not mounted) tasks run unlimited.
//
// Isolation (options.isolate, exec_isolation.h): each task runs in new pid,
// mount, ipc and uts namespaces under a small init, as its user (the task's
// `user`, else the agent's default, nobody) with only the capabilities it
// may keep and no_new_privs; its directory is made its user's (0700). The
// handle's pid is the task's (as the host sees it), not the init's. A task
// asking for root, an unlisted user or capability fails to start with the
// reason (PermissionDenied).
//
// Output: the shim owns the task's stdout/stderr pipes and writes them to
// <task_dir>.stdout / .stderr (the caller's paths), rotated by size
// (log_max_bytes, log_max_files kept); Logs() reads them, following while
// the task runs. A recovered task's log paths are derived from its exit
// record's path (<task_dir>.exit), the layout Start() uses.
// Thread safety: all methods are thread-safe.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/cgroups/cgroups.h"
#include "agent/drivers/driver.h"
#include "agent/drivers/exec_identity.h"
#include "agent/drivers/exec_logs.h"
#include "common/clock.h"

namespace orch::agent {

struct ExecDriverOptions {
  // How often the monitor looks for exits and due kills.
  std::chrono::milliseconds poll_interval{100};
  Clock* clock = SystemClock::Get();
  CgroupOptions cgroups;
  // Output rotation: a log file is rotated once it would pass this size;
  // this many older files are kept per stream.
  int64_t log_max_bytes = 10 * 1024 * 1024;
  int log_max_files = 3;
  // The supervisor program (orch-exec-shim). "auto": $ORCH_EXEC_SHIM, else
  // orch-exec-shim next to this process's executable, else none. Empty:
  // supervise from a fork of the agent (works anywhere, costs more memory).
  std::string shim_path = "auto";
  // Isolation (exec_isolation.h): new pid, mount, ipc and uts namespaces,
  // and the task's user and capabilities from `users` (exec_identity.h),
  // no_new_privs. Off: tasks run as this process, sharing its namespaces.
  bool isolate = false;
  ExecUserPolicy users;
  // Per task, through the cgroup's pids.max (when the pids controller is
  // there): a task's pids_limit may lower it, never raise it. 0: none.
  int64_t pids_limit = 0;
  // With isolate: each task chrooted in a root of these host paths
  // (read-only) and its own directories (exec_chroot.h); empty: no chroot.
  std::vector<std::string> chroot_paths;
};

// What "auto" resolves to ("" when no orch-exec-shim is found).
std::string FindExecShim();

class ExecDriver : public TaskDriver {
 public:
  explicit ExecDriver(ExecDriverOptions options = {});
  // Stops the monitor; tasks keep running (a new driver adopts them).
  ~ExecDriver() override;
  ExecDriver(const ExecDriver&) = delete;
  ExecDriver& operator=(const ExecDriver&) = delete;

  std::string name() const override { return "exec"; }
  Result<pb::TaskHandle> Start(const TaskSpec& spec) override;
  // Without a chroot a volume is bound in place: the task sees the source.
  std::string VolumePath(const TaskSpec::Mount& m) const override;
  Status Stop(const std::string& task_id, std::chrono::milliseconds kill_timeout) override;
  Status Signal(const std::string& task_id, int signal) override;
  Result<TaskStatus> Inspect(const std::string& task_id) override;
  Status Recover(const pb::TaskHandle& handle) override;
  Result<TaskStatus> Wait(const std::string& task_id, std::chrono::milliseconds timeout) override;
  std::vector<std::string> List() override;
  std::vector<pb::TaskHandle> Discover() override;
  Status Logs(const std::string& task_id, const LogOptions& opts, const LogSink& sink) override;
  Result<TaskUsage> Stats(const std::string& task_id) override;
  void Forget(const std::string& task_id) override;
  void SetEventCallback(std::function<void()> cb) override;

  const Cgroups& cgroups() const { return *cgroups_; }
  const std::string& shim_path() const { return shim_path_; }

 private:
  struct Task {
    pb::TaskHandle handle;
    TaskStatus status;
    bool shim_is_child = false;  // we may (and must) reap it
    std::optional<std::chrono::steady_clock::time_point> kill_at;
    bool killed = false;  // SIGKILL sent
    TaskLogFiles logs;
  };

  void MonitorLoop();
  // Updates `t` from the world; true when it changed state. REQUIRES: mu_.
  bool Poll(Task& t);
  void ReapShim(Task& t, bool block);
  // After the exit: OOM verdict from the cgroup, then the group goes.
  void FinishCgroup(Task& t);
  TaskLogFiles LogFilesFor(const std::string& exit_file) const;
  // The handle of the task running in its cgroup, if any.
  std::optional<pb::TaskHandle> DiscoverTask(const std::string& alloc, const std::string& task);

  const ExecDriverOptions options_;
  std::unique_ptr<Cgroups> cgroups_;
  std::string shim_path_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Task> tasks_;  // GUARDED_BY(mu_)
  std::function<void()> on_event_;     // GUARDED_BY(mu_)
  bool stopping_ = false;              // GUARDED_BY(mu_)
  std::thread monitor_;
};

}  // namespace orch::agent
