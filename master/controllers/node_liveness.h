// NodeLiveness: heartbeats are tracked in memory on the leader (as Nomad
// does: they do not go through the log); a node silent for its TTL is
// proposed DOWN, its allocations become lost and its jobs are re-evaluated.
// A heartbeat from a down node brings it back READY.
//
// A check costs what is due, not the number of nodes: each node heard has
// one entry in a queue ordered by when it was last heard, and a pass looks
// only at the entries older than the TTL (a node heard since goes back in
// at its new time). The state's whole node list is read only when this
// master becomes leader and then once per TTL, for nodes that are in the
// state without a heartbeat here (a new leader's, a restored image's).
// Thread safety: thread-safe; owns one thread.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "master/replication/replicated_log.h"
#include "master/state/state_store.h"
#include "orch/v1/types.pb.h"

namespace orch::master {

class NodeLiveness {
 public:
  NodeLiveness(StateStore* store, replication::ReplicatedLog* log, Clock* clock,
               std::chrono::milliseconds ttl)
      : store_(store), log_(log), clock_(clock), ttl_(ttl) {}
  ~NodeLiveness() { Stop(); }
  NodeLiveness(const NodeLiveness&) = delete;
  NodeLiveness& operator=(const NodeLiveness&) = delete;

  void Start();
  void RequestStop() { stop_ = true; }
  void Stop();

  // Records a heartbeat; returns NotFound for an unknown node. A node
  // marked down is marked ready again (a Raft write, on the leader).
  Status Heartbeat(const std::string& node_id, const v1::NodeLoad& load);
  // The same without ever writing or waiting for an apply, for the HTTP
  // server's I/O thread: nullopt when the node is down (Heartbeat must
  // write), so the caller hands the request to a worker.
  std::optional<Status> HeartbeatWithoutWrite(const std::string& node_id, const v1::NodeLoad& load);
  // The last load a node reported to this master (zero if none).
  v1::NodeLoad Load(const std::string& node_id) const;
  int64_t LastHeartbeatMs(const std::string& node_id) const;

  // Allocations' measured use as their agents report it (every few
  // seconds, with their status reports; not written to the log): kept on
  // the master that takes the reports (the leader) for a minute.
  void NoteUsage(const std::string& alloc_id, const v1::NodeLoad& usage);
  std::optional<v1::NodeLoad> Usage(const std::string& alloc_id) const;

  std::chrono::milliseconds ttl() const { return ttl_; }

  // One pass of the TTL check. Exposed for tests.
  void CheckOnce();
  // How many queue entries the passes have looked at, for tests.
  uint64_t entries_checked() const { return entries_checked_.load(); }

 private:
  using Steady = std::chrono::steady_clock::time_point;
  Status ProposeStatus(const std::string& node_id, v1::Node::Status status, const std::string& why);
  // Records a heartbeat and queues the node if it is not queued (mu_ held).
  void RecordLocked(const std::string& node_id, const v1::NodeLoad& load);
  // Queues every ready or draining node of the state not queued yet.
  void QueueUnqueuedNodes();

  struct Seen {
    Steady at;  // last heard; the epoch when never (queued by a sweep)
    int64_t wall_ms = 0;
    v1::NodeLoad load;
    bool queued = false;  // has an entry in due_
  };
  using SeenMap = std::unordered_map<std::string, Seen>;
  // A queued node: when it was last heard as of queueing. Elements of an
  // unordered_map keep their address while they are in it; one is erased
  // only when it has no entry here.
  struct Due {
    Steady at;
    SeenMap::value_type* node;
    bool operator>(const Due& o) const { return at > o.at; }
  };
  // Gives `node` its entry in due_, due a TTL after `at`, unless it has one
  // (mu_ held).
  void QueueLocked(SeenMap::value_type& node, Steady at);
  StateStore* store_;
  replication::ReplicatedLog* log_;
  Clock* clock_;
  std::chrono::milliseconds ttl_;
  mutable std::mutex mu_;
  // By node id; a hash, since every heartbeat looks it up.
  SeenMap seen_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;  // oldest first
  Steady next_sweep_{};
  std::atomic<uint64_t> entries_checked_{0};
  struct Used {
    v1::NodeLoad usage;
    std::chrono::steady_clock::time_point at;
  };
  std::unordered_map<std::string, Used> usage_;  // by allocation id
  std::size_t usage_pruned_at_ = 0;              // its size after the last prune
  Steady leader_since_{};
  bool was_leader_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace orch::master
