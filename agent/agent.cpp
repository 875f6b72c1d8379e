#include "agent/agent.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "agent/alloc_watcher.h"
#include "agent/drivers/exec_driver.h"
#include "agent/files.h"
#include "agent/http_api.h"
#include "agent/load_monitor.h"
#include "agent/master_session.h"
#include "agent/node_info.h"
#include "agent/reconciler.h"
#include "agent/reporter.h"
#include "agent/state_store.h"
#include "api/client/client.h"
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
  ORCH_ASSIGN_OR_RETURN(node_id_, LoadOrCreateNodeId(cfg_.data_dir));
  if (cfg_.name.empty()) cfg_.name = Hostname();

  // HTTP first: a port that cannot be bound fails the start, loudly.
  ORCH_ASSIGN_OR_RETURN(HostPort hp, ParseHostPort(cfg_.http));
  router_ = MakeAgentRouter(cfg_.data_dir, [id = node_id_] { return id; });
  HttpServerOptions http_opts;
  http_opts.host = hp.host;
  http_opts.port = hp.port;
  http_opts.worker_threads = 4;
  http_opts.name = "agent-http";
  Router* router = router_.get();
  auto server =
      HttpServer::Start(http_opts, [router](const HttpRequest& r) { return router->Handle(r); });
  if (!server.ok()) return server.status().WithContext("agent http " + cfg_.http);
  http_ = std::move(server).value();
  http_port_ = http_->port();
  // A wildcard listen address is no address for others to reach us at.
  bool wildcard = hp.host == "0.0.0.0" || hp.host == "::" || hp.host == "[::]";
  std::string address =
      "http://" + (wildcard ? Hostname() : hp.host) + ":" + std::to_string(http_port_);

  std::vector<std::string> enabled;
  for (const auto& d : cfg_.drivers) {
    if (d == "exec") {
      exec_ = std::make_unique<ExecDriver>();
      drivers_["exec"] = exec_.get();
      enabled.push_back(d);
    } else {
      spdlog::warn("driver {}: not available in this build yet, not advertised", d);
    }
  }
  if (drivers_.empty()) return Status::FailedPrecondition("no usable task driver among --drivers");

  store_ = std::make_unique<StateStore>(cfg_.data_dir);
  ORCH_RETURN_IF_ERROR(store_->Init());
  RunnerContext ctx;
  ctx.data_dir = cfg_.data_dir;
  ctx.drivers = drivers_;
  const char* path = std::getenv("PATH");
  ctx.task_path = path ? path : "";
  reconciler_ = std::make_unique<Reconciler>(std::move(ctx), store_.get());
  ORCH_RETURN_IF_ERROR(reconciler_->Restore());
  for (auto& [name, d] : drivers_) d->SetEventCallback([this] { Wake(); });

  client_ = std::make_unique<OrchClient>(cfg_.masters);
  std::vector<TaskDriver*> ds;
  for (auto& [name, d] : drivers_) ds.push_back(d);
  load_ = std::make_unique<LoadMonitor>(ds, SystemClock::Get());
  reporter_ = std::make_unique<Reporter>(client_.get(), node_id_, [this] {
    std::lock_guard lk(mu_);
    if (session_alive_) session_->Reregister();
  });

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
  v1::Node node = DescribeNode(cfg_, node_id_, address, enabled);
  session_ = std::make_unique<MasterSession>(client_.get(), node, load_.get(), std::move(cb));
  {
    std::lock_guard lk(mu_);
    session_alive_ = true;
  }
  MasterSession* session = session_.get();
  watcher_ = std::make_unique<AllocWatcher>(
      cfg_.masters, node_id_, kWatchWait, [session] { return session->registered(); },
      [this](std::vector<v1::Allocation> allocs, uint64_t) {
        {
          std::lock_guard lk(mu_);
          inbox_ = std::move(allocs);
          wake_ = true;
        }
        cv_.notify_all();
      });
  spdlog::info("agent {} ({}) started: node {}, http {}, data dir {}, masters {}", cfg_.name,
               address, node_id_, http_port_, cfg_.data_dir, cfg_.masters.size());
  return Status::Ok();
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
    if (inbox) reconciler_->SetDesired(std::move(*inbox));
    if (reset) reconciler_->ResetReported();
    reporter_->Submit(reconciler_->Reconcile());
    lk.lock();
    cv_.wait_for(lk, kReconcileTick, [&] { return stop_ || wake_; });
  }
}

void Agent::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  spdlog::info("agent {}: shutting down, tasks keep running", ShortId(node_id_));
  if (watcher_) watcher_->Stop();
  {
    std::lock_guard lk(mu_);
    session_alive_ = false;
  }
  session_.reset();
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (reconcile_thread_.joinable()) reconcile_thread_.join();
  reporter_.reset();
  for (auto& [name, d] : drivers_) d->SetEventCallback(nullptr);
  watcher_.reset();
  reconciler_.reset();
  drivers_.clear();
  exec_.reset();
  if (http_) http_->Shutdown();
}

}  // namespace orch::agent
