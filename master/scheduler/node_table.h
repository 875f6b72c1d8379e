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
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
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

// What a node holds, handed to a table the first time it looks at the
// node: its live allocations (residents, ports, volume claims) and those
// asked to stop and not yet terminal (their ports are closing); what the
// live ones claim and the node's measured load, when the source knows them
// better than the node record (unset: the record's `allocated` and `load`).
struct Holdings {
  std::vector<const v1::Allocation*> live;
  std::vector<const v1::Allocation*> stopping;
  std::optional<v1::Resources> allocated;
  std::optional<v1::NodeLoad> load;
};
// Fills `out` with what node `i` of the table (`node`) holds; what it
// points to must outlive the table.
using HoldingsSource = std::function<void(uint32_t i, const v1::Node& node, Holdings* out)>;
// A source over allocations of any node (live, or stopping if not live
// and not terminal; terminal ones are left out); they must outlive the
// table.
HoldingsSource HoldingsOf(const std::vector<const v1::Allocation*>& allocs);
// A job's priority (0 when unknown).
using PriorityOf = std::function<int32_t(const std::string& job_id)>;

class NodeTable {
 public:
  // `nodes` carry `allocated` (claimed resources) and `load` unless
  // `holdings` gives them. What each node holds is read from `holdings` the
  // first time the node is looked at (at()), and so is its record (capacity,
  // claims, load), so a pass costs what it looks at, not what the cluster
  // holds; null: nothing. The nodes are shared, not copied: a pass over
  // 5,000 nodes copied every record before. They must be sorted by id (as
  // the scheduling read gives them): IndexOf searches them, no index is
  // built. `priority` gives residents their job's priority (null: 0).
  // With `track_residents` false the table keeps no per-allocation records
  // (benchmarks; no preemption).
  using Nodes = std::vector<std::shared_ptr<const v1::Node>>;
  NodeTable(std::shared_ptr<const Nodes> nodes, HoldingsSource holdings, PriorityOf priority,
            const SchedulerConfig& cfg, bool track_residents = true);
  // The same from records in any order (tests, benchmarks, a plan's dry
  // run): they are shared and an id order is built.
  NodeTable(std::vector<v1::Node> nodes, HoldingsSource holdings, PriorityOf priority,
            const SchedulerConfig& cfg, bool track_residents = true);

  size_t size() const { return nodes_->size(); }
  NodeRec& at(uint32_t i) {
    NodeRec* r = rec_of_[i];
    return r != nullptr ? *r : *Load(i);
  }
  const NodeRec& at(uint32_t i) const {
    NodeRec* r = rec_of_[i];
    return r != nullptr ? *r : *Load(i);
  }
  // The node alone, without reading what it holds.
  const v1::Node& node(uint32_t i) const { return *(*nodes_)[i]; }
  // -1 when unknown.
  int IndexOf(const std::string& node_id) const;
  uint32_t InternJob(const std::string& job_id);
  const std::string& JobName(uint32_t job) const { return job_names_[job]; }
  bool track_residents() const { return track_residents_; }

  // Claims resources and ports for a placement.
  void Place(uint32_t node, Resident r);
  // Releases an allocation (stopped or preempted by the plan being built).
  void Release(uint32_t node, const std::string& alloc_id, int64_t cpu, int64_t mem, int64_t disk,
               const std::vector<int32_t>& ports);

  // Eligible nodes (READY, static feasibility by `pass`) in the table's
  // seeded random order, cached by `key`, with a cursor before which every
  // node was found full. They are found as a placement reaches them
  // (Reach), not all at once: a pass on a cluster of 20,000 nodes that
  // places one allocation looks at a few dozen. `pass(i)` is called at
  // most once per node per key; it must stay valid while the group it
  // stands for is scheduled (each EligibleFor of the key replaces it).
  struct Eligible {
    std::vector<uint32_t> nodes;  // found so far, in the table's order
    size_t cursor = 0;
    size_t scanned = 0;  // positions of the order looked at
    std::function<bool(uint32_t)> pass;
  };
  template <typename Pass>
  Eligible& EligibleFor(const std::string& key, Pass pass) {
    std::unique_ptr<Eligible>& e = eligible_[key];
    if (!e) e = std::make_unique<Eligible>();
    e->pass = std::move(pass);
    return *e;
  }
  // Finds eligible nodes until `e` holds more than `p`: whether it does
  // (false: fewer than p + 1 nodes are eligible).
  bool Reach(Eligible& e, size_t p) {
    while (e.nodes.size() <= p && e.scanned < order_.size()) {
      uint32_t i = order_[e.scanned++];
      if (e.pass(i)) e.nodes.push_back(i);
    }
    return p < e.nodes.size();
  }
  // Every eligible node.
  const std::vector<uint32_t>& All(Eligible& e) {
    Reach(e, order_.size());
    return e.nodes;
  }
  // Whether every eligible node has been found.
  bool Known(const Eligible& e) const { return e.scanned == order_.size(); }
  const std::vector<uint32_t>& order() const { return order_; }

 private:
  // Makes node `i`'s record, with what it holds (once).
  NodeRec* Load(uint32_t i) const;
  uint32_t Intern(const std::string& job_id) const;

  std::shared_ptr<const Nodes> nodes_;
  HoldingsSource holdings_;
  SchedulerConfig cfg_;
  PriorityOf priority_;
  // Filled as nodes are looked at (a const look reads too).
  // The records of the nodes looked at, made as they are (a deque: a
  // record stays where it is); rec_of_[i] is node i's, null: not yet.
  mutable std::deque<NodeRec> recs_;
  mutable std::vector<NodeRec*> rec_of_;
  // Node indexes in id order; empty when `nodes_` already is (IndexOf
  // searches it).
  std::vector<uint32_t> by_id_;
  mutable std::unordered_map<std::string, uint32_t> jobs_;
  mutable std::vector<std::string> job_names_;
  std::vector<uint32_t> order_;
  std::unordered_map<std::string, std::unique_ptr<Eligible>> eligible_;
  bool track_residents_;
};

}  // namespace orch::master::sched
