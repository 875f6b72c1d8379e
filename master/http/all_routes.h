// Every REST route of a master on one router: the API proper, services,
// cluster membership, logs, scheduler, deployments, lifecycle and ACLs.
// `raft` serves the cluster routes (null only in tests that list routes).
#pragma once

#include "common/router.h"
#include "master/http/api.h"

namespace orch::master {

class RaftLog;

void RegisterAllRoutes(Router* router, const ApiDeps& deps, RaftLog* raft);

}  // namespace orch::master
