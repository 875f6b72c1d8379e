// orch-master: one member of the masters' quorum; with --dev, a master and an
// agent in one process for trying orch out.
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <filesystem>

#include "agent/agent.h"
#include "common/log.h"
#include "common/process.h"
#include "master/config.h"
#include "master/master.h"

int main(int argc, char** argv) {
  orch::BlockShutdownSignals();
  orch::master::MasterConfig cfg;
  CLI::App app{"orch-master: keeps the cluster state and schedules work.\n"
               "Example: orch-master --id m1 --data-dir /var/lib/orch/m1 --http 127.0.0.1:4646"};
  orch::master::AddMasterFlags(app, &cfg);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  orch::Status st = orch::InitLogging(cfg.log_level, cfg.id, cfg.log_format);
  if (!st.ok()) {
    fprintf(stderr, "orch-master: %s\n", st.message().c_str());
    return 2;
  }
  std::string dev_dir;
  // A dev master has no peers: let its Raft transport take any free port.
  if (cfg.dev && app.count("--raft") == 0) cfg.raft = "127.0.0.1:0";
  if (cfg.dev && cfg.data_dir.empty()) {
    char tmpl[] = "/tmp/orch-dev-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      fprintf(stderr, "orch-master: cannot create a temporary data dir\n");
      return 1;
    }
    dev_dir = tmpl;
    // The dev agent's exec tasks run as nobody and reach their folders
    // through this one.
    chmod(dev_dir.c_str(), 0711);
    cfg.data_dir = dev_dir + "/master";
  }
  auto master = orch::master::Master::Start(cfg);
  if (!master.ok()) {
    fprintf(stderr, "orch-master: %s\n", master.status().message().c_str());
    return master.status().code() == orch::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::unique_ptr<orch::agent::Agent> agent;
  if (cfg.dev) {
    orch::agent::AgentConfig acfg;
    acfg.name = "dev";
    acfg.data_dir = (dev_dir.empty() ? cfg.data_dir : dev_dir) + "/agent";
    acfg.masters = {"http://127.0.0.1:" + std::to_string((*master)->http_port())};
    acfg.http = "127.0.0.1:0";
    acfg.log_level = cfg.log_level;
    acfg.log_format = cfg.log_format;
    auto a = orch::agent::Agent::Start(acfg);
    if (!a.ok()) {
      fprintf(stderr, "orch-master: dev agent: %s\n", a.status().message().c_str());
      (*master)->Shutdown();
      return 1;
    }
    agent = std::move(*a);
    spdlog::info("dev mode: master and agent running, data in {}; try: orchctl run -f examples/hello.yaml",
                 dev_dir.empty() ? cfg.data_dir : dev_dir);
  }
  orch::NotifyReady("serving");
  int sig = orch::WaitForShutdownSignal();
  spdlog::info("received signal {}, shutting down", sig);
  orch::NotifyStopping();
  if (agent) agent->Shutdown();
  (*master)->Shutdown();
  return 0;
}
