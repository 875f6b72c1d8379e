// REST endpoints of the masters' quorum: leader, members, add/promote/remove
// a member, leadership transfer. Writes here, like all writes, reach the
// leader (see forward.h).
// Thread safety: handlers are called concurrently; RaftNode is thread-safe.
#pragma once

#include "common/router.h"
#include "master/replication/raft_node.h"

namespace orch::master {

void RegisterClusterRoutes(Router* router, replication::RaftNode* raft);

}  // namespace orch::master
