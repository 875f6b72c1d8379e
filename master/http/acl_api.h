// ACL tokens and policies on the REST API (rules in master/acl/route_rules):
//   POST   /v1/acl/bootstrap            the first management token, once
//   GET    /v1/acl/token/self           the caller's token
//   GET    /v1/acl/tokens               POST /v1/acl/tokens {name, type, policies}
//   GET    /v1/acl/tokens/{accessor}    DELETE /v1/acl/tokens/{accessor}
//   GET    /v1/acl/policies             GET|PUT|DELETE /v1/acl/policies/{name}
// A token's secret is in the answer to its creation only. With ACLs off
// every route answers 409 saying so.
// Thread safety: handlers are called concurrently; all they touch is
// thread-safe.
#pragma once

#include "common/router.h"
#include "master/http/api.h"

namespace orch::master {

void RegisterAclRoutes(Router* router, const ApiDeps& deps);

}  // namespace orch::master
