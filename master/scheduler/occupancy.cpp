#include "master/scheduler/occupancy.h"

#include <algorithm>
#include <unordered_map>

#include "common/saturating.h"
#include "master/scheduler/feasibility.h"

namespace orch::master::sched {
namespace {

// Removes one instance of each of `ports` (a port two allocations hold
// stays held by the other).
void EraseEach(std::vector<int32_t>* from, const std::vector<int32_t>& ports) {
  for (int32_t p : ports) {
    auto it = std::find(from->begin(), from->end(), p);
    if (it != from->end()) from->erase(it);
  }
}

}  // namespace

Resident ResidentOf(const v1::Allocation& a, int32_t priority) {
  Resident r;
  r.alloc_id = a.id();
  r.job_id = a.job_id();
  r.priority = priority;
  r.cpu = a.resources().cpu();
  r.mem = a.resources().memory();
  r.disk = a.resources().disk();
  for (const auto& port : a.ports()) {
    if (port.value() > 0) r.ports.push_back(port.value());
  }
  if (a.task_group().volumes_size() > 0) r.volumes = VolumeClaimsOf(a.task_group(), a.id());
  return r;
}

void NodeOccupancy::AddLive(Resident r) {
  cpu = SatAdd(cpu, r.cpu);
  mem = SatAdd(mem, r.mem);
  disk = SatAdd(disk, r.disk);
  held.ports.insert(held.ports.end(), r.ports.begin(), r.ports.end());
  held.volume_claims.insert(held.volume_claims.end(), r.volumes.begin(), r.volumes.end());
  held.residents.push_back(std::move(r));
}

void NodeOccupancy::AddStopping(Resident r) {
  held.closing_ports.insert(held.closing_ports.end(), r.ports.begin(), r.ports.end());
  stopping.push_back(std::move(r));
}

bool NodeOccupancy::Remove(const std::string& alloc_id) {
  auto is = [&](const Resident& r) { return r.alloc_id == alloc_id; };
  if (auto it = std::find_if(held.residents.begin(), held.residents.end(), is);
      it != held.residents.end()) {
    cpu = SatSub(cpu, it->cpu);
    mem = SatSub(mem, it->mem);
    disk = SatSub(disk, it->disk);
    EraseEach(&held.ports, it->ports);
    std::erase_if(held.volume_claims, [&](const VolumeClaim& v) { return v.alloc_id == alloc_id; });
    held.residents.erase(it);
    return true;
  }
  if (auto it = std::find_if(stopping.begin(), stopping.end(), is); it != stopping.end()) {
    EraseEach(&held.closing_ports, it->ports);
    stopping.erase(it);
    return true;
  }
  return false;
}

void NodeOccupancy::SetPriority(const std::string& job_id, int32_t priority) {
  for (auto& r : held.residents) {
    if (r.job_id == job_id) r.priority = priority;
  }
}

NodeOccupancies BuildOccupancies(std::vector<v1::Node> nodes,
                                 const std::vector<v1::Allocation>& live,
                                 const std::vector<v1::Allocation>& stopping,
                                 const std::map<std::string, int32_t>& priority) {
  std::vector<std::shared_ptr<NodeOccupancy>> built;
  std::unordered_map<std::string, NodeOccupancy*> by_id;
  built.reserve(nodes.size());
  for (auto& n : nodes) {
    auto o = std::make_shared<NodeOccupancy>();
    by_id.emplace(n.id(), o.get());
    o->node = std::make_shared<const v1::Node>(std::move(n));
    built.push_back(std::move(o));
  }
  auto priority_of = [&](const std::string& job_id) {
    auto it = priority.find(job_id);
    return it == priority.end() ? 0 : it->second;
  };
  for (const auto& a : live) {
    if (auto it = by_id.find(a.node_id()); it != by_id.end())
      it->second->AddLive(ResidentOf(a, priority_of(a.job_id())));
  }
  for (const auto& a : stopping) {
    if (auto it = by_id.find(a.node_id()); it != by_id.end())
      it->second->AddStopping(ResidentOf(a, 0));
  }
  NodeOccupancies out;
  out.reserve(built.size());
  for (auto& o : built) {
    // What the node says its allocations claim.
    o->cpu = o->node->allocated().cpu();
    o->mem = o->node->allocated().memory();
    o->disk = o->node->allocated().disk();
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace orch::master::sched
