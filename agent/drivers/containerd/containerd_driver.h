// ContainerdDriver: runs a task as a containerd container through
// containerd's gRPC API (ContainerdClient), in its own namespace ("orch").
//
// Start: the image is made usable (EnsureImage: pulled from its registry
// with orch's OCI client into the content store and unpacked into
// snapshots, unless containerd has it), a writable snapshot is prepared on
// its top layer, a container named orch-<alloc>-<task> is created with
// orch's labels and an OCI runtime spec (oci_spec.h: limits, env, volumes,
// the image's user resolved against its /etc/passwd), and a task is created
// and started in it by the runc v2 shim with its stdout and stderr on two
// FIFOs that FifoLogs copies into the task's log files. The name makes Start
// idempotent: a running container an earlier agent started for the task is
// adopted.
// Tasks share the node's network (no CNI), as exec tasks do: a task listens
// on the ports the agent gives it (NOMAD-like env ORCH_PORT_<name>).
//
// An events thread follows containerd's events service (/tasks/exit and
// /tasks/oom of the namespace); each wakes a monitor thread, which collects
// the exit (Tasks.Delete: the exit status; the cgroup's OOM count before
// that), drains the FIFOs and removes the container and its snapshot. The
// monitor also asks about every running task each resync interval (and
// after the stream reconnects, and every poll interval while it is down),
// and sends SIGKILL to tasks whose stop grace has passed.
//
// Recovery: the handle names the container; its labels say where its
// output goes; a running task's FIFOs are opened again. Discover lists the
// namespace's containers carrying the orch.alloc label.
// Thread safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "agent/drivers/containerd/fifo_logs.h"
#include "agent/drivers/containerd/registry_client.h"
#include "agent/drivers/driver.h"
#include "common/clock.h"

namespace grpc {
class ClientContext;
}

namespace orch::agent {

class ContainerdClient;
class Cgroups;

struct ContainerdDriverOptions {
  std::string socket = "/run/containerd/containerd.sock";
  std::string ns = "orch";  // containerd namespace
  std::string snapshotter = "overlayfs";
  std::string runtime = "io.containerd.runc.v2";
  // Where the tasks' FIFOs live (the agent's <data_dir>/containerd); made.
  std::string fifo_dir;
  // The tasks' cgroups: <cgroup_parent>/<alloc>/<task> in every hierarchy.
  std::string cgroup_parent = "orch-containerd";
  std::string cgroup_mode = "auto";
  // Registry credentials: a Docker config.json's text ("" for none).
  std::string auth_config_json;
  oci::RegistryOptions registry;
  FifoLogOptions logs;
  std::chrono::milliseconds poll_interval{500};
  std::chrono::milliseconds resync_interval{std::chrono::seconds(10)};
  Clock* clock = SystemClock::Get();
};

class ContainerdDriver : public TaskDriver {
 public:
  // Unavailable when containerd does not answer on `options.socket`.
  static Result<std::unique_ptr<ContainerdDriver>> Connect(ContainerdDriverOptions options);
  // Stops the threads; containers keep running (a new driver adopts them).
  ~ContainerdDriver() override;
  ContainerdDriver(const ContainerdDriver&) = delete;
  ContainerdDriver& operator=(const ContainerdDriver&) = delete;

  std::string version() const;
  ContainerdClient& client() { return *client_; }

  // orch-<alloc_id>-<task>, characters containerd refuses in ids replaced
  // by '_', at most 76 characters (a long task name is shortened with a
  // hash of it).
  static std::string ContainerId(const std::string& alloc_id, const std::string& task);

  std::string name() const override { return "containerd"; }
  Result<pb::TaskHandle> Start(const TaskSpec& spec) override;
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

 private:
  struct Task {
    pb::TaskHandle handle;  // container_id: containerd's container id
    TaskStatus status;
    std::string stdout_path, stderr_path;
    std::string stdout_fifo, stderr_fifo;
    std::string cgroup;  // for Stats and the OOM count
    int64_t memory_mib = 0;
    bool collected = false;                           // exit status taken, FIFOs drained
    bool removed = false;                             // container and snapshot gone
    std::chrono::steady_clock::time_point kill_at{};  // SIGKILL due (a stop's grace)
  };

  ContainerdDriver(ContainerdDriverOptions options, std::unique_ptr<ContainerdClient> client,
                   std::unique_ptr<FifoLogs> logs, std::unique_ptr<Cgroups> cgroups);
  Result<pb::TaskHandle> StartNew(const TaskSpec& spec, const std::string& cid);
  Status Kill(const std::string& cid, int signal, bool all);
  // Removes a container with whatever it has: task (killed), container,
  // snapshot, FIFOs, and its cgroup (with the allocation's, once empty).
  void RemoveContainer(const std::string& cid, const std::string& cgroup);
  // The exit of a task whose process stopped: status, drained output.
  void Collect(const std::string& task_id);
  void MonitorLoop();
  void EventsLoop();
  // Asks containerd about the running tasks (all, or those events named);
  // collects those that stopped; true when one changed.
  bool PollOnce(bool full, std::vector<std::string>* to_remove);

  const ContainerdDriverOptions options_;
  std::unique_ptr<ContainerdClient> client_;
  std::unique_ptr<FifoLogs> logs_;
  std::unique_ptr<Cgroups> cgroups_;
  std::atomic<bool> stopping_{false};
  // One pull per image at a time (two tasks of one image pull it once);
  // different images in parallel.
  std::mutex pulls_mu_;
  std::map<std::string, std::shared_ptr<std::mutex>> pulls_;  // GUARDED_BY(pulls_mu_), by image
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Task> tasks_;          // GUARDED_BY(mu_)
  std::function<void()> on_event_;             // GUARDED_BY(mu_)
  std::set<std::string> exited_;               // GUARDED_BY(mu_): containers events named
  std::set<std::string> oom_;                  // GUARDED_BY(mu_): containers an OOM event named
  bool wake_ = false;                          // GUARDED_BY(mu_)
  bool full_look_ = false;                     // GUARDED_BY(mu_)
  grpc::ClientContext* events_ctx_ = nullptr;  // GUARDED_BY(mu_): to cancel at shutdown
  std::chrono::steady_clock::time_point last_full_;  // the monitor thread's
  std::atomic<bool> events_connected_{false};
  std::thread monitor_;
  std::thread events_;
};

}  // namespace orch::agent
