// Every node's occupancy (sched::NodeOccupancy), kept in memory with each
// allocation, node and job write, and rebuilt with the allocation briefs on
// open, restore and rollback, so that a scheduling pass reads no
// allocation: it shares the occupancies as they are at its index.
#include <algorithm>

#include "master/model/allocation.h"
#include "master/state/state_store.h"

namespace orch::master {
namespace {

// Whether `a` claims what `r` holds (resources and ports; one with volumes
// is never taken for the same, it is simply noted again).
bool SameClaim(const v1::Allocation& a, const sched::Resident& r) {
  if (a.resources().cpu() != r.cpu || a.resources().memory() != r.mem ||
      a.resources().disk() != r.disk)
    return false;
  if (a.task_group().volumes_size() > 0 || !r.volumes.empty()) return false;
  size_t i = 0;
  for (const auto& p : a.ports()) {
    if (p.value() <= 0) continue;
    if (i >= r.ports.size() || r.ports[i] != p.value()) return false;
    ++i;
  }
  return i == r.ports.size();
}

}  // namespace

sched::NodeOccupancy& StateStore::OccupancyToChangeLocked(const std::string& node_id) {
  auto& o = occupancy_[node_id];
  if (!o) {
    o = std::make_shared<sched::NodeOccupancy>();
  } else if (o.use_count() > 1) {
    // A pass holds it (it took its copy under mu_, which we hold, so the
    // count cannot rise meanwhile): it keeps the one it has.
    o = std::make_shared<sched::NodeOccupancy>(*o);
  }
  return *o;
}

void StateStore::ForgetOccupancyLocked(const std::string& alloc_id) {
  auto it = placed_.find(alloc_id);
  if (it == placed_.end()) return;
  OccupancyToChangeLocked(it->second.node_id).Remove(alloc_id);
  if (auto j = placed_by_job_.find(it->second.job_id); j != placed_by_job_.end()) {
    j->second.erase(alloc_id);
    if (j->second.empty()) placed_by_job_.erase(j);
  }
  placed_.erase(it);
}

void StateStore::NoteOccupancyLocked(const v1::Allocation& a) {
  if (auto it = placed_.find(a.id()); it != placed_.end() && !IsTerminal(a) &&
                                      it->second.live == IsLive(a) &&
                                      it->second.node_id == a.node_id()) {
    // Where it was and as live as it was (an agent's report of its status,
    // most writes at scale): changed only if its claim did.
    const sched::NodeOccupancy& o = *occupancy_.at(a.node_id());
    const auto& list = it->second.live ? o.held.residents : o.stopping;
    auto r = std::find_if(list.begin(), list.end(),
                          [&](const sched::Resident& r) { return r.alloc_id == a.id(); });
    if (r != list.end() && SameClaim(a, *r)) return;
  }
  ForgetOccupancyLocked(a.id());
  if (IsTerminal(a)) return;
  sched::NodeOccupancy& o = OccupancyToChangeLocked(a.node_id());
  if (IsLive(a)) {
    auto brief = jobs_brief_.find(a.job_id());
    o.AddLive(sched::ResidentOf(a, brief == jobs_brief_.end() ? 0 : brief->second.priority));
  } else {
    o.AddStopping(sched::ResidentOf(a, 0));
  }
  placed_[a.id()] = Placed{a.node_id(), a.job_id(), IsLive(a)};
  placed_by_job_[a.job_id()].insert(a.id());
}

void StateStore::NoteNodeOccupancyLocked(const v1::Node& node) {
  OccupancyToChangeLocked(node.id()).node = std::make_shared<const v1::Node>(node);
}

void StateStore::SetResidentPriorityLocked(const std::string& job_id, int32_t priority) {
  auto j = placed_by_job_.find(job_id);
  if (j == placed_by_job_.end()) return;
  std::set<std::string> nodes;
  for (const auto& id : j->second) nodes.insert(placed_.at(id).node_id);
  for (const auto& n : nodes) OccupancyToChangeLocked(n).SetPriority(job_id, priority);
}

}  // namespace orch::master
