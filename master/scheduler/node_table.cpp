#include "master/scheduler/node_table.h"

#include <algorithm>

#include "common/saturating.h"
#include "master/scheduler/feasibility.h"
#include "master/scheduler/rng.h"

namespace orch::master::sched {

bool NodeRec::PortUsed(int32_t p) const {
  return std::find(ports.begin(), ports.end(), p) != ports.end();
}
bool NodeRec::PortClosing(int32_t p) const {
  return std::find(closing_ports.begin(), closing_ports.end(), p) != closing_ports.end();
}

void NodeTable::NoteStopping(const std::vector<const v1::Allocation*>& stopping) {
  for (const v1::Allocation* p : stopping) {
    const v1::Allocation& a = *p;
    auto it = index_.find(a.node_id());
    if (it == index_.end()) continue;
    for (const auto& port : a.ports()) {
      if (port.value() > 0) recs_[it->second].closing_ports.push_back(port.value());
    }
  }
}

NodeTable::NodeTable(std::vector<v1::Node> nodes, const std::vector<const v1::Allocation*>& allocs,
                     const std::map<std::string, int32_t>& priority, const SchedulerConfig& cfg,
                     bool track_residents)
    : nodes_(std::move(nodes)), track_residents_(track_residents) {
  recs_.resize(nodes_.size());
  index_.reserve(nodes_.size());
  for (uint32_t i = 0; i < nodes_.size(); ++i) {
    const v1::Node& n = nodes_[i];
    NodeRec& r = recs_[i];
    r.node = &n;
    r.eligible = n.status() == v1::Node::READY;
    r.cpu_cap = n.capacity().cpu();
    r.mem_cap = n.capacity().memory();
    r.cpu_used = n.allocated().cpu();
    r.mem_used = n.allocated().memory();
    r.disk_cap = n.capacity().disk();
    r.disk_used = n.allocated().disk();
    r.load_cpu = n.load().cpu();
    r.load_mem = n.load().memory();
    bool has_range = n.port_range_min() > 0 && n.port_range_max() >= n.port_range_min();
    r.port_min = has_range ? n.port_range_min() : cfg.port_min;
    r.port_max = has_range ? n.port_range_max() : cfg.port_max;
    index_.emplace(n.id(), i);
  }
  for (const v1::Allocation* held : allocs) {
    const v1::Allocation& a = *held;
    auto it = index_.find(a.node_id());
    if (it == index_.end()) continue;
    NodeRec& r = recs_[it->second];
    Resident res;
    res.alloc_id = a.id();
    res.job = InternJob(a.job_id());
    auto p = priority.find(a.job_id());
    res.priority = p == priority.end() ? 0 : p->second;
    res.cpu = a.resources().cpu();
    res.mem = a.resources().memory();
    res.disk = a.resources().disk();
    for (const auto& port : a.ports()) {
      if (port.value() > 0) {
        res.ports.push_back(port.value());
        r.ports.push_back(port.value());
      }
    }
    if (a.task_group().volumes_size() > 0) {
      res.volumes = VolumeClaimsOf(a.task_group(), a.id());
      r.volume_claims.insert(r.volume_claims.end(), res.volumes.begin(), res.volumes.end());
    }
    r.residents.push_back(std::move(res));
  }
  // The seeded random order candidates are taken in.
  order_.resize(nodes_.size());
  for (uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
  Rng rng(cfg.seed);
  for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.Below(i)]);
}

int NodeTable::IndexOf(const std::string& node_id) const {
  auto it = index_.find(node_id);
  return it == index_.end() ? -1 : static_cast<int>(it->second);
}

uint32_t NodeTable::InternJob(const std::string& job_id) {
  auto [it, inserted] = jobs_.emplace(job_id, static_cast<uint32_t>(jobs_.size()));
  if (inserted) job_names_.push_back(job_id);
  return it->second;
}

void NodeTable::Place(uint32_t node, Resident r) {
  NodeRec& n = recs_[node];
  n.cpu_used = SatAdd(n.cpu_used, r.cpu);
  n.mem_used = SatAdd(n.mem_used, r.mem);
  n.disk_used = SatAdd(n.disk_used, r.disk);
  n.pending_cpu += static_cast<double>(r.cpu);
  for (int32_t p : r.ports) n.ports.push_back(p);
  for (auto& v : r.volumes) {
    v.alloc_id = r.alloc_id;
    n.volume_claims.push_back(v);
  }
  if (track_residents_) {
    n.residents.push_back(std::move(r));
  }
}

void NodeTable::Release(uint32_t node, const std::string& alloc_id, int64_t cpu, int64_t mem,
                        int64_t disk, const std::vector<int32_t>& ports) {
  NodeRec& n = recs_[node];
  n.cpu_used = SatSub(n.cpu_used, cpu);
  n.mem_used = SatSub(n.mem_used, mem);
  n.disk_used = SatSub(n.disk_used, disk);
  for (int32_t p : ports) {
    auto it = std::find(n.ports.begin(), n.ports.end(), p);
    if (it != n.ports.end()) n.ports.erase(it);
    n.closing_ports.push_back(p);  // its task still listens until it has stopped
  }
  std::erase_if(n.volume_claims, [&](const VolumeClaim& v) { return v.alloc_id == alloc_id; });
  auto it = std::find_if(n.residents.begin(), n.residents.end(),
                         [&](const Resident& r) { return r.alloc_id == alloc_id; });
  if (it != n.residents.end()) n.residents.erase(it);
  // A node with room again may take work the cursor skipped.
  for (auto& [key, e] : eligible_) e->cursor = 0;
}

}  // namespace orch::master::sched
