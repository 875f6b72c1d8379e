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

  // By service and by endpoint: one read of the proxy per family.
  auto by_service = [proxy](uint64_t lb::ProxyStats::*field) {
    return [proxy, field] {
      std::vector<metrics::Sample> out;
      for (const auto& s : proxy->PerService())
        out.push_back({{s.name}, static_cast<double>(s.counts.*field)});
      return out;
    };
  };
  m->AddCallback("orch_lb_service_connections_accepted_total",
                 "Client connections a service's listener accepted.", {"service"},
                 by_service(&lb::ProxyStats::accepted), true);
  m->AddCallback("orch_lb_service_connections_established_total",
                 "Client connections of a service paired with an endpoint.", {"service"},
                 by_service(&lb::ProxyStats::connected), true);
  m->AddCallback("orch_lb_service_connect_failures_total",
                 "Connects to a service's endpoints that failed.", {"service"},
                 by_service(&lb::ProxyStats::connect_failures), true);
  m->AddCallback("orch_lb_service_connections_rejected_total",
                 "Client connections of a service closed because no endpoint took them.",
                 {"service"}, by_service(&lb::ProxyStats::rejected), true);
  m->AddCallback("orch_lb_service_active_connections",
                 "A service's client-endpoint pairs open now.", {"service"},
                 by_service(&lb::ProxyStats::active));
  m->AddCallback(
      "orch_lb_service_bytes_total",
      "Bytes a service's balancer carried: to_endpoint (what clients sent), to_client (the "
      "answers).",
      {"service", "direction"},
      [proxy] {
        std::vector<metrics::Sample> out;
        for (const auto& s : proxy->PerService()) {
          out.push_back({{s.name, "to_endpoint"}, static_cast<double>(s.bytes_to_endpoints)});
          out.push_back({{s.name, "to_client"}, static_cast<double>(s.bytes_to_clients)});
        }
        return out;
      },
      true);
  auto by_endpoint = [proxy](uint64_t lb::EndpointStats::*field) {
    return [proxy, field] {
      std::vector<metrics::Sample> out;
      for (const auto& s : proxy->PerService()) {
        for (const auto& e : s.endpoints)
          out.push_back({{s.name, e.address}, static_cast<double>(e.*field)});
      }
      return out;
    };
  };
  m->AddCallback("orch_lb_endpoint_connections_total",
                 "Client connections paired with an endpoint (host:port) of a service.",
                 {"service", "endpoint"}, by_endpoint(&lb::EndpointStats::connections), true);
  m->AddCallback("orch_lb_endpoint_connect_failures_total",
                 "Connects to an endpoint of a service that failed.", {"service", "endpoint"},
                 by_endpoint(&lb::EndpointStats::connect_failures), true);
  m->AddCallback("orch_lb_endpoint_active_connections",
                 "Connections to an endpoint of a service open (or being opened) now.",
                 {"service", "endpoint"}, by_endpoint(&lb::EndpointStats::active));
}

}  // namespace orch::agent
