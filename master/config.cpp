#include "master/config.h"

#include "common/document.h"
#include "common/net.h"
#include "master/scheduler/config.h"
#include "master/services/service_ports.h"

namespace orch::master {

namespace {
// A CLI11 option taking a duration such as "10s" into `out`.
void AddDuration(CLI::App& app, const std::string& name, std::chrono::milliseconds* out,
                 const std::string& help) {
  app.add_option_function<std::string>(
         name,
         [out, name](const std::string& v) {
           auto d = ParseDuration(v);
           if (!d.ok()) throw CLI::ValidationError(name, d.status().message());
           *out = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
         },
         help)
      ->default_str(std::to_string(out->count()) + "ms");
}
}  // namespace

void AddMasterFlags(CLI::App& app, MasterConfig* cfg) {
  app.add_option("--id", cfg->id, "This master's member id")->capture_default_str();
  app.add_option("--data-dir", cfg->data_dir, "Folder for state.db and raft.db (required unless --dev)");
  app.add_option("--http", cfg->http, "REST API listen address host:port")->capture_default_str();
  app.add_option("--raft", cfg->raft, "Raft peer listen address host:port")->capture_default_str();
  app.add_option("--peers", cfg->peers, "Initial voters: id=host:port,... (includes this master)");
  app.add_option("--join", cfg->join, "http://HOST:PORT of a member, to start as a new empty member");
  app.add_option("--log-level", cfg->log_level, "trace|debug|info|warn|error")->capture_default_str();
  app.add_option("--log-format", cfg->log_format,
                 "text, or json: one JSON object per line with time, level, process, msg and the "
                 "ids the line "
                 "is about (alloc, job, node, eval, deployment, task) as fields")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_flag("--dev", cfg->dev,
               "Run one master with an agent in the same process (exec driver, data in a temporary "
               "folder unless --data-dir)");
  app.add_flag("--acl", cfg->acl,
               "Enforce ACLs: requests need a token (X-Orch-Token) whose policies allow them; "
               "`orchctl acl bootstrap` makes the first management token");
  app.add_option(
      "--tls-ca", cfg->tls_ca,
      "PEM file of the cluster CA: with --tls-cert and --tls-key, the REST API and the Raft port "
      "speak only mutual TLS with holders of its certificates (orchctl tls)");
  app.add_option("--tls-cert", cfg->tls_cert, "PEM certificate of this master, naming server.orch");
  app.add_option("--tls-key", cfg->tls_key, "PEM private key of --tls-cert");
  app.add_option("--body-limit", cfg->body_limit, "Largest request body in bytes")->capture_default_str();
  app.add_option("--restore-limit", cfg->restore_limit,
                 "Largest state image PUT /v1/operator/snapshot (orchctl operator snapshot "
                 "restore) takes, in "
                 "bytes; only a caller allowed to restore may send more than --body-limit")
      ->capture_default_str();
  app.add_option("--ui-dir", cfg->ui_dir,
                 "Serve the web UI (/ui/) from this folder instead of the files built in "
                 "(for working on master/ui/assets)")
      ->check(CLI::ExistingDirectory);
  app.add_option(
         "--http-workers", cfg->http_workers,
         "Threads answering REST requests (users' writes wait for their commit without one, as "
         "blocking queries do; agents' reports and registrations, restores and forwarded writes "
         "hold one until they commit)")
      ->capture_default_str()
      ->check(CLI::Range(4, 65536));
  app.add_option(
         "--http-quick-threads", cfg->http_quick_threads,
         "Threads running the leader's handlers of users' writes (they answer when the write "
         "commits, holding no thread) and the answers of those writes")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--http-io-threads", cfg->http_io_threads,
                 "Threads reading and writing REST connections (heartbeats are answered on them)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--http-max-connections", cfg->http_max_connections,
                 "Open REST connections at most (0: the open-file limit, raised to its hard limit, less 512)")
      ->capture_default_str();
  app.add_option("--http-max-conns-per-client", cfg->http_max_conns_per_client,
                 "Connections one client address may hold (past it: 429)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--http-max-in-flight-per-client", cfg->http_max_in_flight_per_client,
                 "Requests of one client address with the workers at once, blocking queries included "
                 "(past it: 429; 0: three quarters of --http-workers)")
      ->capture_default_str();
  AddDuration(app, "--heartbeat-interval", &cfg->heartbeat_interval, "How often agents heartbeat");
  AddDuration(app, "--heartbeat-ttl", &cfg->heartbeat_ttl, "Silence after which a node is marked down");
  AddDuration(app, "--raft-tick", &cfg->raft_tick, "Raft tick; heartbeats go out every tick");
  app.add_option("--election-ticks", cfg->election_ticks, "Ticks without a leader before an election")
      ->capture_default_str()
      ->check(CLI::Range(3, 1000));
  app.add_option(
         "--snapshot-entries", cfg->snapshot_entries,
         "Applied entries between snapshots, at least (a state past 1 MiB also waits until the log "
         "since the last holds as many bytes as its image); then the log is compacted")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{2}, uint64_t{100'000'000}));
  app.add_option("--scheduler-weights", cfg->scheduler_weights,
                 "Scoring weights, e.g. binpack=1,balance=1,load=1,anti_affinity=0.5,spread=1,target_load=70");
  app.add_option("--scheduler-k", cfg->scheduler_k, "Nodes scored per placement (0: log2 of the eligible, min 4)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  app.add_option("--service-port-range", cfg->service_port_range,
                 "Cluster ports (FIRST-LAST) assigned to services whose job names no listen port")
      ->capture_default_str();
  app.add_option("--job-versions", cfg->job_versions,
                 "Versions of each job kept for `orchctl job history` and revert (the newest stable one is kept too)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  AddDuration(app, "--gc-interval", &cfg->gc_interval, "How often the leader collects garbage");
  AddDuration(app, "--eval-gc-threshold", &cfg->eval_gc_threshold,
              "Age at which complete/failed evaluations and terminal allocations are deleted");
  AddDuration(app, "--job-gc-threshold", &cfg->job_gc_threshold,
              "Age at which dead jobs (stopped, or batch and finished) are deleted with their history");
  AddDuration(app, "--deployment-gc-threshold", &cfg->deployment_gc_threshold,
              "Age at which ended deployments (but each job's latest) are deleted");
  app.set_config("--config", "", "Read flags from an INI/TOML file (keys as flag names)");
}

Status ValidateMasterConfig(const MasterConfig& cfg) {
  if (cfg.id.empty()) return Status::InvalidArgument("--id: must not be empty");
  if (cfg.acl && cfg.dev) {
    return Status::InvalidArgument(
        "--acl: not with --dev (its in-process agent has no token); run masters and agents");
  }
  if (cfg.gc_interval < std::chrono::seconds(1)) {
    return Status::InvalidArgument("--gc-interval: must be at least 1s");
  }
  {
    sched::SchedulerConfig sc;
    ORCH_RETURN_IF_ERROR(sched::ApplyWeights(cfg.scheduler_weights, &sc).WithContext("--scheduler-weights"));
  }
  if (cfg.data_dir.empty() && !cfg.dev) return Status::InvalidArgument("--data-dir: is required");
  ORCH_RETURN_IF_ERROR(CheckTlsFiles(cfg.tls()));
  if (cfg.tls().enabled() && cfg.dev) {
    return Status::InvalidArgument(
        "--tls-ca: not with --dev (its in-process agent has no certificate)");
  }
  ORCH_RETURN_IF_ERROR(ParseHostPort(cfg.http).status().WithContext("--http"));
  ORCH_RETURN_IF_ERROR(ParseHostPort(cfg.raft).status().WithContext("--raft"));
  if (!cfg.peers.empty()) {
    auto peers = ParsePeers(cfg.peers);
    if (!peers.ok()) return peers.status().WithContext("--peers");
    bool self = false;
    for (const auto& [id, hp] : *peers) self |= id == cfg.id;
    if (!self) return Status::InvalidArgument("--peers: does not include this master's --id " + cfg.id);
    if (!cfg.join.empty()) {
      return Status::InvalidArgument("--join: a new member starts empty; do not give --peers with it");
    }
  }
  if (!cfg.join.empty()) {
    auto urls = ParseUrlList(cfg.join);
    if (!urls.ok()) return urls.status().WithContext("--join");
  }
  ORCH_RETURN_IF_ERROR(ParseServicePortRange(cfg.service_port_range).status().WithContext("--service-port-range"));
  if (cfg.raft_tick.count() <= 0) return Status::InvalidArgument("--raft-tick: must be positive");
  if (cfg.heartbeat_interval.count() <= 0 || cfg.heartbeat_ttl <= cfg.heartbeat_interval) {
    return Status::InvalidArgument("--heartbeat-ttl: must be longer than --heartbeat-interval");
  }
  return Status::Ok();
}

}  // namespace orch::master
