// The master's REST API (DESIGN.md sections 6 and 7) as routes on a Router.
// Handlers validate, then read the StateStore or propose Commands through
// the ReplicatedLog; they never change state themselves.
// Thread safety: handlers are called concurrently; all they touch is
// thread-safe.
#pragma once

#include <chrono>

#include "common/clock.h"
#include "common/router.h"
#include "master/controllers/node_liveness.h"
#include "master/log/replicated_log.h"
#include "master/services/service_ports.h"
#include "master/state/state_store.h"

namespace orch::master {

struct ApiDeps {
  StateStore* store = nullptr;
  ReplicatedLog* log = nullptr;
  NodeLiveness* liveness = nullptr;
  Clock* clock = nullptr;
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds max_wait{300'000};  // cap on ?wait=
  std::chrono::milliseconds write_timeout{10'000};
  // Where jobs' unnamed service ports are assigned from (at apply time).
  ServicePortRange service_ports;
};

// Blocking-query options of a read: ?index=N&wait=D&stale=true.
struct ReadOptions {
  uint64_t index = 0;
  std::chrono::milliseconds wait{0};
  bool blocking = false;  // index > 0 or wait given: answer only past index
  bool stale = false;
};

// Parses them; `wait` is capped at deps.max_wait, and an index without a
// wait waits up to 5 minutes (capped too).
Result<ReadOptions> ParseReadOptions(const HttpRequest& req, const ApiDeps& deps);

void RegisterApiRoutes(Router* router, const ApiDeps& deps);

}  // namespace orch::master
