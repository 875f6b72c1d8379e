#include "agent/config.h"

#include <CLI/CLI.hpp>

#include "common/net.h"

namespace orch::agent {

namespace {
const char* const kKnownDrivers[] = {"exec", "docker"};
const char* const kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
}  // namespace

void AddAgentFlags(CLI::App& app, AgentConfig* cfg) {
  app.add_option("--name", cfg->name, "Node name (default: the hostname)");
  app.add_option("--data-dir", cfg->data_dir,
                 "Directory for the agent's state, task dirs and logs (required)");
  app.add_option("--masters", cfg->masters,
                 "Master HTTP addresses, comma separated (required; http://127.0.0.1:4646,...)")
      ->delimiter(',');
  app.add_option("--http", cfg->http,
                 "Address of the agent's own HTTP API (host:port; port 0 picks one)")
      ->capture_default_str();
  app.add_option("--drivers", cfg->drivers, "Task drivers to enable, comma separated (exec,docker)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--docker-socket", cfg->docker_socket, "Docker Engine API socket")
      ->capture_default_str();
  app.add_option_function<std::vector<std::string>>(
         "--label",
         [cfg](const std::vector<std::string>& kvs) {
           for (const auto& kv : kvs) {
             auto eq = kv.find('=');
             cfg->labels[kv.substr(0, eq)] = kv.substr(eq + 1);
           }
         },
         "Node label KEY=VALUE (repeatable)")
      ->check([](const std::string& kv) -> std::string {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) return "expected KEY=VALUE, got \"" + kv + "\"";
        return "";
      });
  app.add_option("--cpu", cfg->cpu, "Advertised CPU in millicores (default: cores x 1000)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--memory", cfg->memory, "Advertised memory in MiB (default: MemTotal)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--log-level", cfg->log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  app.set_config("--config", "", "Read flags from a TOML/INI file (key = value, as the flags)");
}

Status ValidateAgentConfig(const AgentConfig& cfg) {
  std::vector<std::string> problems;
  if (cfg.data_dir.empty()) problems.push_back("--data-dir is required");
  if (cfg.masters.empty()) problems.push_back("--masters: at least one master address is required");
  for (const auto& m : cfg.masters) {
    if (auto r = ParseUrlList(m); !r.ok()) problems.push_back("--masters: " + r.status().message());
  }
  if (auto hp = ParseHostPort(cfg.http); !hp.ok()) {
    problems.push_back("--http: " + hp.status().message());
  }
  if (cfg.drivers.empty()) problems.push_back("--drivers: at least one driver is required");
  for (const auto& d : cfg.drivers) {
    bool known = false;
    for (const char* k : kKnownDrivers) known = known || d == k;
    if (!known) problems.push_back("--drivers: unknown driver \"" + d + "\" (known: exec, docker)");
  }
  bool level_ok = false;
  for (const char* l : kLogLevels) level_ok = level_ok || cfg.log_level == l;
  if (!level_ok) {
    problems.push_back("--log-level: unknown level \"" + cfg.log_level +
                       "\" (trace, debug, info, warn or error)");
  }
  if (cfg.cpu < 0) problems.push_back("--cpu: must not be negative");
  if (cfg.memory < 0) problems.push_back("--memory: must not be negative");
  for (const auto& [k, v] : cfg.labels) {
    if (k.empty()) problems.push_back("--label: empty key");
  }
  if (problems.empty()) return Status::Ok();
  std::string msg = problems[0];
  for (std::size_t i = 1; i < problems.size(); ++i) msg += "; " + problems[i];
  return Status::InvalidArgument(msg);
}

}  // namespace orch::agent
