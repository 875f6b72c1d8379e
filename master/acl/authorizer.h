// Authorizer: who a REST request comes from (the token it presents in
// X-Orch-Token or Authorization: Bearer, resolved from the state's ACL
// tables in memory) and whether its route's rule (route_rules.h) lets it
// through. With ACLs off (no --acl) everyone may do everything.
// Thread safety: const methods, callable from any thread (the I/O thread's
// heartbeats included: no SQLite read unless a rule names an allocation or
// a deployment).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http_types.h"
#include "common/router.h"
#include "master/acl/policy.h"
#include "master/state/state_store.h"

namespace orch::master::acl {

// The caller of one request.
struct Caller {
  std::shared_ptr<const AclTables> tables;  // keeps the pointers below valid
  const v1::AclToken* token = nullptr;      // null: anonymous
  bool management = false;
  std::vector<const v1::AclPolicy*> policies;

  Access On(Resource r, std::string_view job_id = "") const;
  Access OnAllJobs() const;
  Access OnSomeJob() const;
  // "token <accessor id>" or "anonymous" (for errors and logs).
  std::string Who() const;
};

// The secret a request presents ("" when none).
std::string PresentedSecret(const HttpRequest& req);

class Authorizer {
 public:
  // `router` (the master's routes, filled later) names a request's route.
  Authorizer(const StateStore* store, const Router* router, bool enabled)
      : store_(store), router_(router), enabled_(enabled) {}

  bool enabled() const { return enabled_; }

  // The caller; PermissionDenied for a secret no token has.
  Result<Caller> Identify(const HttpRequest& req) const;
  // The route's rule checked before its handler runs: nullopt when the
  // request may go on, else the 403 to answer. Unknown routes go on (the
  // router answers 404/405); a route without a rule is refused.
  std::optional<HttpResponse> CheckRoute(const HttpRequest& req) const;
  // For a handler that found the job in the body: PermissionDenied unless
  // the caller has `access` on job `job_id`.
  Status CheckJob(const HttpRequest& req, Access access, const std::string& job_id) const;
  // For a list: whether the caller may read each job (always true when
  // ACLs are off).
  std::function<bool(const std::string&)> JobReadFilter(const HttpRequest& req) const;
  // Whether the caller may read nodes (always true when ACLs are off).
  bool CanReadNodes(const HttpRequest& req) const;

 private:
  const StateStore* store_;
  const Router* router_;
  bool enabled_;
};

}  // namespace orch::master::acl
