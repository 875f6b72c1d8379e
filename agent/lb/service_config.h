// From the masters' registry (v1::ServiceList) to what the proxy serves:
// services with a listen port, and of their endpoints only the healthy ones
// with an address and a port, in the registry's (stable) order.
// Thread safety: pure functions.
#pragma once

#include <vector>

#include "agent/lb/proxy.h"
#include "orch/v1/api.pb.h"

namespace orch::agent::lb {

StrategyKind ToStrategyKind(v1::Service::Strategy s);  // unspecified: round_robin
std::vector<ServiceConfig> ToServiceConfigs(const v1::ServiceList& list);

}  // namespace orch::agent::lb
