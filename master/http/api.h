// The master's REST API (DESIGN.md sections 6 and 7) as routes on a Router.
// Handlers validate, then read the StateStore or propose Commands through
// the ReplicatedLog; they never change state themselves.
// Thread safety: handlers are called concurrently; all they touch is
// thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/router.h"
#include "common/tls.h"
#include "master/acl/authorizer.h"
#include "master/controllers/node_liveness.h"
#include "master/replication/replicated_log.h"
#include "master/services/service_ports.h"
#include "master/state/state_store.h"

namespace orch::master {

struct ApiDeps {
  StateStore* store = nullptr;
  replication::ReplicatedLog* log = nullptr;
  NodeLiveness* liveness = nullptr;
  Clock* clock = nullptr;
  std::chrono::milliseconds heartbeat_interval{1000};
  std::chrono::milliseconds max_wait{300'000};  // cap on ?wait=
  std::chrono::milliseconds write_timeout{10'000};
  // Where jobs' unnamed service ports are assigned from (at apply time).
  ServicePortRange service_ports;
  uint32_t keep_versions = 10;  // job versions kept (--job-versions)
  // Checks what a handler learns only from the body (a job's id) and
  // filters lists; route rules are checked before any handler runs.
  const acl::Authorizer* acl = nullptr;
  // This master's TLS files: agents' APIs (logs) are called over https
  // with them.
  TlsFiles tls;
  // What GET /metrics renders (null: nothing).
  metrics::Registry* metrics = nullptr;
  // An idle event stream writes "{}" this often (keeps proxies and
  // clients from timing it out; finds gone clients).
  std::chrono::milliseconds event_heartbeat{10'000};
  // The web UI's files from disk instead of the binary (--ui-dir).
  std::string ui_dir;
};

// Blocking-query options of a read: ?index=N&wait=D&stale=true.
struct ReadOptions {
  uint64_t index = 0;
  std::chrono::milliseconds wait{0};
  bool blocking = false;  // index > 0 or wait given: answer only past index
  bool stale = false;
};

// Parses them; `wait` is capped at deps.max_wait, and an index without a
// wait waits up to 5 minutes (capped too); then up to wait/16 is added at
// random, so watches that began together do not all end together.
Result<ReadOptions> ParseReadOptions(const HttpRequest& req, const ApiDeps& deps);

// The headers every read's answer carries: X-Orch-Index (`index`) and
// X-Orch-Known-Leader (whether this master knows a leader; a stale reader
// learns from it whether this copy still moves).
void AddReadHeaders(HttpResponse* resp, const ApiDeps& deps, uint64_t index);

// Answers `read()` (a JSON body) once the blocking-query options of `req`
// are met, with the index the state was at (X-Orch-Index).
HttpResponse ReadJson(const HttpRequest& req, const ApiDeps& deps, const std::function<Result<std::string>()>& read);
// The same for one resource with an index of its own (`index_of`: the
// newest modify index of what `read` returns): a blocking query answers
// once that index passes the query's, so a watcher is not woken by changes
// elsewhere in the state; X-Orch-Index is the resource's index. With
// `wake_key` (a key the state store advances when the resource changes,
// StateStore::NodeWatchKey) the waiting query is woken only by that key;
// without, it looks again at every change of the state.
HttpResponse ReadJsonIndexed(const HttpRequest& req, const ApiDeps& deps,
                             const std::function<uint64_t()>& index_of,
                             const std::function<Result<std::string>()>& read,
                             const std::string& wake_key = "");

// An agent's heartbeat (POST /v1/nodes/{id}/heartbeat) answered without a
// Raft write or a wait, for the HTTP server's I/O thread; nullopt for any
// other request, and for a heartbeat that must write (its node was down).
std::optional<HttpResponse> HeartbeatWithoutWrite(const HttpRequest& req, const ApiDeps& deps);
// The node id of a heartbeat (POST /v1/nodes/{id}/heartbeat); nullopt for
// any other request.
std::optional<std::string> HeartbeatNodeId(const HttpRequest& req);

// Proposes `cmd` stamped with the time; the index it applied at (in the
// state's count, StateStore::StateIndex).
Result<uint64_t> ProposeCommand(const ApiDeps& deps, v1::Command cmd);
// The same without holding a worker while the entry commits
// (HttpResponse::later): the answer is `then`'s, made on a worker with
// what ProposeCommand would have returned. `deps` must outlive the server.
// `cmd` is taken by reference and moved from inside, so the call's other
// arguments (the answer's captures) may still read it.
HttpResponse ProposeThen(const ApiDeps& deps, v1::Command&& cmd,
                         std::function<HttpResponse(const Result<uint64_t>&)> then);

// Registers `job` (validated) as the job's next version -- or, when equal
// to the running one, changes nothing -- and answers as POST /v1/jobs
// does. `reverts_to`: the version whose spec `job` brings back.
HttpResponse RegisterJobVersion(const ApiDeps& deps, const v1::Job& job, std::optional<uint64_t> reverts_to);

void RegisterApiRoutes(Router* router, const ApiDeps& deps);

}  // namespace orch::master
