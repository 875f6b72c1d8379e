#include "master/model/fit.h"

#include "common/saturating.h"

namespace orch::master {

Fit ResourcesFit(const NodeRoom& room, int64_t cpu, int64_t mem, int64_t disk) {
  if (cpu < 0 || SatAdd(room.cpu_used, cpu) > room.cpu_cap) return Fit::kCpu;
  if (mem < 0 || SatAdd(room.mem_used, mem) > room.mem_cap) return Fit::kMemory;
  if (disk < 0 || (disk > 0 && room.disk_cap > 0 && SatAdd(room.disk_used, disk) > room.disk_cap)) {
    return Fit::kDisk;
  }
  return Fit::kOk;
}

const char* FitReason(Fit f) {
  switch (f) {
    case Fit::kOk:
      return "fits";
    case Fit::kCpu:
      return "cpu exhausted";
    case Fit::kMemory:
      return "memory exhausted";
    case Fit::kDisk:
      return "disk exhausted";
    case Fit::kPorts:
      return "port collision";
    case Fit::kDistinctHosts:
      return "distinct_hosts";
    case Fit::kVolume:
      return "volume has a single writer";
  }
  return "?";
}

}  // namespace orch::master
