// Cgroups: one control group per exec task, made and limited with
// libcgroup, under an orch parent: "<parent>/<alloc_id>/<task>" in every
// hierarchy that holds a controller orch uses.
//
//   v1 (cpu, cpuacct, memory hierarchies, and pids where mounted):
//     cpu.shares from millicores (1000 m = 1024 shares), cpu.cfs_quota_us /
//     cpu.cfs_period_us as a hard cap, memory.limit_in_bytes (and
//     memory.memsw.limit_in_bytes, same value, when swap is accounted);
//     usage from cpuacct.usage and memory.usage_in_bytes; OOM kills from
//     memory.oom_control's oom_kill counter; pids.max.
//   v2 (unified hierarchy with the cpu and memory controllers):
//     cpu.weight, cpu.max, memory.max (and memory.swap.max 0); usage from
//     cpu.stat usage_usec and memory.current; OOM kills from memory.events;
//     pids.max where the pids controller is enabled.
//
// The mode is picked at runtime (auto: v1 when the memory controller is on a
// v1 hierarchy, v2 when it is on the unified one). Where cgroups cannot be
// used (not root, libcgroup finds nothing mounted, controllers missing) the
// manager is disabled, says why, and the exec driver runs tasks without
// limits; the warning is logged once per process.
//
// Tasks join their cgroup themselves between fork and exec, by writing their
// pid to the files ProcsFiles() names (see exec_launch.h).
// Thread safety: immutable after Open(); every method may be called from any
// thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace orch::agent {

enum class CgroupMode { kNone, kV1, kV2 };
const char* CgroupModeName(CgroupMode m);

struct CgroupOptions {
  std::string parent = "orch";  // relative to each hierarchy's root
  std::string mode = "auto";    // auto | v1 | v2 | none
};

struct CgroupLimits {
  int64_t cpu_millicores = 0;  // 0: no cpu limit
  int64_t memory_bytes = 0;    // 0: no memory limit
  int64_t pids_max = 0;        // processes and threads at once (pids.max); 0: no limit
};

struct CgroupUsage {
  std::chrono::nanoseconds cpu_time{0};  // cumulative, all processes of the group
  int64_t memory_bytes = 0;
  int64_t oom_kills = 0;  // processes the kernel OOM-killed in this group
};

class Cgroups {
 public:
  // Never fails: a manager that cannot use cgroups is disabled (enabled()
  // false, disabled_reason() says why).
  static std::unique_ptr<Cgroups> Open(const CgroupOptions& options = {});

  bool enabled() const { return mode_ != CgroupMode::kNone; }
  CgroupMode mode() const { return mode_; }
  const std::string& disabled_reason() const { return disabled_reason_; }
  const std::string& parent() const { return parent_; }
  // The pids controller is there (pids_max limits are applied).
  bool pids_enabled() const { return !pids_mount_.empty(); }

  // "<parent>/<alloc_id>/<task>".
  std::string TaskCgroup(const std::string& alloc_id, const std::string& task) const;

  // Creates the group (and its parents) and writes the limits. Idempotent.
  Status Create(const std::string& name, const CgroupLimits& limits);

  // Absolute paths of the group's cgroup.procs, one per hierarchy.
  std::vector<std::string> ProcsFiles(const std::string& name) const;

  Result<CgroupUsage> Usage(const std::string& name) const;

  // The group's memory limit in bytes, 0 when unlimited.
  Result<int64_t> MemoryLimit(const std::string& name) const;

  // Processes in the group (NotFound when it does not exist).
  Result<std::vector<pid_t>> Pids(const std::string& name) const;

  bool Exists(const std::string& name) const;

  // SIGKILLs what is left in the group, removes it and, when empty, its
  // allocation's parent. A group that does not exist is fine.
  Status Destroy(const std::string& name);

  // Every task group under the parent: (alloc_id, task).
  std::vector<std::pair<std::string, std::string>> ListTasks() const;

  // Absolute path of a control file: FilePath(name, "memory",
  // "memory.max"). Empty if the controller is not used.
  std::string FilePath(const std::string& name, const std::string& controller,
                       const std::string& file) const;

 private:
  Cgroups() = default;
  std::string MountFor(const std::string& controller) const;
  std::vector<std::string> Mounts() const;  // distinct hierarchy roots in use
  std::string SubtreeControl() const;       // v2: what each level hands down

  CgroupMode mode_ = CgroupMode::kNone;
  std::string disabled_reason_;
  std::string parent_;
  std::string cpu_mount_, cpuacct_mount_, memory_mount_;  // v2: all the unified root
  std::string pids_mount_;                                // empty: no pids controller
  bool memsw_ = false;                                    // v1: swap is accounted
};

}  // namespace orch::agent
