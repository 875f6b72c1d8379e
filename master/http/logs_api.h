// GET /v1/allocations/{id}/logs on any master: finds the node that runs the
// allocation and the HTTP address its agent registered (Node.address), and
// proxies the agent's answer (agent/http_api.h), streaming it while
// follow=true. Query: task (may be left out when the group has one task),
// stream=stdout|stderr, tail=N lines, follow=true.
// Thread safety: handlers are called concurrently; they only read the
// StateStore (thread-safe) and use a thread-safe HttpClient.
#pragma once

#include "common/router.h"
#include "common/tls.h"
#include "master/state/state_store.h"

namespace orch::master {

// `tls`: with it, agents are called over https and must present a
// certificate naming agent.orch.
void RegisterLogsRoutes(Router* router, StateStore* store, const TlsFiles& tls = {});

}  // namespace orch::master
