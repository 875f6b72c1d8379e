#include "agent/agent_metrics.h"

#include "agent/lb/proxy.h"

namespace orch::agent {

AgentMetrics AgentMetrics::Register(metrics::Registry* m) {
  AgentMetrics out;
  if (m == nullptr) return out;
  out.tasks =
      &m->AddGauge("orch_agent_tasks",
                   "Tasks this agent runs or ran, by state (PENDING, RUNNING, DEAD).", {"state"});
  out.restarts =
      &m->AddCounter("orch_agent_task_restarts_total", "Tasks restarted by their restart policy.")
           .With({});
  out.oom_kills = &m->AddCounter("orch_agent_task_oom_kills_total",
                                 "Tasks killed for going past their memory limit.")
                       .With({});
  out.driver_calls = &m->AddHistogram("orch_agent_driver_call_duration_seconds",
                                      "Calls into a task driver (start, stop), by driver and call.",
                                      {"driver", "call"}, metrics::LatencyBuckets());
  out.heartbeat_seconds =
      &m->AddHistogram("orch_agent_heartbeat_duration_seconds",
                       "A heartbeat's round trip to the masters (answered or not).", {},
                       metrics::LatencyBuckets())
           .With({});
  out.heartbeat_failures = &m->AddCounter("orch_agent_heartbeat_failures_total",
                                          "Heartbeats the masters did not answer with 200.")
                                .With({});
  out.health_checks = &m->AddCounter("orch_agent_health_checks_total",
                                     "Health check probes run, by result.", {"result"});
  return out;
}

void RegisterLoadBalancerMetrics(metrics::Registry* m, const lb::Proxy* proxy) {
  if (m == nullptr || proxy == nullptr) return;
  auto one = [proxy](uint64_t lb::ProxyStats::*field) {
    return [proxy, field] {
      return std::vector<metrics::Sample>{{{}, static_cast<double>(proxy->Stats().*field)}};
    };
  };
  m->AddCallback("orch_lb_connections_accepted_total",
                 "Client connections the service load balancer accepted.", {},
                 one(&lb::ProxyStats::accepted), true);
  m->AddCallback("orch_lb_connections_established_total",
                 "Client connections paired with an endpoint.", {}, one(&lb::ProxyStats::connected),
                 true);
  m->AddCallback("orch_lb_connect_failures_total",
                 "Attempts to connect to an endpoint that failed.", {},
                 one(&lb::ProxyStats::connect_failures), true);
  m->AddCallback("orch_lb_connections_rejected_total",
                 "Client connections closed because no endpoint took them.", {},
                 one(&lb::ProxyStats::rejected), true);
  m->AddCallback("orch_lb_active_connections", "Client-endpoint pairs open now.", {},
                 one(&lb::ProxyStats::active));
}

}  // namespace orch::agent
