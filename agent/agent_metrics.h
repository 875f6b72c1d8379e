// What an agent counts (GET /metrics on its API, common/metrics.h): tasks
// by state, restarts, OOM kills, driver calls' latency, heartbeats' latency
// and failures, health check results, and the load balancer's connections.
// The pointers are the registry's; null members mean "not counted" (tests
// that build parts without a registry).
// Thread safety: the metrics are thread-safe.
#pragma once

#include "common/metrics.h"

namespace orch::agent {

namespace lb {
class Proxy;
}

struct AgentMetrics {
  metrics::Family<metrics::Gauge>* tasks = nullptr;  // {state}, set by each reconcile pass
  metrics::Counter* restarts = nullptr;              // tasks restarted by their policy
  metrics::Counter* oom_kills = nullptr;             // tasks killed for their memory limit
  metrics::Family<metrics::Histogram>* driver_calls = nullptr;  // {driver, call}
  metrics::Histogram* heartbeat_seconds = nullptr;
  metrics::Counter* heartbeat_failures = nullptr;
  metrics::Family<metrics::Counter>* health_checks = nullptr;  // {result: pass|fail}

  // Adds the families to `registry` (null: every member stays null).
  static AgentMetrics Register(metrics::Registry* registry);
};

// The service load balancer's counts (orch_lb_*), read from `proxy` at each
// scrape; `proxy` must outlive the registry's scrapes.
void RegisterLoadBalancerMetrics(metrics::Registry* registry, const lb::Proxy* proxy);

}  // namespace orch::agent
