// Deployments and job versions on the REST API:
//   GET  /v1/deployments[?job=ID]            newest first
//   GET  /v1/deployments/{id}                an id or a unique prefix
//   POST /v1/deployments/{id}/promote|pause|resume|fail
//   GET  /v1/jobs/{id}/versions              the versions kept, and the job's deployments
//   POST /v1/jobs/{id}/revert {"version": N} the spec of version N as a new version
// Thread safety: handlers are called concurrently; all they touch is
// thread-safe.
#pragma once

#include "common/router.h"
#include "master/http/api.h"

namespace orch::master {

void RegisterDeploymentRoutes(Router* router, const ApiDeps& deps);

}  // namespace orch::master
