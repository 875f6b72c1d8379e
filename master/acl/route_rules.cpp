#include "master/acl/route_rules.h"

#include <string>
#include <unordered_map>

namespace orch::master::acl {

namespace {

using K = RouteRule::Kind;
constexpr RouteRule Open{K::kOpen};
constexpr RouteRule AnyToken{K::kAnyToken};
constexpr RouteRule Services{K::kServices};
constexpr RouteRule Job(Access a, JobFrom from) { return {K::kNeeds, Resource::kJob, a, from}; }
constexpr RouteRule Node(Access a) { return {K::kNeeds, Resource::kNode, a, JobFrom::kNone}; }
constexpr RouteRule OwnNode(Access a) {
  return {K::kNeeds, Resource::kNode, a, JobFrom::kNone, true};
}
constexpr RouteRule Operator(Access a) {
  return {K::kNeeds, Resource::kOperator, a, JobFrom::kNone};
}
constexpr RouteRule Acl(Access a) { return {K::kNeeds, Resource::kAcl, a, JobFrom::kNone}; }
constexpr Access R = Access::kRead, W = Access::kWrite;

const std::unordered_map<std::string, RouteRule>& Rules() {
  static const auto* rules = new std::unordered_map<std::string, RouteRule>{
      {"GET /healthz", Open},
      // Counts only; Prometheus scrapes it without a token.
      {"GET /metrics", Open},
      {"GET /v1/cluster/leader", Open},
      {"POST /v1/acl/bootstrap", Open},
      // The web UI's static files: no data (the page calls the API with
      // the user's token).
      {"GET /ui", Open},
      {"GET /ui/{file}", Open},

      {"POST /v1/jobs", Job(W, JobFrom::kBody)},
      {"POST /v1/jobs/plan", Job(W, JobFrom::kBody)},
      {"GET /v1/jobs", Job(R, JobFrom::kFiltered)},
      {"GET /v1/jobs/{id}", Job(R, JobFrom::kPath)},
      {"DELETE /v1/jobs/{id}", Job(W, JobFrom::kPath)},
      {"GET /v1/jobs/{id}/allocations", Job(R, JobFrom::kPath)},
      {"GET /v1/jobs/{id}/versions", Job(R, JobFrom::kPath)},
      {"POST /v1/jobs/{id}/revert", Job(W, JobFrom::kPath)},
      {"POST /v1/jobs/{id}/scale", Job(W, JobFrom::kPath)},
      {"POST /v1/jobs/{id}/dispatch", Job(W, JobFrom::kPath)},
      {"POST /v1/jobs/{id}/periodic/force", Job(W, JobFrom::kPath)},
      {"GET /v1/allocations", Job(R, JobFrom::kQuery)},
      {"GET /v1/allocations/{id}", Job(R, JobFrom::kAllocation)},
      {"GET /v1/allocations/{id}/logs", Job(R, JobFrom::kAllocation)},
      {"POST /v1/allocations/{id}/restart", Job(W, JobFrom::kAllocation)},
      {"POST /v1/allocations/{id}/signal", Job(W, JobFrom::kAllocation)},
      {"POST /v1/allocations/{id}/stop", Job(W, JobFrom::kAllocation)},
      {"GET /v1/evaluations", Job(R, JobFrom::kQuery)},
      {"GET /v1/evaluations/{id}", Job(R, JobFrom::kEvaluation)},
      {"GET /v1/deployments", Job(R, JobFrom::kQuery)},
      {"GET /v1/deployments/{id}", Job(R, JobFrom::kDeployment)},
      {"POST /v1/deployments/{id}/promote", Job(W, JobFrom::kDeployment)},
      {"POST /v1/deployments/{id}/fail", Job(W, JobFrom::kDeployment)},
      {"POST /v1/deployments/{id}/pause", Job(W, JobFrom::kDeployment)},
      {"POST /v1/deployments/{id}/resume", Job(W, JobFrom::kDeployment)},
      // Job events of the jobs the caller may read; node events with node
      // read (the handler filters each event).
      {"GET /v1/event/stream", Job(R, JobFrom::kFiltered)},
      {"GET /v1/services", Services},
      {"GET /v1/services/{name}", Services},

      // Agents: a token with node write registers, heartbeats and reports.
      {"POST /v1/nodes/register", Node(W)},
      {"GET /v1/nodes", Node(R)},
      {"GET /v1/nodes/{id}", Node(R)},
      {"POST /v1/nodes/{id}/heartbeat", OwnNode(W)},
      {"GET /v1/nodes/{id}/allocations", OwnNode(R)},  // an agent's watch (job specs, env)
      {"POST /v1/nodes/{id}/allocations", OwnNode(W)},
      // An agent migrating its allocation's disk from the node that ran the
      // one it replaces (the handler checks the allocation is its own).
      {"GET /v1/nodes/{id}/allocations/{alloc}/previous-disk", OwnNode(W)},

      {"POST /v1/nodes/{id}/drain", Operator(W)},
      {"POST /v1/system/gc", Operator(W)},
      {"GET /v1/cluster/members", Operator(R)},
      {"POST /v1/cluster/members", Operator(W)},
      {"DELETE /v1/cluster/members/{id}", Operator(W)},
      {"POST /v1/cluster/transfer-leader", Operator(W)},
      // A state image holds ACL token hashes and task secrets: a
      // management token's business (acl:write grants everything anyway).
      {"GET /v1/operator/snapshot", Acl(W)},
      {"PUT /v1/operator/snapshot", Acl(W)},

      {"GET /v1/acl/token/self", AnyToken},
      {"GET /v1/acl/tokens", Acl(R)},
      {"POST /v1/acl/tokens", Acl(W)},
      {"GET /v1/acl/tokens/{id}", Acl(R)},
      {"DELETE /v1/acl/tokens/{id}", Acl(W)},
      {"GET /v1/acl/policies", Acl(R)},
      {"GET /v1/acl/policies/{name}", Acl(R)},
      {"PUT /v1/acl/policies/{name}", Acl(W)},
      {"DELETE /v1/acl/policies/{name}", Acl(W)},
  };
  return *rules;
}

}  // namespace

std::optional<RouteRule> RuleFor(std::string_view route_key) {
  auto it = Rules().find(std::string(route_key));
  if (it == Rules().end()) return std::nullopt;
  return it->second;
}

}  // namespace orch::master::acl
