// What each REST route of the master needs of its caller when ACLs are on:
// one rule per route key ("METHOD /pattern" as the Router names it). A
// route without a rule is refused (fail closed); a unit test checks that
// every route the master registers has one.
#pragma once

#include <optional>
#include <string_view>

#include "master/acl/policy.h"

namespace orch::master::acl {

// Where a job rule finds the job a request is about.
enum class JobFrom {
  kNone,        // not a job rule
  kPath,        // the {id} path parameter is the job id
  kAllocation,  // {id} is an allocation: its job
  kDeployment,  // {id} is a deployment: its job
  kEvaluation,  // {id} is an evaluation: its job
  kQuery,       // ?job= when given, else every job
  kBody,        // in the body: the handler checks it once parsed (some job first)
  kFiltered,    // a list: the handler leaves out the jobs the caller cannot see
};

struct RouteRule {
  enum class Kind {
    kOpen,      // anyone (health, the leader's address, bootstrap)
    kAnyToken,  // any valid token (the token's own details)
    kNeeds,     // `access` on `resource`
    kServices,  // job read on every job, or node read (agents' balancers)
  };
  Kind kind = Kind::kNeeds;
  Resource resource = Resource::kJob;
  Access access = Access::kRead;
  JobFrom job = JobFrom::kNone;
  // A node's own request ({id} is the node: heartbeat, allocation reports,
  // the allocations watch): with ACLs on, a client token must also carry
  // that node's secret (X-Orch-Node-Secret), so one agent's token can
  // neither speak for another node nor read its work. Management tokens
  // need no secret.
  bool node_secret = false;
};

// The rule of a route key; nullopt when the route has none.
std::optional<RouteRule> RuleFor(std::string_view route_key);

}  // namespace orch::master::acl
