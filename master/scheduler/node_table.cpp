#include "master/scheduler/node_table.h"

#include <algorithm>

#include "common/saturating.h"
#include "master/scheduler/feasibility.h"
#include "master/scheduler/rng.h"

namespace orch::master::sched {

const Occupancy& NodeRec::held() const {
  static const Occupancy kNone;
  if (own_) return *own_;
  return source ? source->held : kNone;
}

Occupancy& NodeRec::MutableHeld() {
  if (!own_) own_ = std::make_unique<Occupancy>(held());
  return *own_;
}

bool NodeRec::PortUsed(int32_t p) const {
  const auto& ports = held().ports;
  return std::find(ports.begin(), ports.end(), p) != ports.end();
}
bool NodeRec::PortClosing(int32_t p) const {
  const auto& ports = held().closing_ports;
  return std::find(ports.begin(), ports.end(), p) != ports.end();
}

NodeTable::NodeTable(std::vector<v1::Node> nodes, const std::vector<v1::Allocation>& allocs,
                     const std::map<std::string, int32_t>& priority, const SchedulerConfig& cfg,
                     bool track_residents)
    : NodeTable(BuildOccupancies(std::move(nodes), allocs, {}, priority), cfg, track_residents) {}

NodeTable::NodeTable(NodeOccupancies nodes, const SchedulerConfig& cfg, bool track_residents)
    : track_residents_(track_residents) {
  recs_.resize(nodes.size());
  index_.reserve(nodes.size());
  for (uint32_t i = 0; i < nodes.size(); ++i) {
    NodeRec& r = recs_[i];
    r.source = std::move(nodes[i]);
    const v1::Node& n = *r.source->node;
    r.node = &n;
    r.eligible = n.status() == v1::Node::READY;
    r.cpu_cap = n.capacity().cpu();
    r.mem_cap = n.capacity().memory();
    r.cpu_used = r.source->cpu;
    r.mem_used = r.source->mem;
    r.disk_cap = n.capacity().disk();
    r.disk_used = r.source->disk;
    r.load_cpu = n.load().cpu();
    r.load_mem = n.load().memory();
    bool has_range = n.port_range_min() > 0 && n.port_range_max() >= n.port_range_min();
    r.port_min = has_range ? n.port_range_min() : cfg.port_min;
    r.port_max = has_range ? n.port_range_max() : cfg.port_max;
    index_.emplace(n.id(), i);
  }
  // The seeded random order candidates are taken in.
  order_.resize(recs_.size());
  for (uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
  Rng rng(cfg.seed);
  for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.Below(i)]);
}

int NodeTable::IndexOf(const std::string& node_id) const {
  auto it = index_.find(node_id);
  return it == index_.end() ? -1 : static_cast<int>(it->second);
}

void NodeTable::Place(uint32_t node, Resident r) {
  NodeRec& n = recs_[node];
  n.cpu_used = SatAdd(n.cpu_used, r.cpu);
  n.mem_used = SatAdd(n.mem_used, r.mem);
  n.disk_used = SatAdd(n.disk_used, r.disk);
  n.pending_cpu += static_cast<double>(r.cpu);
  Occupancy& held = n.MutableHeld();
  held.ports.insert(held.ports.end(), r.ports.begin(), r.ports.end());
  for (auto& v : r.volumes) {
    v.alloc_id = r.alloc_id;
    held.volume_claims.push_back(v);
  }
  if (track_residents_) {
    held.residents.push_back(std::move(r));
  }
}

void NodeTable::Release(uint32_t node, const std::string& alloc_id, int64_t cpu, int64_t mem,
                        int64_t disk, const std::vector<int32_t>& ports) {
  NodeRec& n = recs_[node];
  n.cpu_used = SatSub(n.cpu_used, cpu);
  n.mem_used = SatSub(n.mem_used, mem);
  n.disk_used = SatSub(n.disk_used, disk);
  Occupancy& held = n.MutableHeld();
  for (int32_t p : ports) {
    auto it = std::find(held.ports.begin(), held.ports.end(), p);
    if (it != held.ports.end()) held.ports.erase(it);
    held.closing_ports.push_back(p);  // its task still listens until it has stopped
  }
  std::erase_if(held.volume_claims, [&](const VolumeClaim& v) { return v.alloc_id == alloc_id; });
  auto it = std::find_if(held.residents.begin(), held.residents.end(),
                         [&](const Resident& r) { return r.alloc_id == alloc_id; });
  if (it != held.residents.end()) held.residents.erase(it);
  // A node with room again may take work the cursor skipped.
  for (auto& [key, e] : eligible_) e->cursor = 0;
}

}  // namespace orch::master::sched
