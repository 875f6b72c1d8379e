// REST routes of the service registry: GET /v1/services and
// GET /v1/services/{name}, both blocking queries (?index=N&wait=D) that
// answer once the service(s) changed past N (their modify_index), with
// X-Orch-Index. Agents' load balancers watch the list.
// Thread safety: handlers are called concurrently; all they touch is
// thread-safe.
#pragma once

#include "common/router.h"
#include "master/http/api.h"

namespace orch::master {

void RegisterServiceRoutes(Router* router, const ApiDeps& deps);

}  // namespace orch::master
