#include "master/model/allocation.h"

#include "common/saturating.h"

namespace orch::master {

bool IsTerminal(const v1::Allocation& a) {
  return a.client_status() == v1::Allocation::COMPLETE ||
         a.client_status() == v1::Allocation::FAILED || a.client_status() == v1::Allocation::LOST;
}

bool IsLive(const v1::Allocation& a) {
  return a.desired_status() == v1::Allocation::RUN && !IsTerminal(a);
}

v1::Resources GroupResources(const v1::TaskGroup& g) {
  v1::Resources r;
  for (const auto& t : g.tasks()) {
    r.set_cpu(SatAdd(r.cpu(), t.resources().cpu()));
    r.set_memory(SatAdd(r.memory(), t.resources().memory()));
  }
  r.set_disk(g.ephemeral_disk().size());
  return r;
}

}  // namespace orch::master
