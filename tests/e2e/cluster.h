// A local orch cluster of real processes for end-to-end tests: masters and
// agents on free loopback ports, each with its own data dir and log file,
// and orchctl invoked as a user would.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/client/client.h"
#include "process.h"

namespace orch::e2e {

class LocalCluster {
 public:
  // `root` is a fresh folder for data dirs and logs.
  explicit LocalCluster(std::string root);
  ~LocalCluster();

  // `extra` flags are appended (e.g. --service-port-range 7000-7000).
  void StartMaster(const std::vector<std::string>& extra = {});
  void StopMaster(int sig);  // SIGTERM for a clean stop, SIGKILL for a crash
  int MasterExitCode(std::chrono::milliseconds timeout);
  // `extra` flags are appended (e.g. --lb-bind 127.0.0.1).
  void StartAgent(const std::string& name, const std::vector<std::string>& extra = {});
  void StopAgent(const std::string& name, int sig);
  int AgentExitCode(const std::string& name, std::chrono::milliseconds timeout);

  std::string master_url() const { return "http://127.0.0.1:" + std::to_string(http_port_); }
  pid_t master_pid() const { return master_ ? master_->pid() : -1; }
  int raft_port() const { return raft_port_; }
  std::string agent_data_dir(const std::string& name) const { return root_ + "/agent-" + name; }
  OrchClient& client() { return *client_; }
  // client() presents this ACL token from now on (masters with --acl).
  void UseToken(const std::string& secret);

  // orchctl with --addr of this cluster.
  CommandResult Orchctl(std::vector<std::string> args);

  // Waits until the master answers /healthz and `n` agents are ready.
  bool WaitReady(int agents, std::chrono::milliseconds timeout);

  // All logs, for a failing test's message.
  std::string Logs() const;

 private:
  std::string root_;
  int http_port_;
  int raft_port_;
  std::unique_ptr<Subprocess> master_;
  std::vector<std::pair<std::string, std::unique_ptr<Subprocess>>> agents_;
  std::unique_ptr<OrchClient> client_;
};

// The allocation of `job` (the first one), if any.
std::optional<v1::Allocation> FirstAlloc(OrchClient& client, const std::string& job);

// Stops `job` and waits until its agent has stopped every allocation (none
// pending or running), not only those whose pid the master has heard of;
// false on timeout.
bool StopJobAndWait(OrchClient& client, const std::string& job, std::chrono::milliseconds timeout);

// A job document (JSON, which `orchctl run -f` and POST /v1/jobs take):
// job `id` of `type` ("service", "batch") with one group "g" of one exec
// task "t" running `command` with `args`, asking 10 millicores and
// `memory` MiB.
std::string ExecJob(const std::string& id, const std::string& type, const std::string& command,
                    const std::vector<std::string>& args = {}, int64_t memory = 16);
// Submits ExecJob(id, "batch", "/bin/true") and waits until its allocation
// completed; false (with the reason in `why`) otherwise.
bool RunToCompletion(OrchClient& client, const std::string& id, std::chrono::milliseconds timeout,
                     std::string* why = nullptr);

}  // namespace orch::e2e
