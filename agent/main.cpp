// orch-agent: runs the work the orch masters place on this machine.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "agent/agent.h"
#include "common/log.h"
#include "common/process.h"

int main(int argc, char** argv) {
  orch::BlockShutdownSignals();
  CLI::App app{"orch-agent: runs the tasks orch masters place on this machine"};
  orch::agent::AgentConfig cfg;
  orch::agent::AddAgentFlags(app, &cfg);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::cerr << "orch-agent: " << e.what() << " (see --help)\n";
    return 2;
  }
  if (auto st = orch::agent::ValidateAgentConfig(cfg); !st.ok()) {
    std::cerr << "orch-agent: " << st.message() << " (see --help)\n";
    return 2;
  }
  if (auto st =
          orch::InitLogging(cfg.log_level, cfg.name.empty() ? "agent" : cfg.name, cfg.log_format);
      !st.ok()) {
    std::cerr << "orch-agent: " << st.message() << "\n";
    return 2;
  }
  auto agent = orch::agent::Agent::Start(cfg);
  if (!agent.ok()) {
    spdlog::error("cannot start the agent: {}", agent.status().ToString());
    return 1;
  }
  orch::NotifyReady("running");
  int sig = orch::WaitForShutdownSignal();
  spdlog::info("received signal {}, stopping", sig);
  orch::NotifyStopping();
  (*agent)->Shutdown();
  return 0;
}
