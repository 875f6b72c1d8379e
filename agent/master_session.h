// MasterSession: the agent's membership with the masters. Registers the node
// (retrying with backoff until a master answers), then heartbeats every
// heartbeat_interval_ms with the measured load. A heartbeat answered 404
// means the masters forgot the node: it registers again (registering is
// idempotent, the node id is the same).
// Thread safety: public methods are thread-safe; callbacks run on the
// session's thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "agent/load_monitor.h"
#include "api/client/client.h"

namespace orch::agent {

struct MasterSessionCallbacks {
  std::function<void()> on_registered;    // after each successful registration
  std::function<void()> on_unregistered;  // when the masters forgot the node
  // After each heartbeat: its round trip and whether it was answered 200.
  std::function<void(double seconds, bool ok)> on_heartbeat;
};

class MasterSession {
 public:
  // `client` and `load` must outlive the session. Starts its thread.
  MasterSession(OrchClient* client, v1::Node node, LoadMonitor* load,
                MasterSessionCallbacks callbacks);
  ~MasterSession();  // stops the thread
  MasterSession(const MasterSession&) = delete;
  MasterSession& operator=(const MasterSession&) = delete;

  bool registered() const { return registered_.load(); }
  // Registers again at the next opportunity (e.g. an endpoint said 404).
  void Reregister();

  // Replaces what the node says of itself (e.g. a driver became available)
  // and registers again so the masters learn it. The id must not change.
  void UpdateNode(v1::Node node);

 private:
  void Run();
  Status Register();

  OrchClient* client_;
  v1::Node node_;  // GUARDED_BY(mu_)
  const std::string node_id_;
  const std::string node_name_;
  LoadMonitor* load_;
  MasterSessionCallbacks callbacks_;
  std::atomic<bool> registered_{false};
  std::chrono::milliseconds interval_{1000};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;        // GUARDED_BY(mu_)
  bool reregister_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace orch::agent
