#include "master/scheduler/preemption.h"

#include <algorithm>
#include <tuple>

namespace orch::master::sched {

std::optional<Preemption> FindPreemption(const NodeTable& table, const std::vector<uint32_t>& eligible,
                                         const Request& r, int32_t priority, int gap) {
  std::optional<Preemption> best;
  std::tuple<size_t, int32_t, int64_t> best_key;
  for (uint32_t i : eligible) {
    const NodeRec& n = table.at(i);
    if (r.cpu > n.cpu_cap || r.mem > n.mem_cap || (n.disk_cap > 0 && r.disk > n.disk_cap)) continue;
    // A single-writer volume is not taken from its writer by preemption.
    if (!r.volumes.empty() && !VolumesFit(n, r)) continue;
    std::vector<const Resident*> cand;
    bool blocked = false;
    std::vector<const Resident*> forced;  // hold a static port we need
    int same_job = 0;
    for (const auto& res : n.residents) {
      if (res.job == r.job) ++same_job;
      bool holds_port = std::any_of(res.ports.begin(), res.ports.end(), [&](int32_t p) {
        return std::find(r.static_ports.begin(), r.static_ports.end(), p) != r.static_ports.end();
      });
      bool lower = res.job != r.job && res.priority <= priority - gap;
      if (holds_port) {
        if (!lower) blocked = true;
        forced.push_back(&res);
      } else if (lower) {
        cand.push_back(&res);
      }
    }
    if (blocked || (r.distinct_hosts && same_job > 0)) continue;
    std::sort(cand.begin(), cand.end(), [](const Resident* a, const Resident* b) {
      if (a->priority != b->priority) return a->priority < b->priority;
      return a->cpu + a->mem > b->cpu + b->mem;
    });
    // A node that reports no disk has all the disk a request asks for.
    int64_t cpu_free = n.cpu_free(), mem_free = n.mem_free();
    int64_t disk_free = n.disk_cap > 0 ? n.disk_cap - n.disk_used : r.disk;
    std::vector<const Resident*> chosen = forced;
    auto free_up = [&](const Resident* v) {
      cpu_free += v->cpu;
      mem_free += v->mem;
      disk_free += v->disk;
    };
    for (const auto* v : forced) free_up(v);
    auto short_of = [&] { return cpu_free < r.cpu || mem_free < r.mem || disk_free < r.disk; };
    size_t next = 0;
    while (short_of() && next < cand.size()) {
      chosen.push_back(cand[next]);
      free_up(cand[next]);
      ++next;
    }
    if (short_of() || chosen.empty()) continue;
    int32_t maxp = 0;
    int64_t sum = 0;
    for (const auto* v : chosen) {
      maxp = std::max(maxp, v->priority);
      sum += v->priority;
    }
    auto key = std::make_tuple(chosen.size(), maxp, sum);
    if (!best || key < best_key) {
      best_key = key;
      best = Preemption{i, {}};
      for (const auto* v : chosen) best->victims.push_back(*v);
    }
  }
  return best;
}

}  // namespace orch::master::sched
