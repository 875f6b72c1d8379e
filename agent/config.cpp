#include "agent/config.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>

#include "agent/drivers/exec_chroot.h"
#include "common/capabilities.h"
#include "common/document.h"
#include "common/log.h"
#include "common/net.h"

namespace orch::agent {

namespace {
bool IsIpAddress(const std::string& s) {
  in6_addr buf;
  return inet_pton(AF_INET, s.c_str(), &buf) == 1 || inet_pton(AF_INET6, s.c_str(), &buf) == 1;
}
const char* const kKnownDrivers[] = {"exec", "docker", "containerd"};
const char* const kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
}  // namespace

void AddAgentFlags(CLI::App& app, AgentConfig* cfg) {
  app.add_option("--name", cfg->name, "Node name (default: the hostname)");
  app.add_option("--data-dir", cfg->data_dir,
                 "Directory for the agent's state, task dirs and logs (required)");
  app.add_option("--token", cfg->token,
                 "ACL token for the masters when they enforce ACLs (needs node write; job read for "
                 "the balancer)")
      ->envname("ORCH_TOKEN");
  app.add_option("--masters", cfg->masters,
                 "Master HTTP addresses, comma separated (required; http://127.0.0.1:4646,...)")
      ->delimiter(',');
  app.add_option("--http", cfg->http,
                 "Address of the agent's own HTTP API (host:port; port 0 picks one)")
      ->capture_default_str();
  app.add_option(
      "--tls-ca", cfg->tls.ca_file,
      "PEM file of the cluster CA: with --tls-cert and --tls-key, the agent talks to https:// "
      "masters (whose certificates must name server.orch) and serves its API only over mutual TLS "
      "to them");
  app.add_option("--tls-cert", cfg->tls.cert_file,
                 "PEM certificate of this agent, naming agent.orch");
  app.add_option("--tls-key", cfg->tls.key_file, "PEM private key of --tls-cert");
  app.add_option("--drivers", cfg->drivers,
                 "Task drivers to enable, comma separated (exec,docker,containerd)")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--docker-socket", cfg->docker_socket, "Docker Engine API socket")
      ->capture_default_str();
  app.add_option("--docker-auth-config", cfg->docker_auth_config,
                 "Docker config.json whose \"auths\" give the credentials for pulls from private "
                 "registries "
                 "(a task's own docker.auth wins)")
      ->type_name("FILE");
  app.add_flag("--docker-allow-privileged", cfg->docker_allow_privileged,
               "Let docker tasks run privileged containers (docker.privileged)");
  app.add_option(
         "--docker-allowed-caps", cfg->docker_allowed_caps,
         "Capabilities docker tasks may add through cap_add, comma separated (default: Docker's "
         "default set)")
      ->delimiter(',');
  app.add_option("--docker-probe-interval", cfg->docker_probe_interval,
                 "If the Docker engine (or containerd) is unreachable at start, look for it again "
                 "this often (0: never)")
      ->capture_default_str();
  app.add_option("--containerd-socket", cfg->containerd_socket,
                 "containerd's gRPC API socket (the containerd driver; namespace orch; registry "
                 "credentials from --docker-auth-config)")
      ->capture_default_str();
  app.add_option("--containerd-snapshotter", cfg->containerd_snapshotter,
                 "containerd snapshotter for the containerd driver's root filesystems")
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
  app.add_option_function<std::vector<std::string>>(
         "--host-volume",
         [cfg](const std::vector<std::string>& specs) {
           for (const auto& s : specs) {
             if (auto v = ParseHostVolume(s); v.ok()) cfg->host_volumes[v->first] = v->second;
           }
         },
         "A host directory tasks may mount, NAME=/PATH[,read_only] (repeatable; in --config: "
         "host-volume = [\"data=/srv/data\"]); jobs ask for it by NAME")
      ->check([](const std::string& s) -> std::string {
        auto v = ParseHostVolume(s);
        return v.ok() ? "" : v.status().message();
      });
  app.add_option("--cpu", cfg->cpu, "Advertised CPU in millicores (default: cores x 1000)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--memory", cfg->memory, "Advertised memory in MiB (default: MemTotal)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--disk", cfg->disk,
                 "Disk in MiB reserved by allocations' ephemeral_disk.size (default: free space "
                 "of --data-dir at start)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--dynamic-ports", cfg->dynamic_ports,
                 "Host ports (MIN-MAX) for allocations' dynamic ports (default: the masters', 20000-32000)")
      ->type_name("MIN-MAX");
  app.add_option("--log-level", cfg->log_level, "trace, debug, info, warn or error")
      ->capture_default_str();
  app.add_option("--log-format", cfg->log_format,
                 "text, or json: one JSON object per line with time, level, process, msg and the "
                 "ids the line "
                 "is about (alloc, job, node, eval, deployment, task) as fields")
      ->capture_default_str();
  app.add_flag("--lb-disable", cfg->lb_disable, "Do not run the service load balancer on this agent");
  app.add_option("--lb-bind", cfg->lb_bind, "Address the service load balancer listens on")
      ->capture_default_str();
  app.add_option("--lb-connect-timeout", cfg->lb_connect_timeout,
                 "Load balancer: give up connecting to an endpoint after this long, try the next")
      ->capture_default_str();
  app.add_option("--lb-idle-timeout", cfg->lb_idle_timeout,
                 "Load balancer: close a connection idle this long in both directions (0: never)")
      ->capture_default_str();
  app.add_option("--lb-io-threads", cfg->lb_io_threads, "Load balancer I/O threads (0: one per core)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--cgroup-mode", cfg->cgroup_mode,
                 "exec tasks' cgroups: auto, v1, v2 or none (run without limits)")
      ->capture_default_str();
  app.add_option("--cgroup-parent", cfg->cgroup_parent,
                 "Cgroup under which exec tasks get <alloc>/<task> groups")
      ->capture_default_str();
  app.add_option("--task-log-max-mib", cfg->task_log_max_mib,
                 "Rotate an exec task's stdout/stderr file once it reaches this size (MiB)")
      ->capture_default_str();
  app.add_option("--task-log-max-files", cfg->task_log_max_files,
                 "Rotated log files kept per exec task stream")
      ->capture_default_str();
  app.add_option("--exec-isolation", cfg->exec_isolation,
                 "exec tasks run in their own pid, mount, ipc and uts namespaces, as their user, "
                 "with no_new_privs (false: as the agent, unisolated)")
      ->capture_default_str();
  app.add_option("--exec-user", cfg->exec_user, "User an exec task runs as when it names none")
      ->capture_default_str();
  app.add_option("--exec-allowed-users", cfg->exec_allowed_users,
                 "Users exec tasks may ask for, comma separated (default: any but root)")
      ->delimiter(',');
  app.add_flag("--exec-allow-root", cfg->exec_allow_root, "Let exec tasks run as root");
  app.add_flag(
      "--exec-chroot", cfg->exec_chroot,
      "Run each isolated exec task chrooted in a root of --exec-chroot-paths (read-only) and its "
      "own directories, with a private /tmp and a minimal /dev");
  app.add_option("--exec-chroot-paths", cfg->exec_chroot_paths,
                 "Host paths an exec task's chroot holds, comma separated")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--exec-allowed-caps", cfg->exec_allowed_caps,
                 "Capabilities exec tasks may keep through cap_add, comma separated (default: "
                 "Docker's default set)")
      ->delimiter(',');
  app.add_option("--exec-pids-limit", cfg->exec_pids_limit,
                 "Most processes and threads an exec task may have at once (cgroup pids.max; "
                 "0: no limit)")
      ->capture_default_str();
  app.add_option("--alloc-gc-after", cfg->alloc_gc_after,
                 "Remove the files of allocations the masters dropped after this long (0: never)")
      ->capture_default_str();
  app.set_config("--config", "", "Read flags from a TOML/INI file (key = value, as the flags)");
}

Result<std::pair<std::string, AgentConfig::HostVolume>> ParseHostVolume(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return Status::InvalidArgument("--host-volume: expected NAME=/PATH[,read_only], got \"" + text +
                                   "\"");
  }
  std::string name = text.substr(0, eq), rest = text.substr(eq + 1);
  AgentConfig::HostVolume v;
  if (auto comma = rest.rfind(','); comma != std::string::npos) {
    std::string opt = rest.substr(comma + 1);
    if (opt != "read_only" && opt != "ro") {
      return Status::InvalidArgument("--host-volume " + name + ": unknown option \"" + opt +
                                     "\" (read_only)");
    }
    v.read_only = true;
    rest = rest.substr(0, comma);
  }
  v.path = rest;
  bool name_ok =
      name.size() <= 63 && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
      });
  if (!name_ok || !std::isalnum(static_cast<unsigned char>(name[0]))) {
    return Status::InvalidArgument("--host-volume: \"" + name +
                                   "\" must be 1-63 letters, digits, '-', '_' or '.'");
  }
  if (v.path.empty() || v.path[0] != '/' || !shim::ChrootSpecPathsValid(v.path.c_str()) ||
      v.path.find("/../") != std::string::npos) {
    return Status::InvalidArgument("--host-volume " + name + ": \"" + v.path +
                                   "\" must be an absolute path without ',', '|' or '>'");
  }
  return std::make_pair(name, v);
}

std::optional<std::pair<int, int>> ParseDynamicPorts(const std::string& text) {
  auto dash = text.find('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 >= text.size()) return std::nullopt;
  auto num = [](const std::string& s) -> int {
    if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return -1;
    return std::stoi(s);
  };
  int lo = num(text.substr(0, dash)), hi = num(text.substr(dash + 1));
  if (lo < 1024 || hi > 65535 || lo > hi) return std::nullopt;
  return std::make_pair(lo, hi);
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
  if (Status st = CheckTlsFiles(cfg.tls); !st.ok()) problems.push_back(st.message());
  for (const auto& m : cfg.masters) {
    if (cfg.tls.enabled() && m.rfind("http://", 0) == 0) {
      problems.push_back("--masters: " + m +
                         " is plain http, but this agent has TLS files: use https://");
    }
    if (!cfg.tls.enabled() && m.rfind("https://", 0) == 0) {
      problems.push_back("--masters: " + m + " is https: give --tls-ca, --tls-cert and --tls-key");
    }
  }
  if (cfg.drivers.empty()) problems.push_back("--drivers: at least one driver is required");
  for (const auto& d : cfg.drivers) {
    bool known = false;
    for (const char* k : kKnownDrivers) known = known || d == k;
    if (!known)
      problems.push_back("--drivers: unknown driver \"" + d +
                         "\" (known: exec, docker, containerd)");
  }
  bool level_ok = false;
  for (const char* l : kLogLevels) level_ok = level_ok || cfg.log_level == l;
  if (!level_ok) {
    problems.push_back("--log-level: unknown level \"" + cfg.log_level +
                       "\" (trace, debug, info, warn or error)");
  }
  if (!ValidLogFormat(cfg.log_format)) {
    problems.push_back("--log-format: unknown format \"" + cfg.log_format + "\" (text or json)");
  }
  if (cfg.cpu < 0) problems.push_back("--cpu: must not be negative");
  if (cfg.memory < 0) problems.push_back("--memory: must not be negative");
  for (const auto& [k, v] : cfg.labels) {
    if (k.empty()) problems.push_back("--label: empty key");
  }
  if (!IsIpAddress(cfg.lb_bind)) {
    problems.push_back("--lb-bind: \"" + cfg.lb_bind + "\" is not an IP address (e.g. 0.0.0.0 or 127.0.0.1)");
  }
  if (auto d = ParseDuration(cfg.lb_connect_timeout); !d.ok() || d->count() <= 0) {
    problems.push_back("--lb-connect-timeout: expected a positive duration like 2s, got \"" +
                       cfg.lb_connect_timeout + "\"");
  }
  if (cfg.lb_idle_timeout != "0") {
    if (auto d = ParseDuration(cfg.lb_idle_timeout); !d.ok() || d->count() < 0) {
      problems.push_back("--lb-idle-timeout: expected a duration like 5m (or 0 for none), got \"" +
                         cfg.lb_idle_timeout + "\"");
    }
  }
  if (cfg.lb_io_threads < 0) problems.push_back("--lb-io-threads: must not be negative");
  if (!cfg.dynamic_ports.empty() && !ParseDynamicPorts(cfg.dynamic_ports)) {
    problems.push_back("--dynamic-ports: expected MIN-MAX within 1024-65535, got \"" + cfg.dynamic_ports + "\"");
  }
  if (cfg.cgroup_mode != "auto" && cfg.cgroup_mode != "v1" && cfg.cgroup_mode != "v2" &&
      cfg.cgroup_mode != "none") {
    problems.push_back("--cgroup-mode: unknown mode \"" + cfg.cgroup_mode +
                       "\" (auto, v1, v2 or none)");
  }
  for (const auto& c : cfg.docker_allowed_caps) {
    if (!CapabilityNumber(c))
      problems.push_back("--docker-allowed-caps: \"" + c + "\" is not a Linux capability");
  }
  if (!cfg.docker_auth_config.empty()) {
    struct stat st;
    if (stat(cfg.docker_auth_config.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      problems.push_back("--docker-auth-config: " + cfg.docker_auth_config +
                         " is not a readable file");
    }
  }
  for (const auto& c : cfg.exec_allowed_caps) {
    if (!CapabilityNumber(c)) {
      problems.push_back("--exec-allowed-caps: \"" + c + "\" is not a Linux capability");
    }
  }
  if (cfg.exec_pids_limit < 0) problems.push_back("--exec-pids-limit: must not be negative");
  for (const auto& p : cfg.exec_chroot_paths) {
    if (!shim::ChrootSpecPathsValid(p.c_str()) || p == "/") {
      problems.push_back("--exec-chroot-paths: \"" + p +
                         "\" must be an absolute path other than / without ',' or '|'");
    }
  }
  if (cfg.exec_chroot && !cfg.exec_isolation) {
    problems.push_back(
        "--exec-chroot: needs --exec-isolation (the chroot is built in the task's mount "
        "namespace)");
  }
  if (cfg.exec_user.empty()) problems.push_back("--exec-user: must name a user");
  for (const auto& [name, v] : cfg.host_volumes) {
    struct stat st;
    if (stat(v.path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      problems.push_back("--host-volume " + name + ": " + v.path + " is not an existing directory");
    }
  }
  if (cfg.cgroup_parent.empty() || cfg.cgroup_parent.find("..") != std::string::npos) {
    problems.push_back("--cgroup-parent: must be a relative cgroup path like orch");
  }
  if (cfg.task_log_max_mib <= 0) problems.push_back("--task-log-max-mib: must be positive");
  if (cfg.task_log_max_files < 0) problems.push_back("--task-log-max-files: must not be negative");
  if (cfg.alloc_gc_after != "0") {
    if (auto d = ParseDuration(cfg.alloc_gc_after); !d.ok() || d->count() < 0) {
      problems.push_back("--alloc-gc-after: expected a duration like 1h (or 0 for never), got \"" +
                         cfg.alloc_gc_after + "\"");
    }
  }
  if (cfg.docker_probe_interval != "0") {
    if (auto d = ParseDuration(cfg.docker_probe_interval); !d.ok() || d->count() <= 0) {
      problems.push_back("--docker-probe-interval: expected a duration like 30s (or 0 for never), got \"" +
                         cfg.docker_probe_interval + "\"");
    }
  }
  if (problems.empty()) return Status::Ok();
  std::string msg = problems[0];
  for (std::size_t i = 1; i < problems.size(); ++i) msg += "; " + problems[i];
  return Status::InvalidArgument(msg);
}

}  // namespace orch::agent
