// TaskDriver: the one interface every runtime (exec, later docker and
// containerd) implements, in the shape of Mesos' containerizer: start,
// stop, inspect, wait, recover (adopt work after an agent restart), discover
// (find work carrying orch's labels that no record names), list, logs and
// stats. The interface is fit for a containerd driver too.
//
// A task is named by its TaskId ("<alloc_id>/<task>"). Start returns a
// TaskHandle the agent persists; Recover takes it back after a restart.
// Thread safety: implementations are thread-safe; the event callback is
// called from a driver thread and must not call back into the driver while
// holding locks the driver may need (just wake someone up).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent_state.pb.h"
#include "common/status.h"

namespace orch::agent {

inline std::string TaskId(const std::string& alloc_id, const std::string& task) {
  return alloc_id + "/" + task;
}

// Everything needed to start one task; env and args are already expanded.
struct TaskSpec {
  std::string alloc_id;
  std::string task;
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // the task's whole environment
  std::string task_dir;                                  // working directory, created by the caller
  std::string stdout_path;                               // appended to
  std::string stderr_path;
  int64_t cpu_millicores = 0;  // limits: cgroup (exec) or NanoCpus (docker)
  int64_t memory_mib = 0;
  std::string user;                  // empty: the driver's default
  std::vector<std::string> cap_add;  // exec: capabilities kept
  int64_t pids_limit = 0;            // exec: 0 = the driver's limit
  // docker (and later containerd):
  std::string image;
  std::string job_id;
  std::string group;
  struct PortMap {
    std::string name;
    int host = 0;       // on the node
    int container = 0;  // inside the container (default: host)
    std::string protocol = "tcp";  // or "udp"
  };
  std::vector<PortMap> ports;
  // Host directories the task sees at `destination` (a group's volumes;
  // docker: bind mounts; exec: binds in its mount namespace).
  struct Mount {
    std::string source;       // on the node
    std::string destination;  // inside the task
    bool read_only = false;
  };
  std::vector<Mount> mounts;
  // docker: the driver's own settings (network mode, capabilities,
  // registry credentials, ...).
  v1::DockerConfig docker;
  // Called by Start, on the caller's thread, with what it is doing while
  // that takes a while (an image pull: "pulling image X: 12.5 of 40.0 MiB,
  // 1 of 3 layers done"): as the pull begins, then about once a second. May
  // be empty.
  std::function<void(const std::string&)> progress;
};

struct TaskStatus {
  enum class State { kRunning, kExited };
  State state = State::kRunning;
  int pid = 0;
  int64_t started_at_ms = 0;
  // When exited:
  bool exit_known = true;  // false: the task died while nobody watched
  int exit_code = 0;       // -1 when killed by a signal or unknown
  int signal = 0;          // the signal that killed it, 0 if none
  int64_t finished_at_ms = 0;
  std::string message;  // why, in words, when there is something to say
  bool stop_requested = false;
  bool oom_killed = false;  // exceeded its memory limit

  bool running() const { return state == State::kRunning; }
};

struct TaskUsage {
  std::chrono::nanoseconds cpu_time{0};  // cumulative user+system time
  int64_t memory_bytes = 0;              // resident set size
};

struct LogOptions {
  bool stdout_stream = true;
  bool stderr_stream = true;
  bool follow = false;     // keep streaming until the task exits or the sink says stop
  int64_t tail_bytes = -1;  // -1: everything kept
};

// Receives log data; returns false to stop. While following, a driver calls
// it with an empty chunk now and then (between polls) so that a sink whose
// reader went away can stop a quiet stream.
enum class LogStream { kStdout, kStderr };
using LogSink = std::function<bool(LogStream, std::string_view)>;

class TaskDriver {
 public:
  virtual ~TaskDriver() = default;

  virtual std::string name() const = 0;

  // Where a task of this driver finds a volume (its ORCH_VOLUME_<name>):
  // the mount's destination, unless the driver binds volumes in place.
  virtual std::string VolumePath(const TaskSpec::Mount& m) const { return m.destination; }

  // Starts the task. A command that cannot be run (missing, not executable,
  // exec failure) is an error naming the cause; nothing keeps running then.
  virtual Result<pb::TaskHandle> Start(const TaskSpec& spec) = 0;

  // Asks the task to stop: SIGTERM (or the runtime's equivalent) now, a
  // forced kill once `kill_timeout` has passed. Returns at once; the exit
  // shows in Inspect. Stopping an exited task is a no-op.
  virtual Status Stop(const std::string& task_id, std::chrono::milliseconds kill_timeout) = 0;

  // Sends a running task `signal` (an operator's `orchctl alloc signal`).
  virtual Status Signal(const std::string& task_id, int signal) {
    (void)task_id;
    (void)signal;
    return Status::FailedPrecondition(name() + " driver: signals are not supported");
  }

  // NotFound if the driver does not track the task.
  virtual Result<TaskStatus> Inspect(const std::string& task_id) = 0;

  // Adopts a task a previous agent started, from its persisted handle. The
  // task may have exited meanwhile; Inspect says so.
  virtual Status Recover(const pb::TaskHandle& handle) = 0;

  // Blocks until the task exits or `timeout` passes; returns its status
  // either way (running on timeout).
  virtual Result<TaskStatus> Wait(const std::string& task_id, std::chrono::milliseconds timeout) = 0;

  // Ids of every tracked task, running or exited but not yet forgotten.
  virtual std::vector<std::string> List() = 0;

  // Handles of tasks the runtime holds that carry orch's marks (docker
  // labels, cgroup names) whether tracked or not: after losing its state an
  // agent still finds, and can adopt or stop, what it started.
  virtual std::vector<pb::TaskHandle> Discover() = 0;

  // Streams the task's output to `sink` (blocking while `follow`).
  virtual Status Logs(const std::string& task_id, const LogOptions& opts, const LogSink& sink) = 0;

  // Resource use of a running task.
  virtual Result<TaskUsage> Stats(const std::string& task_id) = 0;

  // Stops tracking an exited task (its files stay on disk).
  virtual void Forget(const std::string& task_id) = 0;

  // `cb` is called (from a driver thread) whenever a task's state changes.
  virtual void SetEventCallback(std::function<void()> cb) = 0;
};

}  // namespace orch::agent
