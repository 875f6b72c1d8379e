// NodeTable: the scheduler's compact, index-addressed view of the cluster:
// per node its capacity, what is claimed (allocations and placements made
// through this table), measured load, ports in use and the allocations on
// it (for anti-affinity and preemption). Built once per batch of
// evaluations from the nodes' occupancies (shared with the state store: a
// node's lists are copied only where the table changes them) and updated
// as plans are computed, so plans computed in a row see each other's
// placements. Per-constraint eligible-node lists are
// cached (in a seeded random order) so a placement does not rescan the
// cluster.
// Thread safety: not thread-safe; one scheduler thread owns a table.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "master/scheduler/config.h"
#include "master/scheduler/occupancy.h"
#include "orch/v1/types.pb.h"

namespace orch::master::sched {

struct NodeRec {
  const v1::Node* node = nullptr;
  bool eligible = false;  // READY (not draining, not down)
  int64_t cpu_cap = 0, mem_cap = 0;
  int64_t cpu_used = 0, mem_used = 0;
  int64_t disk_cap = 0, disk_used = 0;  // disk_cap 0: the node reports none
  double load_cpu = 0, load_mem = 0;  // measured (EWMA)
  double pending_cpu = 0;             // placed through this table, not yet measured
  int32_t port_min = 0, port_max = 0;

  // What the node's allocations hold: the occupancy the table was built
  // from until this table first changes it, a copy of its own after.
  const Occupancy& held() const;
  Occupancy& MutableHeld();
  const std::vector<int32_t>& ports() const { return held().ports; }  // in use
  const std::vector<int32_t>& closing_ports() const { return held().closing_ports; }
  const std::vector<Resident>& residents() const { return held().residents; }
  const std::vector<VolumeClaim>& volume_claims() const { return held().volume_claims; }

  int64_t cpu_free() const { return cpu_cap - cpu_used; }
  int64_t mem_free() const { return mem_cap - mem_used; }
  bool PortUsed(int32_t p) const;
  bool PortClosing(int32_t p) const;

  std::shared_ptr<const NodeOccupancy> source;  // keeps `node` and the shared lists

 private:
  std::unique_ptr<Occupancy> own_;
};

class NodeTable {
 public:
  // A table over `nodes` (their measured load is set through at()). With
  // `track_residents` false the table keeps no record of what it places
  // (benchmarks; no preemption of those).
  NodeTable(NodeOccupancies nodes, const SchedulerConfig& cfg, bool track_residents = true);
  // Built from whole lists (tests, benchmarks, a plan's dry run): `nodes`
  // carry `allocated` (claimed resources) and `load`; `allocs` are the live
  // allocations of any job; `priority` maps a job id to its priority
  // (missing: 0).
  NodeTable(std::vector<v1::Node> nodes, const std::vector<v1::Allocation>& allocs,
            const std::map<std::string, int32_t>& priority, const SchedulerConfig& cfg,
            bool track_residents = true);

  size_t size() const { return recs_.size(); }
  NodeRec& at(uint32_t i) { return recs_[i]; }
  const NodeRec& at(uint32_t i) const { return recs_[i]; }
  // -1 when unknown.
  int IndexOf(const std::string& node_id) const;
  bool track_residents() const { return track_residents_; }

  // Claims resources and ports for a placement.
  void Place(uint32_t node, Resident r);
  // Releases an allocation (stopped or preempted by the plan being built).
  void Release(uint32_t node, const std::string& alloc_id, int64_t cpu, int64_t mem, int64_t disk,
               const std::vector<int32_t>& ports);

  // Eligible nodes (READY, static feasibility by `pass`) in the table's
  // seeded random order, cached by `key`, with a cursor before which every
  // node was found full. `pass(i)` is called once per node per key.
  struct Eligible {
    std::vector<uint32_t> nodes;
    size_t cursor = 0;
  };
  template <typename Pass>
  Eligible& EligibleFor(const std::string& key, Pass pass) {
    auto it = eligible_.find(key);
    if (it != eligible_.end()) return *it->second;
    auto e = std::make_unique<Eligible>();
    for (uint32_t i : order_) {
      if (pass(i)) e->nodes.push_back(i);
    }
    return *eligible_.emplace(key, std::move(e)).first->second;
  }
  const std::vector<uint32_t>& order() const { return order_; }

 private:
  std::vector<NodeRec> recs_;
  std::unordered_map<std::string, uint32_t> index_;
  std::vector<uint32_t> order_;
  std::unordered_map<std::string, std::unique_ptr<Eligible>> eligible_;
  bool track_residents_;
};

}  // namespace orch::master::sched
