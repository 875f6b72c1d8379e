// The fit check: whether a node has room for what an allocation claims.
// Written once, used by the scheduler when it places (sched::CheckFit, on
// its node table) and by plan apply when it re-checks every placement
// against the node as it is at commit (master/state/apply.cpp).
// Thread safety: pure functions.
#pragma once

#include <cstdint>

namespace orch::master {

enum class Fit { kOk, kCpu, kMemory, kDisk, kPorts, kDistinctHosts, kVolume };

// A node's capacity and what is claimed on it. disk_cap 0: the node
// reports no disk, and any disk fits.
struct NodeRoom {
  int64_t cpu_cap = 0, cpu_used = 0;
  int64_t mem_cap = 0, mem_used = 0;
  int64_t disk_cap = 0, disk_used = 0;
};

// Whether `cpu` MHz, `mem` MiB and `disk` MiB more fit (saturating sums;
// a negative claim never fits). The first resource short is reported.
Fit ResourcesFit(const NodeRoom& room, int64_t cpu, int64_t mem, int64_t disk);

// "fits", "cpu exhausted", "memory exhausted", "disk exhausted", "port
// collision", "distinct_hosts", "volume has a single writer".
const char* FitReason(Fit f);

}  // namespace orch::master
