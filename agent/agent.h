// Agent: one orch agent. Wires the drivers, the reconcile loop, the session
// with the masters (register + heartbeat), the allocation watch, the
// reporter and the agent's HTTP API. `orch-agent` runs one; `orch-master
// --dev` embeds one in the master process.
//
// Threads: the HTTP server's, the master session's, the allocation
// watcher's, the reporter's, the exec driver's monitor, the health
// checks', and the reconcile loop, the only one that touches the
// Reconciler.
// Thread safety: Start/Shutdown from one thread; node_id()/http_port() from
// any.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_metrics.h"
#include "agent/config.h"
#include "common/status.h"
#include "orch/v1/types.pb.h"

namespace orch {
class HttpServer;
class OrchClient;
class Router;
}  // namespace orch

namespace orch::agent {

namespace lb {
class Proxy;
class ServiceWatcher;
}  // namespace lb

class AllocGc;
class DiskMigrator;
class AllocWatcher;
class DockerDriver;
class ExecDriver;
class LoadMonitor;
class MasterSession;
class Reconciler;
class Reprobe;
class ContainerdDriver;
namespace health {
class HealthMonitor;
}  // namespace health
class Reporter;
class StateStore;
class TaskDriver;

class Agent {
 public:
  // Returns once the agent's HTTP API listens and its previous tasks are
  // adopted; registration proceeds in the background, retrying with backoff
  // until a master answers.
  static Result<std::unique_ptr<Agent>> Start(const AgentConfig& cfg);
  ~Agent();  // Shutdown()
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Clean stop: stops every thread and leaves the tasks running (a restarted
  // agent adopts them); state is persisted. Idempotent.
  void Shutdown();

  std::string node_id() const { return node_id_; }
  uint16_t http_port() const { return http_port_; }

 private:
  explicit Agent(AgentConfig cfg);
  Status Init();
  void ReconcileLoop();
  void Wake();
  // Connects to the Docker engine; on success docker_ is set.
  Status ConnectDocker();
  // Connects to containerd; on success containerd_ is set.
  Status ConnectContainerd();
  // Registry credentials for pulls: --docker-auth-config's text ("" without).
  Result<std::string> ReadAuthConfig() const;
  // A runtime answered after the start (docker's engine, containerd): the
  // driver joins the reconciler, the load monitor and the node's
  // description. Reconcile thread only.
  void EnableLateDriver(TaskDriver* d);
  v1::Node DescribeSelf() const;

  AgentConfig cfg_;
  // GET /metrics on the agent's API; outlives every part that counts into it.
  std::unique_ptr<metrics::Registry> metrics_ = std::make_unique<metrics::Registry>();
  AgentMetrics counted_ = AgentMetrics::Register(metrics_.get());
  std::string node_id_;
  std::string
      node_secret_;  // <data_dir>/node-secret: proves this node to the masters, and theirs to us
  uint16_t http_port_ = 0;

  std::unique_ptr<ExecDriver> exec_;
  std::unique_ptr<DockerDriver> docker_;
  std::unique_ptr<ContainerdDriver> containerd_;
  // Written at start and (docker found late) by the reconcile thread under
  // drivers_mu_; other threads (HTTP handlers) read a copy under it.
  std::map<std::string, TaskDriver*> drivers_;
  mutable std::mutex drivers_mu_;
  std::atomic<bool> drivers_ready_{false};  // drivers_ complete; read by HTTP handlers
  std::vector<std::string> enabled_;        // drivers advertised, in order
  std::string address_;                     // how others reach our HTTP API
  std::unique_ptr<Reprobe> docker_probe_;   // docker wanted but not answering; reconcile thread
  std::unique_ptr<Reprobe> containerd_probe_;  // the same for containerd
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<health::HealthMonitor> health_;  // before reconciler_: it points at it
  std::unique_ptr<Reconciler> reconciler_;
  std::unique_ptr<OrchClient> client_;
  std::unique_ptr<LoadMonitor> load_;
  std::unique_ptr<AllocGc> gc_;  // null with --alloc-gc-after 0; used by the reconcile thread
  std::unique_ptr<Reporter> reporter_;
  // Ephemeral disks moving in from other nodes; polled by the reconcile thread.
  std::unique_ptr<DiskMigrator> migrator_;
  std::unique_ptr<MasterSession> session_;
  std::unique_ptr<AllocWatcher> watcher_;
  std::unique_ptr<lb::Proxy> lb_;                          // null with --lb-disable
  std::unique_ptr<lb::ServiceWatcher> service_watcher_;  // feeds lb_
  std::unique_ptr<Router> router_;
  std::unique_ptr<HttpServer> http_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;                                 // GUARDED_BY(mu_)
  bool wake_ = false;                                 // GUARDED_BY(mu_)
  bool reset_reported_ = false;                       // GUARDED_BY(mu_)
  bool session_alive_ = false;                        // GUARDED_BY(mu_)
  std::optional<std::vector<v1::Allocation>> inbox_;  // GUARDED_BY(mu_)
  std::thread reconcile_thread_;
  bool shut_down_ = false;
};

}  // namespace orch::agent
