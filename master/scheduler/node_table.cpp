#include "master/scheduler/node_table.h"

#include <algorithm>

#include "common/saturating.h"
#include "master/model/allocation.h"
#include "master/scheduler/feasibility.h"
#include "master/scheduler/rng.h"

namespace orch::master::sched {

bool NodeRec::PortUsed(int32_t p) const {
  return std::find(ports.begin(), ports.end(), p) != ports.end();
}
bool NodeRec::PortClosing(int32_t p) const {
  return std::find(closing_ports.begin(), closing_ports.end(), p) != closing_ports.end();
}

HoldingsSource HoldingsOf(const std::vector<const v1::Allocation*>& allocs) {
  auto by_node = std::make_shared<std::unordered_map<std::string, Holdings>>();
  for (const v1::Allocation* a : allocs) {
    if (IsLive(*a)) {
      (*by_node)[a->node_id()].live.push_back(a);
    } else if (!IsTerminal(*a)) {
      (*by_node)[a->node_id()].stopping.push_back(a);
    }
  }
  return [by_node](uint32_t, const v1::Node& node, Holdings* out) {
    auto it = by_node->find(node.id());
    if (it != by_node->end()) *out = it->second;
  };
}

NodeTable::NodeTable(std::vector<v1::Node> nodes, HoldingsSource holdings, PriorityOf priority,
                     const SchedulerConfig& cfg, bool track_residents)
    : nodes_(std::move(nodes)),
      holdings_(std::move(holdings)),
      priority_(std::move(priority)),
      track_residents_(track_residents) {
  recs_.resize(nodes_.size());
  loaded_.assign(nodes_.size(), 0);
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
  // The seeded random order candidates are taken in.
  order_.resize(nodes_.size());
  for (uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
  Rng rng(cfg.seed);
  for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.Below(i)]);
}

void NodeTable::Load(uint32_t i) const {
  loaded_[i] = 1;
  if (!holdings_) return;
  Holdings h;
  holdings_(i, nodes_[i], &h);
  NodeRec& r = recs_[i];
  for (const v1::Allocation* held : h.live) {
    const v1::Allocation& a = *held;
    Resident res;
    res.alloc_id = a.id();
    res.job = Intern(a.job_id());
    res.priority = priority_ ? priority_(a.job_id()) : 0;
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
  // Stopping: their ports are closing until the node reports them
  // terminal.
  for (const v1::Allocation* a : h.stopping) {
    for (const auto& port : a->ports()) {
      if (port.value() > 0) r.closing_ports.push_back(port.value());
    }
  }
}

int NodeTable::IndexOf(const std::string& node_id) const {
  auto it = index_.find(node_id);
  return it == index_.end() ? -1 : static_cast<int>(it->second);
}

uint32_t NodeTable::InternJob(const std::string& job_id) { return Intern(job_id); }

uint32_t NodeTable::Intern(const std::string& job_id) const {
  auto [it, inserted] = jobs_.emplace(job_id, static_cast<uint32_t>(jobs_.size()));
  if (inserted) job_names_.push_back(job_id);
  return it->second;
}

void NodeTable::Place(uint32_t node, Resident r) {
  NodeRec& n = at(node);
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
  NodeRec& n = at(node);
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
