// DockerDriver: runs a task as a Docker container through the Engine API
// (DockerClient). Start pulls the image when absent, creates the container
// named orch-<alloc>-<task> with the labels orch.alloc, orch.job,
// orch.group, orch.task (and where its logs are kept), command and args,
// env, NanoCpus and Memory limits, port bindings and restart policy "no"
// (restarts are the agent's decision), then starts it. The name makes Start
// idempotent: a container an earlier agent created for the same task and
// that still runs is adopted, never started twice.
//
// An events thread follows the engine's GET /events (die and oom of orch's
// containers); each wakes a monitor thread, which inspects the ones that
// stopped running (exit code, OOM kill), copies their output into the
// task's log files and removes them. The monitor also looks at every
// container every resync interval (and every poll interval while the event
// stream is down, and once after it reconnects). Stop runs the engine's
// /stop?t=<grace> (stop signal, SIGKILL after the grace) on a thread of its
// own and returns at once.
//
// Recovery: the handle names the container id; Discover finds containers by
// the orch.alloc label even without a handle.
// Thread safety: all methods are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "agent/drivers/docker/docker_client.h"
#include "agent/drivers/driver.h"
#include "common/clock.h"

namespace orch::agent {

struct DockerDriverOptions {
  std::string socket = "/var/run/docker.sock";
  // How often the monitor looks for containers that stopped.
  std::chrono::milliseconds poll_interval{500};
  // How long a pull may take before the start fails.
  std::chrono::milliseconds pull_timeout{std::chrono::minutes(5)};
  // Host address port bindings listen on ("" = every address).
  std::string port_bind_ip;
  // With the engine's event stream followed, the monitor's look at every
  // container is only a safety net, this often.
  std::chrono::milliseconds resync_interval{std::chrono::seconds(10)};
  // Registry credentials: a Docker config.json's text ("" for none); a
  // task's own docker.auth wins.
  std::string auth_config_json;
  // What tasks may ask for: privileged containers, and capabilities in
  // cap_add (empty: Docker's default set).
  bool allow_privileged = false;
  std::vector<std::string> allowed_caps;
  Clock* clock = SystemClock::Get();
};

class DockerDriver : public TaskDriver {
 public:
  // Unavailable when the engine does not answer on `options.socket`.
  static Result<std::unique_ptr<DockerDriver>> Connect(DockerDriverOptions options);
  // Stops the monitor and waits for stops in flight; containers keep
  // running (a new driver adopts them).
  ~DockerDriver() override;
  DockerDriver(const DockerDriver&) = delete;
  DockerDriver& operator=(const DockerDriver&) = delete;

  std::string engine_version() const { return client_->engine_version(); }
  std::string api_version() const { return client_->api_version(); }
  DockerClient& client() { return *client_; }

  // The container name for a task: orch-<alloc_id>-<task>, with characters
  // Docker does not allow in names replaced by '_'.
  static std::string ContainerName(const std::string& alloc_id, const std::string& task);

  std::string name() const override { return "docker"; }
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
    pb::TaskHandle handle;
    TaskStatus status;
    std::string stdout_path, stderr_path;  // where its output is kept once it exited
    int64_t memory_mib = 0;
    bool removed = false;  // the container is gone (output copied to the files)
  };
  struct Stopper {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  DockerDriver(DockerDriverOptions options, std::unique_ptr<DockerClient> client);
  Result<pb::TaskHandle> Adopt(const TaskSpec& spec, const std::string& name);
  // What the agent allows a task (network mode, privileged, capabilities).
  Status Allowed(const TaskSpec& spec) const;
  // Fills `t.status` from an inspect result. REQUIRES: mu_.
  void ApplyInfo(Task& t, const ContainerInfo& info);
  void MonitorLoop();
  // Follows the engine's events; a die or oom wakes the monitor.
  void EventsLoop();
  // Checks running tasks against the engine; true when one changed. The
  // tasks whose containers are to be cleaned up (Cleanup) go to `to_clean`:
  // the caller reports the change first, and cleans up after.
  bool PollOnce(std::vector<std::string>* to_clean, bool full);
  // Copies a stopped container's output to the task's files and removes it.
  void Cleanup(const std::string& task_id);
  void ReapStoppers(bool all);

  const DockerDriverOptions options_;
  std::unique_ptr<DockerClient> client_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Task> tasks_;  // GUARDED_BY(mu_)
  std::function<void()> on_event_;     // GUARDED_BY(mu_)
  std::list<Stopper> stoppers_;        // GUARDED_BY(mu_)
  std::thread monitor_;
  std::thread events_;
  bool wake_ = false;           // GUARDED_BY(mu_): an event came
  std::set<std::string> died_;  // GUARDED_BY(mu_): containers a die or oom event named
  // What the events said of an exit: a die's exit code and time, and
  // whether an oom came first. GUARDED_BY(mu_)
  struct EventExit {
    int exit_code = -1;
    int64_t time_ms = 0;
    bool oom = false;
  };
  std::map<std::string, EventExit> event_exits_;
  bool full_look_ = false;      // GUARDED_BY(mu_): look at every container next
  std::chrono::steady_clock::time_point last_full_;  // the monitor thread's
  std::atomic<bool> events_connected_{false};
};

}  // namespace orch::agent
