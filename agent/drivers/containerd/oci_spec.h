// The OCI runtime spec (config.json) of a containerd task, in the shape of
// containerd's own defaults (oci/spec.go): pid, ipc and mount namespaces
// (uts and network too unless the task shares the host's network), proc,
// dev, devpts, shm, mqueue, sysfs and cgroup mounts, Docker's default
// capabilities, masked and read-only /proc paths, no new privileges,
// RLIMIT_NOFILE 1024; the task's limits as cgroup resources at
// `cgroups_path` (cpu shares and a hard quota from millicores, memory
// without swap, pids), its volumes as bind mounts, and with the host's
// network its /etc/hosts and /etc/resolv.conf.
// The process: entrypoint and arguments as the docker driver chooses them
// (the task's command replaces the image's entrypoint, its args the image's
// cmd), the image's env overridden by the task's, the image's working dir.
// Pure functions; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/drivers/containerd/containerd_images.h"
#include "agent/drivers/driver.h"

namespace orch::agent {

struct OciUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
};

// "uid", "uid:gid", "name", "name:group" against the image's /etc/passwd
// and /etc/group text ("" when the image has none): NotFound for a name the
// image does not know. "" is root.
Result<OciUser> ResolveOciUser(const std::string& user, const std::string& passwd,
                               const std::string& group);

// The process's argv: InvalidArgument when neither task nor image names a
// program.
Result<std::vector<std::string>> ProcessArgs(const TaskSpec& spec, const ImageRunConfig& image);

struct OciSpecOptions {
  std::string cgroups_path;  // "/orch-containerd/<alloc>/<task>"
  bool host_network = true;
  std::string hostname;  // with its own uts namespace
};

Result<std::string> BuildOciSpec(const TaskSpec& spec, const ImageRunConfig& image,
                                 const OciUser& user, const OciSpecOptions& options);

}  // namespace orch::agent
