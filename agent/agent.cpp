#include "agent/agent.h"

#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/alloc_gc.h"
#include "agent/alloc_watcher.h"
#include "agent/disk_migrator.h"
#include "agent/drivers/containerd/containerd_driver.h"
#include "agent/drivers/docker/docker_driver.h"
#include "agent/drivers/exec_driver.h"
#include "agent/files.h"
#include "agent/health/health_monitor.h"
#include "agent/http_api.h"
#include "agent/lb/proxy.h"
#include "agent/lb/service_config.h"
#include "agent/lb/service_watcher.h"
#include "agent/load_monitor.h"
#include "agent/master_session.h"
#include "agent/node_info.h"
#include "agent/reconciler.h"
#include "agent/reporter.h"
#include "agent/reprobe.h"
#include "agent/state_store.h"
#include "api/client/client.h"
#include "common/capabilities.h"
#include "common/document.h"
#include "common/http_server.h"
#include "common/ids.h"
#include "common/net.h"
#include "common/router.h"

namespace orch::agent {

namespace {
// How long one blocking allocation query may wait on the masters.
constexpr std::chrono::milliseconds kWatchWait{30'000};
// Reconcile at least this often, even without news.
constexpr std::chrono::milliseconds kReconcileTick{1000};

// Exec tasks run as other users and find their directories by absolute
// paths (ORCH_ALLOC_DIR, ORCH_TASK_DIR): every folder above the data dir
// must let others pass (x). Says which one does not.
void WarnIfNotTraversable(const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(data_dir, ec).parent_path();
  for (; !ec && p.has_relative_path(); p = p.parent_path()) {
    struct stat st;
    if (stat(p.c_str(), &st) == 0 && !(st.st_mode & S_IXOTH)) {
      spdlog::warn(
          "{} is mode {:o}: exec tasks (running as other users) cannot reach their "
          "directories under {}; make it 0711 or 0755",
          p.string(), st.st_mode & 0777, data_dir);
      return;
    }
  }
}

}  // namespace

Agent::Agent(AgentConfig cfg) : cfg_(std::move(cfg)) {}

Agent::~Agent() { Shutdown(); }

Result<std::unique_ptr<Agent>> Agent::Start(const AgentConfig& cfg) {
  ORCH_RETURN_IF_ERROR(ValidateAgentConfig(cfg));
  std::unique_ptr<Agent> agent(new Agent(cfg));
  Status st = agent->Init();
  if (!st.ok()) {
    agent->Shutdown();
    return st;
  }
  return agent;
}

Status Agent::Init() {
  ORCH_RETURN_IF_ERROR(MakeDirs(cfg_.data_dir));
  // Tasks running as other users reach their directories through it;
  // nobody but the agent may list it (its own files are 0600).
  if (chmod(cfg_.data_dir.c_str(), 0711) != 0) {
    spdlog::warn("cannot make {} 0711: {}", cfg_.data_dir, strerror(errno));
  }
  if (cfg_.exec_isolation) WarnIfNotTraversable(cfg_.data_dir);
  ORCH_ASSIGN_OR_RETURN(node_id_, LoadOrCreateNodeId(cfg_.data_dir));
  if (cfg_.name.empty()) cfg_.name = Hostname();

  ORCH_ASSIGN_OR_RETURN(node_secret_, LoadOrCreateNodeSecret(cfg_.data_dir));

  // HTTP first: a port that cannot be bound fails the start, loudly.
  ORCH_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(cfg_.http));
  router_ = MakeAgentRouter(
      cfg_.data_dir, [id = node_id_] { return id; },
      [this](const std::string& alloc_id, const std::string& task, const LogOptions& opts,
             const LogSink& sink) -> Status {
        // drivers_ is complete once ready, and stays so until the HTTP
        // server (this handler's caller) has stopped.
        if (!drivers_ready_.load()) return Status::Unavailable("the agent is starting");
        std::string tid = TaskId(alloc_id, task);
        std::map<std::string, TaskDriver*> drivers;
        {
          std::lock_guard lk(drivers_mu_);
          drivers = drivers_;
        }
        for (auto& [name, d] : drivers) {
          if (d->Inspect(tid).ok()) return d->Logs(tid, opts, sink);
        }
        return Status::NotFound("no driver tracks task " + tid);
      },
      SecretHash(node_secret_), metrics_.get(),
      [this](const std::string& alloc_id) {
        // Does a driver still run a task of it? (Thread-safe driver calls.)
        if (!drivers_ready_.load()) return true;
        std::map<std::string, TaskDriver*> drivers;
        {
          std::lock_guard lk(drivers_mu_);
          drivers = drivers_;
        }
        const std::string prefix = alloc_id + "/";
        for (auto& [name, d] : drivers) {
          for (const auto& tid : d->List()) {
            if (tid.rfind(prefix, 0) != 0) continue;
            auto st = d->Inspect(tid);
            if (st.ok() && st->running()) return true;
          }
        }
        return false;
      });
  HttpServerOptions http_opts;
  http_opts.metrics = metrics_.get();
  http_opts.route_of = [r = router_.get()](const HttpRequest& req) {
    auto found = r->Find(req);
    return found ? *found->key : std::string("unmatched");
  };
  http_opts.host = hp.host;
  http_opts.port = hp.port;
  http_opts.worker_threads = 8;  // a followed log holds one while it streams
  http_opts.name = "agent-http";
  // With TLS, only masters (server.orch) may call the agent's API.
  http_opts.tls = cfg_.tls;
  http_opts.tls_peer_names = {std::string(TlsRoleName(TlsRole::kServer))};
  Router* router = router_.get();
  auto server =
      HttpServer::Start(http_opts, [router](const HttpRequest& r) { return router->Handle(r); });
  if (!server.ok()) return server.status().WithContext("agent http " + cfg_.http);
  http_ = std::move(server).value();
  http_port_ = http_->port();
  // A wildcard listen address is no address for others to reach us at.
  bool wildcard = hp.host == "0.0.0.0" || hp.host == "::" || hp.host == "[::]";
  std::string address = std::string(cfg_.tls.enabled() ? "https://" : "http://") +
                        (wildcard ? Hostname() : hp.host) + ":" + std::to_string(http_port_);
  address_ = address;

  std::vector<std::string> enabled;
  for (const auto& d : cfg_.drivers) {
    if (d == "exec") {
      ExecDriverOptions exec_opts;
      exec_opts.cgroups = CgroupOptions{cfg_.cgroup_parent, cfg_.cgroup_mode};
      exec_opts.log_max_bytes = cfg_.task_log_max_mib * 1024 * 1024;
      exec_opts.log_max_files = cfg_.task_log_max_files;
      exec_opts.isolate = cfg_.exec_isolation;
      if (exec_opts.isolate && geteuid() != 0) {
        spdlog::warn(
            "exec tasks run unisolated, as this agent's user: namespaces and users need root");
        exec_opts.isolate = false;
      }
      exec_opts.users.default_user = cfg_.exec_user;
      exec_opts.users.allowed_users = cfg_.exec_allowed_users;
      exec_opts.users.allow_root = cfg_.exec_allow_root;
      exec_opts.users.allowed_caps =
          cfg_.exec_allowed_caps.empty() ? DefaultCapabilities() : cfg_.exec_allowed_caps;
      exec_opts.pids_limit = cfg_.exec_pids_limit;
      if (cfg_.exec_chroot) exec_opts.chroot_paths = cfg_.exec_chroot_paths;
      exec_ = std::make_unique<ExecDriver>(exec_opts);
      drivers_["exec"] = exec_.get();
      enabled.push_back(d);
    } else if (d == "docker" || d == "containerd") {
      // Advertised only when the runtime answers; looked for again every
      // --docker-probe-interval until it does.
      const bool docker = d == "docker";
      if (Status st = docker ? ConnectDocker() : ConnectContainerd(); !st.ok()) {
        std::chrono::milliseconds every{0};
        if (cfg_.docker_probe_interval != "0") {
          ORCH_ASSIGN_OR_RETURN(auto iv, ParseDuration(cfg_.docker_probe_interval));
          every = std::chrono::duration_cast<std::chrono::milliseconds>(iv);
        }
        spdlog::warn(
            "driver {}: {}; not advertised{}", d, st.message(),
            every.count() > 0 ? ", looking again every " + cfg_.docker_probe_interval : "");
        (docker ? docker_probe_ : containerd_probe_) = std::make_unique<Reprobe>(
            every, SystemClock::Get(),
            [this, docker] { return (docker ? ConnectDocker() : ConnectContainerd()).ok(); });
        continue;
      }
      drivers_[d] = docker ? static_cast<TaskDriver*>(docker_.get()) : containerd_.get();
      enabled.push_back(d);
    } else {
      spdlog::warn("driver {}: not available in this build yet, not advertised", d);
    }
  }
  if (drivers_.empty() && !docker_probe_ && !containerd_probe_) {
    return Status::FailedPrecondition("no usable task driver among --drivers");
  }
  enabled_ = enabled;
  drivers_ready_ = true;

  store_ = std::make_unique<StateStore>(cfg_.data_dir);
  ORCH_RETURN_IF_ERROR(store_->Init());
  RunnerContext ctx;
  // Set below, before the reconcile thread runs.
  ctx.report_now = [this](v1::AllocationUpdate u) {
    std::vector<v1::AllocationUpdate> one;
    one.push_back(std::move(u));
    reporter_->Submit(std::move(one));
  };
  ctx.data_dir = cfg_.data_dir;
  ctx.drivers = drivers_;
  for (const auto& [name, v] : cfg_.host_volumes) {
    ctx.host_volumes[name].set_path(v.path);
    ctx.host_volumes[name].set_read_only(v.read_only);
  }
  const char* path = std::getenv("PATH");
  ctx.task_path = path ? path : "";
  // Health checks run on the monitor's thread; a changed verdict wakes the
  // reconcile loop so it is reported at once.
  health_ = std::make_unique<health::HealthMonitor>(SystemClock::Get(), [this] { Wake(); });
  health_->CountInto(counted_.health_checks);
  health_->Start();
  ctx.health = health_.get();
  ctx.metrics = &counted_;
  // Set below, before the reconcile thread runs.
  ctx.migrate_disk = [this](const v1::Allocation& alloc) { return migrator_->Poll(alloc); };
  reconciler_ = std::make_unique<Reconciler>(std::move(ctx), store_.get());
  ORCH_RETURN_IF_ERROR(reconciler_->Restore());
  for (auto& [name, d] : drivers_) d->SetEventCallback([this] { Wake(); });

  client_ = std::make_unique<OrchClient>(cfg_.masters,
                                         OrchClientOptions{cfg_.token, node_secret_, cfg_.tls});
  std::vector<TaskDriver*> ds;
  for (auto& [name, d] : drivers_) ds.push_back(d);
  load_ = std::make_unique<LoadMonitor>(ds, SystemClock::Get(), 0.3, /*measure_node=*/true);
  load_->Start(std::chrono::seconds(1));
  reconciler_->SetUsageSource([this](const std::string& id) { return load_->AllocUsage(id); });
  if (cfg_.alloc_gc_after != "0") {
    ORCH_ASSIGN_OR_RETURN(auto gc_after, ParseDuration(cfg_.alloc_gc_after));
    gc_ = std::make_unique<AllocGc>(
        cfg_.data_dir, std::chrono::duration_cast<std::chrono::milliseconds>(gc_after),
        SystemClock::Get());
  }
  reporter_ = std::make_unique<Reporter>(client_.get(), node_id_, [this] {
    std::lock_guard lk(mu_);
    if (session_alive_) session_->Reregister();
  });

  DiskSource disks;
  disks.size = [this](const std::string& alloc_id) -> Result<int64_t> {
    ORCH_ASSIGN_OR_RETURN(auto r, client_->PreviousDiskSize(node_id_, alloc_id));
    return r.bytes();
  };
  disks.fetch = [this](const std::string& alloc_id,
                       const std::function<bool(std::string_view)>& on_data) {
    return client_->PreviousDisk(node_id_, alloc_id, on_data);
  };
  migrator_ = std::make_unique<DiskMigrator>(cfg_.data_dir, std::move(disks), [this] { Wake(); });

  reconcile_thread_ = std::thread([this] { ReconcileLoop(); });

  MasterSessionCallbacks cb;
  cb.on_registered = [this] {
    {
      // The masters may have lost what we told them: say it all again.
      std::lock_guard lk(mu_);
      reset_reported_ = true;
      wake_ = true;
    }
    cv_.notify_all();
    reporter_->SetEnabled(true);
  };
  cb.on_unregistered = [this] { reporter_->SetEnabled(false); };
  cb.on_heartbeat = [m = &counted_](double seconds, bool ok) {
    m->heartbeat_seconds->Observe(seconds);
    if (!ok) m->heartbeat_failures->Inc();
  };
  session_ = std::make_unique<MasterSession>(client_.get(), DescribeSelf(), load_.get(),
                                             std::move(cb));
  {
    std::lock_guard lk(mu_);
    session_alive_ = true;
  }
  MasterSession* session = session_.get();
  watcher_ = std::make_unique<AllocWatcher>(
      cfg_.masters, client_->options(), node_id_, kWatchWait,
      [session] { return session->registered(); },
      [this](std::vector<v1::Allocation> allocs, uint64_t) {
        {
          std::lock_guard lk(mu_);
          inbox_ = std::move(allocs);
          wake_ = true;
        }
        cv_.notify_all();
      });
  if (!cfg_.lb_disable) {
    // The service load balancer: every service's listen port, proxied to
    // its healthy endpoints as the masters' registry lists them.
    lb::ProxyOptions lo;
    lo.bind = cfg_.lb_bind;
    lo.io_threads = cfg_.lb_io_threads;
    ORCH_ASSIGN_OR_RETURN(auto connect_timeout, ParseDuration(cfg_.lb_connect_timeout));
    lo.connect_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(connect_timeout);
    lo.idle_timeout = std::chrono::milliseconds(0);
    if (cfg_.lb_idle_timeout != "0") {
      ORCH_ASSIGN_OR_RETURN(auto idle, ParseDuration(cfg_.lb_idle_timeout));
      lo.idle_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(idle);
    }
    auto proxy = lb::Proxy::Start(lo);
    if (!proxy.ok()) return proxy.status().WithContext("load balancer");
    lb_ = std::move(proxy).value();
    lb::Proxy* lb = lb_.get();
    RegisterLoadBalancerMetrics(metrics_.get(), lb);
    service_watcher_ = std::make_unique<lb::ServiceWatcher>(
        cfg_.masters, OrchClientOptions{cfg_.token, "", cfg_.tls}, kWatchWait,
        [session] { return session->registered(); },
        [lb](const v1::ServiceList& list, uint64_t index) {
          Status st = lb->Update(lb::ToServiceConfigs(list));
          if (!st.ok())
            spdlog::warn("lb: services at index {} only partly served: {}", index, st.message());
        });
  }
  spdlog::info("agent {} ({}) started: node {}, http {}, data dir {}, masters {}", cfg_.name,
               address, node_id_, http_port_, cfg_.data_dir, cfg_.masters.size());
  return Status::Ok();
}

v1::Node Agent::DescribeSelf() const {
  v1::Node node = DescribeNode(cfg_, node_id_, address_, enabled_);
  if (docker_) node.mutable_attributes()->set_docker_version(docker_->engine_version());
  return node;
}

Result<std::string> Agent::ReadAuthConfig() const {
  if (cfg_.docker_auth_config.empty()) return std::string();
  // Read at each connect: a changed file is picked up by a restart.
  std::ifstream in(cfg_.docker_auth_config);
  if (!in.is_open()) {
    return Status::FailedPrecondition("cannot read --docker-auth-config " +
                                      cfg_.docker_auth_config);
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Status Agent::ConnectDocker() {
  DockerDriverOptions opts;
  opts.socket = cfg_.docker_socket;
  opts.allow_privileged = cfg_.docker_allow_privileged;
  opts.allowed_caps = cfg_.docker_allowed_caps;
  ORCH_ASSIGN_OR_RETURN(opts.auth_config_json, ReadAuthConfig());
  auto docker = DockerDriver::Connect(opts);
  if (!docker.ok()) return docker.status();
  docker_ = std::move(docker).value();
  return Status::Ok();
}

Status Agent::ConnectContainerd() {
  ContainerdDriverOptions opts;
  opts.socket = cfg_.containerd_socket;
  opts.snapshotter = cfg_.containerd_snapshotter;
  opts.fifo_dir = cfg_.data_dir + "/containerd";
  opts.cgroup_mode = cfg_.cgroup_mode;
  opts.logs.max_file_bytes = cfg_.task_log_max_mib * 1024 * 1024;
  opts.logs.max_files = cfg_.task_log_max_files;
  ORCH_ASSIGN_OR_RETURN(opts.auth_config_json, ReadAuthConfig());
  auto c = ContainerdDriver::Connect(opts);
  if (!c.ok()) return c.status();
  containerd_ = std::move(c).value();
  return Status::Ok();
}

void Agent::EnableLateDriver(TaskDriver* d) {
  const std::string name = d->name();
  spdlog::info("driver {}: the runtime answers now; advertising it", name);
  d->SetEventCallback([this] { Wake(); });
  {
    std::lock_guard lk(drivers_mu_);
    drivers_[name] = d;
  }
  enabled_.push_back(name);
  reconciler_->AddDriver(name, d);
  load_->AddDriver(d);
  // Registering again tells the masters the node's new drivers; the
  // session keeps its thread, heartbeats resume after.
  std::lock_guard lk(mu_);
  if (session_alive_) session_->UpdateNode(DescribeSelf());
}

void Agent::Wake() {
  {
    std::lock_guard lk(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void Agent::ReconcileLoop() {
  std::unique_lock lk(mu_);
  while (!stop_) {
    std::optional<std::vector<v1::Allocation>> inbox = std::move(inbox_);
    inbox_.reset();
    bool reset = reset_reported_;
    reset_reported_ = false;
    wake_ = false;
    lk.unlock();
    if (docker_probe_ && docker_probe_->Poll()) EnableLateDriver(docker_.get());
    if (containerd_probe_ && containerd_probe_->Poll()) EnableLateDriver(containerd_.get());
    if (inbox) reconciler_->SetDesired(std::move(*inbox));
    if (reset) reconciler_->ResetReported();
    reporter_->Submit(reconciler_->Reconcile());
    if (gc_) {
      gc_->MaybeCollect([this] {
        std::set<std::string> keep;
        for (const auto& r : reconciler_->Records()) keep.insert(r.alloc().id());
        for (const auto& [name, d] : drivers_) {
          for (const auto& id : d->List()) keep.insert(id.substr(0, id.find('/')));
        }
        return keep;
      });
    }
    lk.lock();
    cv_.wait_for(lk, kReconcileTick, [&] { return stop_ || wake_; });
  }
}

void Agent::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  spdlog::info("agent {}: shutting down, tasks keep running", ShortId(node_id_));
  // The HTTP API first: its handlers (followed logs) use the drivers.
  if (http_) http_->Shutdown();
  if (watcher_) watcher_->Stop();
  if (service_watcher_) service_watcher_->Stop();
  if (lb_) lb_->Shutdown();
  {
    std::lock_guard lk(mu_);
    session_alive_ = false;
  }
  session_.reset();
  if (load_) load_->Stop();  // it asks the drivers for stats
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (reconcile_thread_.joinable()) reconcile_thread_.join();
  migrator_.reset();
  reporter_.reset();
  for (auto& [name, d] : drivers_) d->SetEventCallback(nullptr);
  if (docker_) docker_->SetEventCallback(nullptr);
  if (containerd_) containerd_->SetEventCallback(nullptr);
  watcher_.reset();
  if (health_) health_->Stop();
  reconciler_.reset();
  health_.reset();
  drivers_.clear();
  exec_.reset();
  docker_.reset();
  containerd_.reset();
  if (http_) http_->Shutdown();
}

}  // namespace orch::agent
