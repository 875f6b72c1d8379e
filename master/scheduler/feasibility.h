// Feasibility: can a node take one allocation of a group? Split in two:
// the static part (node ready and not draining, drivers, constraints), the
// same for every allocation of a group and cached per group, and the
// dynamic part (cpu, memory, disk, ports, distinct_hosts), checked per placement
// against the NodeTable's current claims.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "master/model/fit.h"
#include "master/scheduler/node_table.h"
#include "orch/v1/types.pb.h"

namespace orch::master::sched {

// The fit check itself is the model's (written once, also used by plan apply).
using ::orch::master::Fit;
using ::orch::master::FitReason;

// What one allocation of a group asks of a node.
struct Request {
  int64_t cpu = 0;
  int64_t mem = 0;
  int64_t disk = 0;  // the group's ephemeral_disk.size
  std::vector<int32_t> static_ports;
  int dynamic_ports = 0;
  bool distinct_hosts = false;
  uint32_t job = 0;  // interned job id (distinct_hosts, anti-affinity)
  std::vector<VolumeClaim> volumes;  // writable host volumes (alloc_id unset)
};

// The writable host-volume mounts an allocation of `g` makes.
std::vector<VolumeClaim> VolumeClaimsOf(const v1::TaskGroup& g, const std::string& alloc_id = "");

// Whether `r`'s writable host volumes go with the writers already on `n`:
// a single writer needs the volume to itself; others only no single writer.
bool VolumesFit(const NodeRec& n, const Request& r);

// Builds the request of one allocation of `g` (job-level constraints count
// for distinct_hosts too).
Request MakeRequest(const v1::Job& job, const v1::TaskGroup& g, uint32_t job_index);

// Why `node` can never take `g` of `job`, or "" when it can: "not ready",
// "draining", "no docker driver", "constraint ${attr.os} = windows",
// "missing host volume \"data\"", "host volume \"data\" is read-only".
std::string StaticInfeasible(const v1::Node& node, const v1::Job& job, const v1::TaskGroup& g);

// A key equal for groups with the same static feasibility.
std::string StaticKey(const v1::Job& job, const v1::TaskGroup& g);

// Whether `r` fits `n` now. `same_job_here`: allocations of the job on the
// node (for distinct_hosts).
Fit CheckFit(const NodeRec& n, const Request& r, int same_job_here);

}  // namespace orch::master::sched
