#include "master/master.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "api/client/client.h"
#include "common/clock.h"
#include "common/net.h"
#include "common/router.h"
#include "master/controllers/eval_worker.h"
#include "master/controllers/node_liveness.h"
#include "master/http/all_routes.h"
#include "master/http/api.h"
#include "master/http/forward.h"
#include "master/http/operator_api.h"
#include "master/raft/cluster_id.h"
#include "master/replication/raft_node.h"
#include "master/replication/tcp_transport.h"
#include "master/scheduler/config.h"
#include "master/state/state_metrics.h"
#include "master/state/state_store.h"

namespace orch::master {
namespace {

// Raises the open-file limit to its hard limit and returns the REST
// connections it leaves room for, keeping 512 descriptors for Raft peers,
// the databases, logs and outgoing requests.
std::size_t ConnectionsTheFdLimitAllows() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 1024;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  const rlim_t cur = lim.rlim_cur == RLIM_INFINITY ? rlim_t{1} << 20 : lim.rlim_cur;
  const std::size_t room = cur > 1024 ? static_cast<std::size_t>(cur - 512) : static_cast<std::size_t>(cur / 2);
  spdlog::info("open-file limit {}: up to {} REST connections", cur, room);
  return room;
}

}  // namespace
namespace {

// The members of the cluster a new master joins, from any of the given
// REST addresses, retried for a while: the cluster may be electing.
Result<v1::MemberList> FetchMembers(const std::string& join, const TlsFiles& tls) {
  ORCH_ASSIGN_OR_RETURN(auto urls, ParseUrlList(join));
  OrchClient client(urls, OrchClientOptions{"", "", tls});
  Status last;
  for (int attempt = 0; attempt < 30; ++attempt) {
    auto list = client.ListMembers();
    if (list.ok()) {
      if (list->members_size() > 0) return std::move(list).value();
      last = Status::Unavailable("no members listed yet");
    } else {
      last = list.status();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return last.WithContext("--join " + join + ": cannot list the cluster's members");
}

// A master starting with an empty data dir under an id the cluster lists:
// either a new member added before it first started (etcd's order), or one
// whose data dir was wiped. The leader tells them apart: it has seen the
// wiped one acknowledge entries (match index > 0; an acknowledgement follows
// the fsync). Joining again under that id would let it vote and acknowledge
// with a log it no longer holds, so it must leave the configuration first.
// Asks the leader when `list` came from a follower (which knows no match
// indexes); when no leader answers, nothing is refused.
Status RefuseWipedMember(const MasterConfig& cfg, const v1::MemberList& list) {
  auto acknowledged = [&](const v1::MemberList& l) {
    for (const auto& member : l.members()) {
      if (member.id() == cfg.id) return member.match_index() > 0;
    }
    return false;
  };
  bool listed = false, from_leader = false;
  std::string leader_http;
  for (const auto& member : list.members()) {
    listed |= member.id() == cfg.id;
    from_leader |= member.match_index() > 0;
    if (member.leader()) leader_http = member.http_address();
  }
  if (!listed) return Status::Ok();
  bool wiped = acknowledged(list);
  if (!wiped && !from_leader && !leader_http.empty()) {
    auto from = OrchClient({leader_http}, OrchClientOptions{"", "", cfg.tls()}).ListMembers();
    wiped = from.ok() && acknowledged(*from);
  }
  if (!wiped) return Status::Ok();
  return Status::FailedPrecondition(
      "--join " + cfg.join + ": " + cfg.id + " is a member of the cluster that has " +
      "acknowledged entries, but " + cfg.data_dir +
      " holds none of its data (wiped or replaced?); remove it first (orchctl "
      "cluster remove " +
      cfg.id + "), then start it again and add it");
}

}  // namespace

Master::~Master() { Shutdown(); }

Result<std::unique_ptr<Master>> Master::Start(const MasterConfig& cfg) {
  ORCH_RETURN_IF_ERROR(ValidateMasterConfig(cfg));
  std::unique_ptr<Master> m(new Master());
  m->cfg_ = cfg;
  std::error_code ec;
  std::filesystem::create_directories(cfg.data_dir, ec);
  if (ec) return Status::Unavailable("cannot create data dir " + cfg.data_dir + ": " + ec.message());
  // Two masters on one data dir would corrupt it: hold an exclusive lock.
  std::string lock_path = cfg.data_dir + "/LOCK";
  m->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (m->lock_fd_ < 0 || ::flock(m->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return Status::FailedPrecondition("data dir " + cfg.data_dir +
                                      " is in use by another orch-master (" + std::strerror(errno) + ")");
  }
  ORCH_ASSIGN_OR_RETURN(m->store_, StateStore::Open(cfg.data_dir + "/state.db"));
  ORCH_ASSIGN_OR_RETURN(HostPort http_hp, ParseHostPort(cfg.http));
  replication::RaftNodeOptions ro;
  ro.member_id = cfg.id;
  ro.raft_address = cfg.raft;
  ro.http_address = std::string(cfg.tls().enabled() ? "https://" : "http://") +
                    (http_hp.host == "0.0.0.0" ? std::string("127.0.0.1") : http_hp.host) + ":" +
                    std::to_string(http_hp.port);
  if (cfg.join.empty()) {
    if (cfg.peers.empty()) {
      ro.initial_peers = {{cfg.id, cfg.raft}};
    } else {
      ORCH_ASSIGN_OR_RETURN(auto peers, ParsePeers(cfg.peers));
      for (const auto& [id, hp] : peers) ro.initial_peers.emplace_back(id, hp.ToString());
    }
  }
  ro.tick = cfg.raft_tick;
  ro.election_ticks = cfg.election_ticks;
  ro.snapshot_entries = cfg.snapshot_entries;
  ro.keep_entries = std::max<uint64_t>(cfg.snapshot_entries / 2, 1);
  ORCH_ASSIGN_OR_RETURN(m->log_, replication::RaftNode::Open(ro, cfg.data_dir, m->store_.get()));
  m->log_->RegisterMetrics(m->metrics_.get());
  RegisterStateMetrics(m->metrics_.get(), m->store_.get());
  if (!cfg.join.empty()) {
    ORCH_ASSIGN_OR_RETURN(auto list, FetchMembers(cfg.join, cfg.tls()));
    uint64_t cluster = 0;
    if (!list.cluster_id().empty() && !raft::ParseClusterId(list.cluster_id(), &cluster)) {
      return Status::InvalidArgument("--join " + cfg.join + ": the cluster answered a malformed cluster id \"" +
                                     list.cluster_id() + "\"");
    }
    if (m->log_->OpenedEmpty()) ORCH_RETURN_IF_ERROR(RefuseWipedMember(cfg, list));
    ORCH_RETURN_IF_ERROR(m->log_->AdoptClusterId(cluster).WithContext("--join " + cfg.join));
    m->log_->AddKnownMembers({list.members().begin(), list.members().end()});
    spdlog::info("master {}: joining cluster {} through {}: {} member(s) known; add this master with "
                 "`orchctl cluster add {} --raft {} --http {}`",
                 cfg.id, list.cluster_id(), cfg.join, list.members_size(), cfg.id, cfg.raft, ro.http_address);
  }
  replication::TcpTransportOptions to;
  to.self_id = replication::RaftIdOf(cfg.id);
  to.cluster_id = m->log_->ClusterId();
  to.listen = cfg.raft;
  to.tls = cfg.tls();
  ORCH_ASSIGN_OR_RETURN(auto transport,
                        replication::TcpTransport::Start(to, m->log_->TransportCallbacks()));
  m->transport_ = std::move(transport);
  m->log_->Start(m->transport_.get());
  Clock* clock = SystemClock::Get();
  m->liveness_ = std::make_unique<NodeLiveness>(m->store_.get(), m->log_.get(), clock, cfg.heartbeat_ttl);
  m->worker_ = std::make_unique<EvalWorker>(m->store_.get(), m->log_.get(), clock);
  m->worker_->SetLoadSource([l = m->liveness_.get()](const std::string& id) { return l->Load(id); });
  m->worker_->SetMetrics(m->metrics_.get());
  {
    sched::SchedulerConfig sc;
    ORCH_RETURN_IF_ERROR(sched::ApplyWeights(cfg.scheduler_weights, &sc));
    sc.k = cfg.scheduler_k;
    // Each master draws its own seed: plans are made on the leader and
    // replicated, so nothing needs the same sequence elsewhere, and agents
    // of different clusters sharing one host (tests, dev boxes) should not
    // all be offered the same dynamic ports.
    sc.seed = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
    m->worker_->SetConfig(sc);
    GcOptions gc;
    gc.interval_ms = cfg.gc_interval.count();
    gc.eval_threshold_ms = gc.alloc_threshold_ms = cfg.eval_gc_threshold.count();
    gc.job_threshold_ms = cfg.job_gc_threshold.count();
    gc.deployment_threshold_ms = cfg.deployment_gc_threshold.count();
    m->worker_->SetGcOptions(gc);
  }

  auto router = std::make_shared<Router>();
  m->acl_ = std::make_unique<acl::Authorizer>(m->store_.get(), router.get(), cfg.acl);
  ApiDeps deps;
  deps.acl = m->acl_.get();
  deps.store = m->store_.get();
  deps.log = m->log_.get();
  deps.liveness = m->liveness_.get();
  deps.clock = clock;
  deps.heartbeat_interval = cfg.heartbeat_interval;
  ORCH_ASSIGN_OR_RETURN(deps.service_ports, ParseServicePortRange(cfg.service_port_range));
  deps.keep_versions = static_cast<uint32_t>(cfg.job_versions);
  deps.tls = cfg.tls();
  deps.metrics = m->metrics_.get();
  deps.ui_dir = cfg.ui_dir;
  RegisterAllRoutes(router.get(), deps, m->log_.get());
  m->forwarder_ = std::make_unique<LeaderForwarder>(m->log_.get(), cfg.id, cfg.tls());

  HttpServerOptions opts;
  opts.host = http_hp.host;
  opts.port = http_hp.port;
  opts.body_limit = cfg.body_limit;
  opts.worker_threads = cfg.http_workers;
  opts.quick_threads = cfg.http_quick_threads;
  // Users' writes on the leader answer when they commit without holding a
  // thread (Router::Waits::kNever): the quick pool takes them. On a follower
  // the same write is forwarded to the leader, which waits: the workers.
  opts.quick = [log = m->log_.get(), r = router.get()](const HttpRequest& req) {
    return log->IsLeader() && r->NeverWaits(req);
  };
  opts.io_threads = cfg.http_io_threads;
  opts.max_connections = cfg.http_max_connections > 0 ? cfg.http_max_connections : ConnectionsTheFdLimitAllows();
  opts.max_connections_per_client = cfg.http_max_conns_per_client;
  opts.max_in_flight_per_client = cfg.http_max_in_flight_per_client > 0
                                      ? cfg.http_max_in_flight_per_client
                                      : static_cast<std::size_t>(std::max(1, cfg.http_workers * 3 / 4));
  opts.name = "master " + cfg.id;
  opts.tls = cfg.tls();  // any certificate of the cluster CA; ACLs decide the rest
  // Heartbeats on the leader: answered on the I/O thread, never behind the
  // writes that hold the workers.
  replication::ReplicatedLog* raft = m->log_.get();
  const acl::Authorizer* authz = m->acl_.get();
  opts.inline_handler = [deps, raft, authz](const HttpRequest& req) -> std::optional<HttpResponse> {
    if (!raft->IsLeader() || !HeartbeatNodeId(req)) return std::nullopt;
    if (auto denied = authz->CheckRoute(req)) return denied;  // from memory: no SQLite read
    return HeartbeatWithoutWrite(req, deps);
  };
  // Only a caller allowed to restore a snapshot may send an image larger
  // than --body-limit (checked on the request's head, before the body).
  opts.large_body = [authz](const HttpRequest& head) {
    return head.method == "PUT" && head.path == kSnapshotPath && !authz->CheckRoute(head);
  };
  opts.large_body_limit = cfg.restore_limit;
  opts.metrics = m->metrics_.get();
  opts.route_of = [r = router.get()](const HttpRequest& req) {
    auto found = r->Find(req);
    return found ? *found->key : std::string("unmatched");
  };
  LeaderForwarder* fwd = m->forwarder_.get();
  ORCH_ASSIGN_OR_RETURN(m->http_,
                        HttpServer::Start(opts, [router, fwd, authz](const HttpRequest& req) {
                          return fwd->Handle(*router, req, *authz);
                        }));
  m->liveness_->Start();
  m->worker_->Start();
  spdlog::info("master {}: ready at index {}, data in {}", cfg.id, m->store_->AppliedIndex(), cfg.data_dir);
  return m;
}

uint16_t Master::http_port() const { return http_ ? http_->port() : 0; }

void Master::Shutdown() {
  if (stopped_) return;
  stopped_ = true;
  spdlog::info("master {}: shutting down", cfg_.id);
  // Controllers may be waiting on a write that cannot commit any more (the
  // quorum is gone): closing the log fails it at once instead of after its
  // timeout.
  if (worker_) worker_->RequestStop();
  if (liveness_) liveness_->RequestStop();
  if (log_) log_->Close();
  if (worker_) worker_->Stop();
  if (liveness_) liveness_->Stop();
  if (store_) store_->Close();  // wakes blocking queries so the server can drain
  if (http_) http_->Shutdown();
  if (transport_) transport_->Stop();
  http_.reset();
  forwarder_.reset();
  transport_.reset();
  worker_.reset();
  liveness_.reset();
  log_.reset();
  store_.reset();
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
}

}  // namespace orch::master
