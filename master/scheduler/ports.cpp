#include "master/scheduler/ports.h"

#include <algorithm>

namespace orch::master::sched {

bool AssignPorts(const NodeRec& n, const v1::Network& net, Rng* rng, std::vector<int32_t>* out) {
  out->clear();
  auto taken = [&](int32_t p) { return n.PortUsed(p) || std::find(out->begin(), out->end(), p) != out->end(); };
  // Static ports first so a dynamic one never takes a port asked for.
  std::vector<int32_t> values(static_cast<size_t>(net.ports_size()), 0);
  for (int i = 0; i < net.ports_size(); ++i) {
    if (net.ports(i).static_() > 0) {
      values[static_cast<size_t>(i)] = net.ports(i).static_();
      out->push_back(net.ports(i).static_());
    }
  }
  int64_t range = static_cast<int64_t>(n.port_max) - n.port_min + 1;
  for (int i = 0; i < net.ports_size(); ++i) {
    if (net.ports(i).static_() > 0) continue;
    if (range <= 0) return false;
    int64_t start = static_cast<int64_t>(rng->Below(static_cast<uint64_t>(range)));
    int32_t chosen = 0;
    // A port a stopping allocation still holds only when nothing else is free.
    for (bool allow_closing : {false, true}) {
      for (int64_t step = 0; step < range && chosen == 0; ++step) {
        auto p = static_cast<int32_t>(n.port_min + (start + step) % range);
        if (!taken(p) && (allow_closing || !n.PortClosing(p))) chosen = p;
      }
      if (chosen != 0 || n.closing_ports.empty()) break;
    }
    if (chosen == 0) return false;
    values[static_cast<size_t>(i)] = chosen;
    out->push_back(chosen);
  }
  *out = std::move(values);
  return true;
}

}  // namespace orch::master::sched
