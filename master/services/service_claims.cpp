#include "master/services/service_claims.h"

#include <set>

namespace orch::master {

std::vector<ServiceClaim> ClaimsOf(const v1::Job& job) {
  std::vector<ServiceClaim> out;
  if (job.stop()) return out;
  std::set<std::string> seen;
  for (const auto& g : job.groups()) {
    for (const auto& t : g.tasks()) {
      if (!t.has_service() || !seen.insert(t.service().name()).second) continue;
      out.push_back(ServiceClaim{job.id(), t.service().name(), t.service().listen()});
    }
  }
  return out;
}

std::vector<ServiceClaim> ClaimsOfJobs(const std::vector<v1::Job>& jobs) {
  std::vector<ServiceClaim> out;
  for (const auto& j : jobs) {
    for (auto& c : ClaimsOf(j)) out.push_back(std::move(c));
  }
  return out;
}

}  // namespace orch::master
