// Cluster service ports: the port every agent's balancer serves a service on
// (Service.listen). A job may name it; when it does not, the masters assign
// one from the cluster's service-port range (--service-port-range, default
// 12000-12999: below the scheduler's dynamic node ports 20000-32000 and the
// kernel's ephemeral ports 32768+, clear of orch's own 4646-4650).
//
// AssignServicePorts runs in the state machine (apply of RegisterJob), so it
// is a pure function of the command and the stored jobs: every master
// assigns the same port, and commands applied in log order never share one.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "orch/v1/types.pb.h"

namespace orch::master {

struct ServicePortRange {
  int32_t first = 12000;
  int32_t last = 12999;
  std::string ToString() const { return std::to_string(first) + "-" + std::to_string(last); }
};

// "12000-12999" (inclusive, 1 <= first <= last <= 65535).
Result<ServicePortRange> ParseServicePortRange(const std::string& text);

// Whether any task of `job` serves a service.
bool HasServices(const v1::Job& job);

// Whether another live job (not `job` itself) holds a cluster port.
using PortTaken = std::function<bool(int32_t port)>;

// Fills Service.listen of every service of `job` that leaves it 0:
//  - with the port the same-named service had in `previous` (the job's
//    stored version, nullptr when new) unless another job now holds it, so
//    an update keeps its port;
//  - otherwise with the lowest port of `range` that no other job holds
//    (`taken_by_others`) and no other service of `job` uses.
// Tasks sharing a service name share its port. FailedPrecondition when the
// range is full.
Status AssignServicePorts(v1::Job* job, const v1::Job* previous, const PortTaken& taken_by_others,
                          const ServicePortRange& range);

}  // namespace orch::master
