// The master's configuration: flags (DESIGN.md section 7) and, with
// --config FILE, the same keys from an INI/TOML file (CLI11's config format).
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <string>

#include "common/status.h"
#include "common/tls.h"

namespace orch::master {

struct MasterConfig {
  std::string id = "m1";
  std::string data_dir;
  std::string http = "127.0.0.1:4646";
  std::string raft = "127.0.0.1:4647";
  std::string peers;  // "m1=127.0.0.1:4647,m2=...": the initial voters
  std::string join;   // "http://HOST:PORT" of a member, for a new master
  std::string log_level = "info";
  std::string log_format = "text";  // text | json (one JSON object per line)
  bool dev = false;
  // ACLs: every REST request but health, metrics, the leader's address and
  // bootstrap needs a token granting it (README "Securing a cluster").
  // Every master of a cluster must agree.
  bool acl = false;
  // Mutual TLS on the REST API and the Raft port (common/tls.h): the
  // cluster CA, this master's certificate (naming server.orch) and key.
  std::string tls_ca, tls_cert, tls_key;
  TlsFiles tls() const { return {tls_ca, tls_cert, tls_key}; }
  std::size_t body_limit = 1 << 20;
  // Largest state image PUT /v1/operator/snapshot takes (held in memory).
  std::size_t restore_limit = std::size_t{512} << 20;
  // Serve the web UI's files from this folder instead of the copies built
  // in (working on master/ui/assets without a rebuild).
  std::string ui_dir;
  // Threads answering REST requests. A blocking query waits without one (it
  // is parked until the state's index moves); a write holds one until it
  // commits, so this bounds the writes in flight (and group commit).
  int http_workers = 512;
  // Threads reading and writing REST connections; heartbeats are answered
  // on them (without a worker). One was the leader's limit at 5,000 agents.
  int http_io_threads = 2;
  int http_quick_threads = 2;
  // Open REST connections at most (0: from the open-file limit, which the
  // master raises to its hard limit at start, less a reserve for Raft, the
  // databases and logs).
  std::size_t http_max_connections = 0;
  // One client address's share: connections, and requests with the workers
  // at once (0: three quarters of the workers), so one client cannot starve
  // the others.
  std::size_t http_max_conns_per_client = 512;
  std::size_t http_max_in_flight_per_client = 0;
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds heartbeat_ttl{10'000};
  // Raft timing: a tick, and the ticks without a leader before an election
  // (randomized up to twice that).
  // 20ms x 25 ticks: an election starts 500-1000ms after the leader falls
  // silent (etcd's default is 1 s; raise both on slow or distant
  // networks). Shorter timeouts let one slow disk write of a large entry,
  // or a busy machine, cost the cluster its leader. A leader whose process
  // dies is noticed sooner: its closed connections tell the followers at
  // once (replication/tcp_transport.h).
  std::chrono::milliseconds raft_tick{20};
  int election_ticks = 25;
  // Applied entries between snapshots of state.db (then the log is compacted).
  uint64_t snapshot_entries = 10000;
  // Scheduler: weights of the scoring terms ("binpack=1,load=1,
  // anti_affinity=0.5,spread=1,target_load=70", any subset) and the nodes
  // scored per placement (0: log2 of the eligible nodes, at least 4).
  std::string scheduler_weights;
  int scheduler_k = 0;
  // Cluster ports assigned to services whose job names none (FIRST-LAST,
  // master/services/service_ports.h). Every master should use the same.
  std::string service_port_range = "12000-12999";
  // Versions of each job kept for history and revert (the newest stable
  // one is kept too).
  int job_versions = 10;
  // Garbage collection on the leader (master/state/gc_rules.h): how often,
  // and how old complete evaluations, terminal allocations, dead jobs and
  // ended deployments must be before they are deleted.
  std::chrono::milliseconds gc_interval{60'000};
  std::chrono::milliseconds eval_gc_threshold{3'600'000};
  std::chrono::milliseconds job_gc_threshold{4 * 3'600'000};
  std::chrono::milliseconds deployment_gc_threshold{3'600'000};
};

void AddMasterFlags(CLI::App& app, MasterConfig* cfg);
// Checks values that CLI11 cannot (addresses, peers containing this id).
Status ValidateMasterConfig(const MasterConfig& cfg);

}  // namespace orch::master
