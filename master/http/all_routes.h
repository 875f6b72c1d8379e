// Every REST route of a master on one router: the API proper, services,
// cluster membership, logs, scheduler, deployments, lifecycle and ACLs.
// `raft` serves the cluster routes (null only in tests that list routes).
#pragma once

#include "common/router.h"
#include "master/http/api.h"

namespace orch::replication {
class RaftNode;
}

namespace orch::master {

void RegisterAllRoutes(Router* router, const ApiDeps& deps, replication::RaftNode* raft);

}  // namespace orch::master
