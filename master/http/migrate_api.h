// GET /v1/nodes/{id}/allocations/{alloc}/previous-disk[?check=true]: an
// agent fetching, for its allocation `alloc` (EphemeralDisk.migrate), the
// ephemeral disk of the allocation it replaces from the node that ran it.
// The master checks that `alloc` is node {id}'s (with ACLs the caller
// proved to be that node) and migrates, then relays the old node's agent
// (GET /v1/allocations/{prev}/ephemeral-disk, agent/http_api.h) with that
// node's credential: check=true answers PreviousDiskResponse (its size),
// else the tar stream. Errors: 503 while this master does not know `alloc`
// yet or the old node is down or unreachable, 409 while the previous
// allocation still runs, 404 when it left no disk, 400 when there is
// nothing to migrate, 403 for another node's allocation.
// Thread safety: handlers only read the StateStore (thread-safe) and use a
// thread-safe HttpClient.
#pragma once

#include "common/router.h"
#include "common/tls.h"
#include "master/state/state_store.h"

namespace orch::master {

void RegisterMigrateRoutes(Router* router, StateStore* store, const TlsFiles& tls = {});

}  // namespace orch::master
