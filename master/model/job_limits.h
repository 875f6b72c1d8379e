// The largest job (and node) documents the masters accept. Every bound is
// checked at submission with a clear 400 naming the field, so nothing past
// them reaches the log, the scheduler or an agent. api/openapi.yaml lists
// them (JobLimits) — keep both in step.
#pragma once

#include <cstddef>
#include <cstdint>

namespace orch::master {

struct JobLimits {
  static constexpr int kMaxGroups = 64;              // task groups per job
  static constexpr int kMaxTasks = 64;               // tasks per group
  static constexpr int32_t kMaxCount = 10'000;       // allocations per group
  static constexpr int64_t kMaxTotalCount = 10'000;  // allocations per job (all groups)
  static constexpr int kMaxPorts = 64;               // network ports per group
  static constexpr int kMaxConstraints = 64;         // per job and per group
  static constexpr int kMaxSpreads = 16;             // per group
  static constexpr int kMaxSpreadTargets = 64;       // per spread
  static constexpr int kMaxArgs = 256;               // args per task (and per check)
  static constexpr int kMaxEnv = 256;                // env entries per task
  static constexpr std::size_t kMaxEnvKeyBytes = 256;
  static constexpr std::size_t kMaxStringBytes = 32 << 10;  // one arg, env value, command, image
  static constexpr std::size_t kMaxAttributeBytes = 256;    // constraint / spread attribute
  static constexpr std::size_t kMaxConstraintValueBytes = 1024;  // incl. a regexp pattern
  static constexpr int64_t kMaxCpu = 1'024'000;                  // millicores per task: 1,024 cores
  static constexpr int64_t kMaxMemory = 16 << 20;                // MiB per task: 16 TiB
  static constexpr int32_t kMaxPriority = 100;
  static constexpr int kMaxVolumes = 16;  // volumes per group, volume mounts per task
  // Meta entries per job, and meta keys a parameterized job declares.
  static constexpr int kMaxMeta = 64;
  // The job as stored (protobuf). Every Raft entry must stay below the
  // transport's 16 MiB frame; a job's allocations carry a copy of its group,
  // so the job itself is kept far smaller.
  static constexpr std::size_t kMaxJobBytes = 1 << 20;
};

struct NodeLimits {
  static constexpr int kMaxLabels = 64;
  static constexpr std::size_t kMaxLabelKeyBytes = 128;
  static constexpr std::size_t kMaxLabelValueBytes = 1024;
  static constexpr int kMaxDrivers = 16;
  static constexpr int kMaxHostVolumes = 64;
  static constexpr std::size_t kMaxFieldBytes = 256;  // name, address, os, arch, ...
};

}  // namespace orch::master
