// AgentConfig: how an agent is told what to be, from flags (DESIGN.md
// section 7), a config file (--config, CLI11's TOML/INI support) or, for
// `orch-master --dev`, filled in by code.
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/tls.h"

namespace CLI {
class App;
}

namespace orch::agent {

struct AgentConfig {
  std::string name;                     // node name; default: hostname
  std::string data_dir;                 // required
  std::vector<std::string> masters;     // "http://127.0.0.1:4646", ...
  // ACL token for the masters (a policy with node write and job read, for
  // the balancer's service list); from --token or ORCH_TOKEN.
  std::string token;
  std::string http = "127.0.0.1:4650";  // agent's own HTTP (healthz, logs); port 0 = pick free
  // Mutual TLS (common/tls.h) to the masters and on the agent's own API.
  TlsFiles tls;
  std::vector<std::string> drivers{"exec"};
  std::string docker_socket = "/var/run/docker.sock";
  // docker listed in drivers but the engine not answering at start: looked
  // for again this often, and advertised once it answers ("0": never).
  std::string docker_probe_interval = "30s";
  // Registry credentials for pulls (a Docker config.json: "auths"), whether
  // tasks may run privileged containers, and the capabilities their cap_add
  // may name (empty: Docker's default set).
  std::string docker_auth_config;
  bool docker_allow_privileged = false;
  std::vector<std::string> docker_allowed_caps;
  // containerd's API socket (the containerd driver), looked for again like
  // docker's engine when it does not answer at start, and its snapshotter.
  std::string containerd_socket = "/run/containerd/containerd.sock";
  std::string containerd_snapshotter = "overlayfs";
  std::string log_level = "info";
  std::string log_format = "text";  // text | json (one JSON object per line)
  std::map<std::string, std::string> labels;
  int64_t cpu = 0, memory = 0;  // advertised capacity; 0 = detect from the machine
  // Disk for allocations' ephemeral disks, MiB; 0 = what the data
  // directory's filesystem has free at start.
  int64_t disk = 0;
  // Service load balancer (agent/lb): every service's listen port on
  // lb_bind, proxied to the healthy endpoints.
  bool lb_disable = false;
  std::string lb_bind = "0.0.0.0";
  // Dynamic host ports the scheduler may give this node's allocations,
  // "MIN-MAX" (empty: the masters' default, 20000-32000).
  std::string dynamic_ports;
  std::string lb_connect_timeout = "2s";
  std::string lb_idle_timeout = "5m";  // "0" for none
  int lb_io_threads = 0;               // 0 = one per core
  // exec driver: cgroups (auto | v1 | v2 | none) under this parent, and
  // task output rotated at task_log_max_mib, task_log_max_files kept.
  std::string cgroup_mode = "auto";
  std::string cgroup_parent = "orch";
  int64_t task_log_max_mib = 10;
  int task_log_max_files = 3;
  // exec tasks' isolation (agent/drivers/exec_isolation.h): namespaces, the
  // user a task runs as when it names none, the users it may name (empty:
  // any but root), whether root is allowed, the capabilities a task may
  // keep (default: Docker's default set), and the processes a task may have.
  bool exec_isolation = true;
  std::string exec_user = "nobody";
  std::vector<std::string> exec_allowed_users;
  bool exec_allow_root = false;
  std::vector<std::string> exec_allowed_caps;  // empty: DefaultCapabilities()
  int64_t exec_pids_limit = 4096;
  // Each isolated exec task in a chroot of these host paths (read-only) and
  // its own directories (agent/drivers/exec_chroot.h), as Nomad's exec
  // driver; the defaults are Nomad's chroot_env.
  bool exec_chroot = false;
  std::vector<std::string> exec_chroot_paths{
      "/bin", "/etc", "/lib", "/lib32", "/lib64", "/sbin", "/run/resolvconf", "/usr"};
  // Task directories and logs of allocations the masters no longer list are
  // removed this long after they were forgotten ("0": kept forever).
  std::string alloc_gc_after = "1h";
  // Host volumes offered to tasks, by name: --host-volume
  // name=/path[,read_only] (repeatable) or the config file's
  // `host_volumes: {name: {path, read_only}}`. Each path must be an existing
  // directory.
  struct HostVolume {
    std::string path;
    bool read_only = false;
  };
  std::map<std::string, HostVolume> host_volumes;
};

// "name=/path" or "name=/path,read_only" (--host-volume).
Result<std::pair<std::string, AgentConfig::HostVolume>> ParseHostVolume(const std::string& text);

// Adds the agent's flags to `app`, writing into `cfg`: --name --data-dir
// --masters --http --drivers --docker-socket --label k=v (repeatable) --cpu
// --memory --log-level, and --config FILE.
void AddAgentFlags(CLI::App& app, AgentConfig* cfg);

// Every problem in one message, naming the flag.
Status ValidateAgentConfig(const AgentConfig& cfg);

// "20000-32000" -> {20000, 32000}; nullopt unless 1024 <= MIN <= MAX <= 65535.
std::optional<std::pair<int, int>> ParseDynamicPorts(const std::string& text);

}  // namespace orch::agent
