// NodeTable: the scheduler's compact, index-addressed view of the cluster:
// per node its capacity, what is claimed (allocations and placements made
// through this table), measured load, ports in use and the allocations on
// it (for anti-affinity and preemption). Built once per batch of
// evaluations and updated as plans are computed, so plans computed in a
// row see each other's placements. Per-constraint eligible-node lists are
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
#include "orch/v1/types.pb.h"

namespace orch::master::sched {

// A live allocation's writable mount of a host volume: `exclusive` for a
// single-node-single-writer request.
struct VolumeClaim {
  std::string alloc_id;
  std::string source;
  bool exclusive = false;
};

// An allocation as the table keeps it.
struct Resident {
  std::string alloc_id;
  uint32_t job = 0;  // interned job id
  int32_t priority = 0;
  int64_t cpu = 0;
  int64_t mem = 0;
  int64_t disk = 0;
  std::vector<int32_t> ports;
  std::vector<VolumeClaim> volumes;  // writable host-volume mounts
};

struct NodeRec {
  const v1::Node* node = nullptr;
  bool eligible = false;  // READY (not draining, not down)
  int64_t cpu_cap = 0, mem_cap = 0;
  int64_t cpu_used = 0, mem_used = 0;
  int64_t disk_cap = 0, disk_used = 0;  // disk_cap 0: the node reports none
  double load_cpu = 0, load_mem = 0;  // measured (EWMA)
  double pending_cpu = 0;             // placed through this table, not yet measured
  int32_t port_min = 0, port_max = 0;
  std::vector<int32_t> ports;  // in use
  // Still bound by allocations being stopped (asked to stop but not yet
  // reported terminal, or stopped by the plan being built): free for
  // placement, but a dynamic pick takes them only when no other port is
  // left, or the new task finds the old one still listening.
  std::vector<int32_t> closing_ports;
  std::vector<Resident> residents;
  std::vector<VolumeClaim> volume_claims;  // of live allocations and placements

  int64_t cpu_free() const { return cpu_cap - cpu_used; }
  int64_t mem_free() const { return mem_cap - mem_used; }
  bool PortUsed(int32_t p) const;
  bool PortClosing(int32_t p) const;
};

class NodeTable {
 public:
  // `nodes` carry `allocated` (claimed resources) and `load`. `allocs` are
  // the live allocations of any job (ports, residents); `priority` maps a
  // job id to its priority (missing: 0). With `track_residents` false the
  // table keeps no per-allocation records (benchmarks; no preemption).
  NodeTable(std::vector<v1::Node> nodes, const std::vector<const v1::Allocation*>& allocs,
            const std::map<std::string, int32_t>& priority, const SchedulerConfig& cfg,
            bool track_residents = true);

  size_t size() const { return recs_.size(); }
  NodeRec& at(uint32_t i) { return recs_[i]; }
  const NodeRec& at(uint32_t i) const { return recs_[i]; }
  // -1 when unknown.
  int IndexOf(const std::string& node_id) const;
  uint32_t InternJob(const std::string& job_id);
  const std::string& JobName(uint32_t job) const { return job_names_[job]; }
  bool track_residents() const { return track_residents_; }

  // Allocations asked to stop whose nodes have not reported them terminal:
  // their ports become closing_ports.
  void NoteStopping(const std::vector<const v1::Allocation*>& stopping);
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
  std::vector<v1::Node> nodes_;
  std::vector<NodeRec> recs_;
  std::unordered_map<std::string, uint32_t> index_;
  std::unordered_map<std::string, uint32_t> jobs_;
  std::vector<std::string> job_names_;
  std::vector<uint32_t> order_;
  std::unordered_map<std::string, std::unique_ptr<Eligible>> eligible_;
  bool track_residents_;
};

}  // namespace orch::master::sched
