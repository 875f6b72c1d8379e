// NodeOccupancy: one node as a scheduling pass starts from it: the node as
// stored and what its allocations hold there (the live ones' resources,
// ports and writable volumes, each with its job and priority for
// preemption; the ports of those asked to stop that have not stopped yet).
// The state store keeps one per node, changed with every allocation, node
// and job-priority write, so a pass reads no allocation; a pass's NodeTable
// shares them and copies a node's lists only where the pass places or
// stops something.
// Thread safety: a NodeOccupancy shared (through NodeOccupancies) is never
// changed; its owner changes one only while nothing else holds it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "orch/v1/types.pb.h"

namespace orch::master::sched {

// A live allocation's writable mount of a host volume: `exclusive` for a
// single-node-single-writer request.
struct VolumeClaim {
  std::string alloc_id;
  std::string source;
  bool exclusive = false;
};

// An allocation as a node's occupancy keeps it.
struct Resident {
  std::string alloc_id;
  std::string job_id;
  int32_t priority = 0;  // its job's
  int64_t cpu = 0;
  int64_t mem = 0;
  int64_t disk = 0;
  std::vector<int32_t> ports;
  std::vector<VolumeClaim> volumes;  // writable host-volume mounts
};

// `a` as a resident (ports with a value, writable volumes of its group).
Resident ResidentOf(const v1::Allocation& a, int32_t priority);

// What a node's allocations hold.
struct Occupancy {
  std::vector<int32_t> ports;  // of the live allocations
  // Still bound by allocations asked to stop that have not stopped: free
  // for placement, but a dynamic pick takes them only when no other port is
  // left, or the new task finds the old one still listening.
  std::vector<int32_t> closing_ports;
  std::vector<Resident> residents;         // the live allocations
  std::vector<VolumeClaim> volume_claims;  // of the live allocations
};

struct NodeOccupancy {
  std::shared_ptr<const v1::Node> node;  // as stored; null until the node is known
  int64_t cpu = 0, mem = 0, disk = 0;    // claimed by the live allocations
  Occupancy held;
  std::vector<Resident> stopping;  // asked to stop, not yet terminal

  void AddLive(Resident r);
  void AddStopping(Resident r);
  // Forgets allocation `alloc_id` (live or stopping); false if it was not here.
  bool Remove(const std::string& alloc_id);
  // Sets the priority of `job_id`'s residents.
  void SetPriority(const std::string& job_id, int32_t priority);
};

// The nodes of one pass (the state store gives them ordered by id).
using NodeOccupancies = std::vector<std::shared_ptr<const NodeOccupancy>>;

// Occupancies built from whole lists (tests, benchmarks, a plan's dry run):
// `nodes` carry `allocated` (what the node's live allocations claim, as
// StateStore::DeriveNode sets it); `live` and `stopping` are allocations of
// any node (those of unknown nodes are left out); `priority` maps a job id
// to its priority (missing: 0).
NodeOccupancies BuildOccupancies(std::vector<v1::Node> nodes,
                                 const std::vector<v1::Allocation>& live,
                                 const std::vector<v1::Allocation>& stopping,
                                 const std::map<std::string, int32_t>& priority);

}  // namespace orch::master::sched
