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
// Cgroups (cpu/memory limits via libcgroup) are not applied yet; the seam
// is in exec_launch.cpp, where the task joins its cgroup before exec.
// Thread safety: all methods are thread-safe.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/drivers/driver.h"
#include "common/clock.h"

namespace orch::agent {

struct ExecDriverOptions {
  // How often the monitor looks for exits and due kills.
  std::chrono::milliseconds poll_interval{100};
  Clock* clock = SystemClock::Get();
};

class ExecDriver : public TaskDriver {
 public:
  explicit ExecDriver(ExecDriverOptions options = {});
  // Stops the monitor; tasks keep running (a new driver adopts them).
  ~ExecDriver() override;
  ExecDriver(const ExecDriver&) = delete;
  ExecDriver& operator=(const ExecDriver&) = delete;

  std::string name() const override { return "exec"; }
  Result<pb::TaskHandle> Start(const TaskSpec& spec) override;
  Status Stop(const std::string& task_id, std::chrono::milliseconds kill_timeout) override;
  Result<TaskStatus> Inspect(const std::string& task_id) override;
  Status Recover(const pb::TaskHandle& handle) override;
  Result<TaskStatus> Wait(const std::string& task_id, std::chrono::milliseconds timeout) override;
  std::vector<std::string> List() override;
  std::vector<pb::TaskHandle> Discover() override;
  Status Logs(const std::string& task_id, const LogOptions& opts, const LogSink& sink) override;
  Result<TaskUsage> Stats(const std::string& task_id) override;
  void Forget(const std::string& task_id) override;
  void SetEventCallback(std::function<void()> cb) override;

 private:
  struct Task {
    pb::TaskHandle handle;
    TaskStatus status;
    bool shim_is_child = false;  // we may (and must) reap it
    std::optional<std::chrono::steady_clock::time_point> kill_at;
    bool killed = false;  // SIGKILL sent
  };

  void MonitorLoop();
  // Updates `t` from the world; true when it changed state. REQUIRES: mu_.
  bool Poll(Task& t);
  void ReapShim(Task& t, bool block);

  const ExecDriverOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Task> tasks_;  // GUARDED_BY(mu_)
  std::function<void()> on_event_;     // GUARDED_BY(mu_)
  bool stopping_ = false;              // GUARDED_BY(mu_)
  std::thread monitor_;
};

}  // namespace orch::agent
