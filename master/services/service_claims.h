// Service claims: what a live job holds cluster-wide through its services --
// a service name and a cluster listen port. The state store keeps them in an
// indexed table (service_claims) maintained with the job, so checking a new
// job's services costs a few index lookups, not a read of every job.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "orch/v1/types.pb.h"

namespace orch::master {

struct ServiceClaim {
  std::string job_id;
  std::string name;
  int32_t port = 0;  // 0: not assigned yet
  bool operator==(const ServiceClaim&) const = default;
};

// One claim per service name of `job` (tasks sharing a service share its
// claim; the first task's listen port stands for it). A stopped job claims
// nothing.
std::vector<ServiceClaim> ClaimsOf(const v1::Job& job);

// The claims of every live job in `jobs` (tests, and rebuilding the table).
std::vector<ServiceClaim> ClaimsOfJobs(const std::vector<v1::Job>& jobs);

}  // namespace orch::master
