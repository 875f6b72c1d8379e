// REST endpoints of the scheduler: scale a group (POST /v1/jobs/{id}/scale),
// dry-run a job (POST /v1/jobs/plan: placements with per-term scores,
// preemptions, why groups cannot be placed), drain or undo a drain
// (POST /v1/nodes/{id}/drain). Writes are proposed to the log.
// Thread safety: handlers are called concurrently; all they touch is
// thread-safe.
#pragma once

#include "common/router.h"
#include "master/http/api.h"

namespace orch::master {

void RegisterSchedulerRoutes(Router* router, const ApiDeps& deps);

}  // namespace orch::master
