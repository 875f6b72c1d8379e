// Lifecycle operations on allocations:
//   POST /v1/allocations/{id}/restart {"task": T}   restart the tasks in place (on their agent)
//   POST /v1/allocations/{id}/signal {"signal": S, "task": T}   send the tasks a signal
//   POST /v1/allocations/{id}/stop                  stop it (a service's is replaced)
// `orchctl job restart` restarts a job's allocations through the first,
// max_parallel at a time.
// Thread safety: handlers are called concurrently; all they touch is
// thread-safe.
#pragma once

#include "common/router.h"
#include "master/http/api.h"

namespace orch::master {

void RegisterLifecycleRoutes(Router* router, const ApiDeps& deps);

}  // namespace orch::master
