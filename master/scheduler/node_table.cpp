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

namespace {

std::shared_ptr<const NodeTable::Nodes> Shared(std::vector<v1::Node> nodes) {
  auto out = std::make_shared<NodeTable::Nodes>();
  out->reserve(nodes.size());
  for (auto& n : nodes) out->push_back(std::make_shared<const v1::Node>(std::move(n)));
  return out;
}

}  // namespace

NodeTable::NodeTable(std::vector<v1::Node> nodes, HoldingsSource holdings, PriorityOf priority,
                     const SchedulerConfig& cfg, bool track_residents)
    : NodeTable(Shared(std::move(nodes)), std::move(holdings), std::move(priority), cfg,
                track_residents) {
  by_id_.resize(size());
  for (uint32_t j = 0; j < by_id_.size(); ++j) by_id_[j] = j;
  std::stable_sort(by_id_.begin(), by_id_.end(),
                   [this](uint32_t a, uint32_t b) { return node(a).id() < node(b).id(); });
}

NodeTable::NodeTable(std::shared_ptr<const Nodes> nodes, HoldingsSource holdings,
                     PriorityOf priority, const SchedulerConfig& cfg, bool track_residents)
    : nodes_(std::move(nodes)),
      holdings_(std::move(holdings)),
      cfg_(cfg),
      priority_(std::move(priority)),
      track_residents_(track_residents) {
  rec_of_.assign(size(), nullptr);
  // The seeded random order candidates are taken in.
  order_.resize(size());
  for (uint32_t i = 0; i < order_.size(); ++i) order_[i] = i;
  Rng rng(cfg.seed);
  for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.Below(i)]);
}

NodeRec* NodeTable::Load(uint32_t i) const {
  recs_.emplace_back();
  rec_of_[i] = &recs_.back();
  Holdings h;
  const v1::Node& n = node(i);
  if (holdings_) holdings_(i, n, &h);
  NodeRec& r = recs_.back();
  r.node = &n;
  r.eligible = n.status() == v1::Node::READY;
  r.cpu_cap = n.capacity().cpu();
  r.mem_cap = n.capacity().memory();
  r.disk_cap = n.capacity().disk();
  const v1::Resources& allocated = h.allocated ? *h.allocated : n.allocated();
  r.cpu_used = allocated.cpu();
  r.mem_used = allocated.memory();
  r.disk_used = allocated.disk();
  const v1::NodeLoad& load = h.load ? *h.load : n.load();
  r.load_cpu = load.cpu();
  r.load_mem = load.memory();
  bool has_range = n.port_range_min() > 0 && n.port_range_max() >= n.port_range_min();
  r.port_min = has_range ? n.port_range_min() : cfg_.port_min;
  r.port_max = has_range ? n.port_range_max() : cfg_.port_max;
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
  return rec_of_[i];
}

int NodeTable::IndexOf(const std::string& node_id) const {
  const size_t n = size();
  auto id_at = [&](size_t k) -> const std::string& {
    return node(by_id_.empty() ? static_cast<uint32_t>(k) : by_id_[k]).id();
  };
  size_t lo = 0, hi = n;  // the first position whose id is not less
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (id_at(mid) < node_id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == n || id_at(lo) != node_id) return -1;
  return static_cast<int>(by_id_.empty() ? lo : by_id_[lo]);
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
