// The service registry (DESIGN.md section 5), derived from state on every
// read: for every task of a live job that names a `service`, its endpoints
// are the job's allocations that should run and do (desired RUN, client
// RUNNING), at the node's address and the allocation's value for the
// service's named port, with the service's weight (default 1). An endpoint
// is healthy when its allocation is (tasks with a check) or runs (tasks
// without one). Agents' load balancers serve the healthy ones.
//
// A service's modify_index is the highest index of what it is made of (its
// job, those allocations, their nodes), so a blocking query can sleep until
// a service really changed.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "orch/v1/api.pb.h"
#include "orch/v1/types.pb.h"

namespace orch::master {

struct ServiceView {
  std::vector<v1::ServiceInfo> services;  // by name
  uint64_t index = 0;                     // the highest modify_index among them
};

ServiceView BuildServices(const std::vector<v1::Job>& jobs, const std::vector<v1::Allocation>& allocs,
                          const std::vector<v1::Node>& nodes);

// The host part of a node's address ("http://10.0.0.5:4650" -> "10.0.0.5",
// "[::1]:4650" -> "::1", "host" -> "host").
std::string HostOfAddress(const std::string& address);

}  // namespace orch::master
