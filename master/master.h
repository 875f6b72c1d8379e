// Master: one orch master process's parts wired together — state store,
// log, controllers (scheduler worker, node liveness) and the REST server.
// Thread safety: Start/Shutdown from one thread.
#pragma once

#include <memory>

#include "common/http_server.h"
#include "common/metrics.h"
#include "common/status.h"
#include "master/config.h"

namespace orch::replication {
class RaftNode;
class Transport;
}  // namespace orch::replication

namespace orch::master {

class StateStore;
class EvalWorker;
class NodeLiveness;
class LeaderForwarder;
namespace acl {
class Authorizer;
}

class Master {
 public:
  ~Master();
  Master(const Master&) = delete;
  Master& operator=(const Master&) = delete;

  // Opens (or creates) the data dir, replays the log and starts serving.
  static Result<std::unique_ptr<Master>> Start(const MasterConfig& cfg);
  // Stops serving and the controllers; closes the databases. Idempotent.
  void Shutdown();

  uint16_t http_port() const;
  replication::RaftNode* raft() { return log_.get(); }

 private:
  Master() = default;

  MasterConfig cfg_;
  int lock_fd_ = -1;
  // GET /metrics; outlives every part that counts into it.
  std::unique_ptr<metrics::Registry> metrics_ = std::make_unique<metrics::Registry>();
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<replication::RaftNode> log_;
  std::unique_ptr<replication::Transport> transport_;
  std::unique_ptr<acl::Authorizer> acl_;
  std::unique_ptr<LeaderForwarder> forwarder_;
  std::unique_ptr<NodeLiveness> liveness_;
  std::unique_ptr<EvalWorker> worker_;
  std::unique_ptr<HttpServer> http_;
  bool stopped_ = false;
};

}  // namespace orch::master
