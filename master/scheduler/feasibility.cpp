#include "master/scheduler/feasibility.h"

#include <algorithm>

#include "common/saturating.h"
#include "master/model/allocation.h"
#include "master/scheduler/constraints.h"

namespace orch::master::sched {
namespace {

template <typename F>
void ForEachConstraint(const v1::Job& job, const v1::TaskGroup& g, F f) {
  for (const auto& c : job.constraints()) f(c);
  for (const auto& c : g.constraints()) f(c);
}

}  // namespace

Request MakeRequest(const v1::Job& job, const v1::TaskGroup& g, uint32_t job_index) {
  Request r;
  const v1::Resources claim = GroupResources(g);
  r.cpu = claim.cpu();
  r.mem = claim.memory();
  r.disk = claim.disk();
  for (const auto& p : g.network().ports()) {
    if (p.static_() > 0) {
      r.static_ports.push_back(p.static_());
    } else {
      ++r.dynamic_ports;
    }
  }
  ForEachConstraint(job, g, [&](const v1::Constraint& c) { r.distinct_hosts |= c.operator_() == "distinct_hosts"; });
  r.job = job_index;
  r.volumes = VolumeClaimsOf(g);
  return r;
}

std::vector<VolumeClaim> VolumeClaimsOf(const v1::TaskGroup& g, const std::string& alloc_id) {
  std::vector<VolumeClaim> out;
  for (const auto& [name, v] : g.volumes()) {
    if (v.type() != "host" || v.read_only()) continue;
    out.push_back({alloc_id, v.source(), v.access_mode() == "single-node-single-writer"});
  }
  return out;
}

bool VolumesFit(const NodeRec& n, const Request& r) {
  for (const auto& want : r.volumes) {
    for (const auto& have : n.volume_claims) {
      if (have.source == want.source && (want.exclusive || have.exclusive)) return false;
    }
  }
  return true;
}

std::string StaticInfeasible(const v1::Node& node, const v1::Job& job, const v1::TaskGroup& g) {
  if (node.status() == v1::Node::DRAINING) return "draining";
  if (node.status() != v1::Node::READY) return "not ready";
  const auto& drivers = node.attributes().drivers();
  for (const auto& t : g.tasks()) {
    if (std::find(drivers.begin(), drivers.end(), t.driver()) == drivers.end()) {
      return "no " + t.driver() + " driver";
    }
  }
  for (const auto& [name, v] : g.volumes()) {
    if (v.type() != "host") continue;
    auto it = node.attributes().host_volumes().find(v.source());
    if (it == node.attributes().host_volumes().end())
      return "missing host volume \"" + v.source() + "\"";
    if (it->second.read_only() && !v.read_only())
      return "host volume \"" + v.source() + "\" is read-only";
  }
  std::string why;
  ForEachConstraint(job, g, [&](const v1::Constraint& c) {
    if (why.empty() && !ConstraintHolds(node, c)) why = "constraint " + DescribeConstraint(c);
  });
  return why;
}

std::string StaticKey(const v1::Job& job, const v1::TaskGroup& g) {
  std::string key;
  std::vector<std::string> drivers;
  for (const auto& t : g.tasks()) drivers.push_back(t.driver());
  std::sort(drivers.begin(), drivers.end());
  drivers.erase(std::unique(drivers.begin(), drivers.end()), drivers.end());
  for (const auto& d : drivers) key += d + '\x1f';
  key += '\x1e';
  std::vector<std::string> volumes;
  for (const auto& [name, v] : g.volumes())
    volumes.push_back(v.type() + ':' + v.source() + (v.read_only() ? ":ro" : ":rw"));
  std::sort(volumes.begin(), volumes.end());
  for (const auto& v : volumes) key += v + '\x1f';
  key += '\x1e';
  ForEachConstraint(job, g, [&](const v1::Constraint& c) {
    if (c.operator_() == "distinct_hosts") return;
    key += c.attribute() + '\x1f' + c.operator_() + '\x1f' + c.value() + '\x1e';
  });
  return key;
}

Fit CheckFit(const NodeRec& n, const Request& r, int same_job_here) {
  const NodeRoom room{n.cpu_cap, n.cpu_used, n.mem_cap, n.mem_used, n.disk_cap, n.disk_used};
  if (Fit f = ResourcesFit(room, r.cpu, r.mem, r.disk); f != Fit::kOk) return f;
  if (r.distinct_hosts && same_job_here > 0) return Fit::kDistinctHosts;
  if (!r.volumes.empty() && !VolumesFit(n, r)) return Fit::kVolume;
  for (int32_t p : r.static_ports) {
    if (n.PortUsed(p)) return Fit::kPorts;
  }
  if (r.dynamic_ports > 0) {
    int64_t range = static_cast<int64_t>(n.port_max) - n.port_min + 1;
    int64_t used = 0;
    for (int32_t p : n.ports) used += p >= n.port_min && p <= n.port_max;
    for (int32_t p : r.static_ports) used += p >= n.port_min && p <= n.port_max;
    if (range - used < r.dynamic_ports) return Fit::kPorts;
  }
  return Fit::kOk;
}

}  // namespace orch::master::sched
