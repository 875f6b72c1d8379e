// Endpoint: one backend a service's balancer may send a connection to, as
// the agent's load balancer sees it (an allocation's host:port and weight).
// Thread safety: plain value.
#pragma once

#include <cstdint>
#include <string>

namespace orch::agent::lb {

struct Endpoint {
  std::string id;    // the allocation id; per-endpoint state is kept by it
  std::string host;  // numeric IP or host name
  uint16_t port = 0;
  int weight = 1;    // weighted strategy only; < 1 counts as 1

  bool operator==(const Endpoint&) const = default;
};

}  // namespace orch::agent::lb
