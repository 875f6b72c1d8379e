#include "agent/lb/service_config.h"

namespace orch::agent::lb {

StrategyKind ToStrategyKind(v1::Service::Strategy s) {
  switch (s) {
    case v1::Service::RANDOM: return StrategyKind::kRandom;
    case v1::Service::WEIGHTED: return StrategyKind::kWeighted;
    case v1::Service::LEAST_CONNECTIONS: return StrategyKind::kLeastConnections;
    default: return StrategyKind::kRoundRobin;
  }
}

std::vector<ServiceConfig> ToServiceConfigs(const v1::ServiceList& list) {
  std::vector<ServiceConfig> out;
  for (const auto& s : list.services()) {
    if (s.listen() <= 0 || s.listen() > 65535) continue;
    ServiceConfig c;
    c.name = s.name();
    c.listen = static_cast<uint16_t>(s.listen());
    c.strategy = ToStrategyKind(s.strategy());
    for (const auto& e : s.endpoints()) {
      if (!e.healthy() || e.address().empty() || e.port() <= 0 || e.port() > 65535) continue;
      c.endpoints.push_back(Endpoint{e.alloc_id(), e.address(), static_cast<uint16_t>(e.port()),
                                     e.weight() > 0 ? e.weight() : 1});
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace orch::agent::lb
