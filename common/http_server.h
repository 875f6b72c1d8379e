// HttpServer: the HTTP/1.1 server frame on Boost.Beast. Every read has a
// timeout and a body limit; handlers run on a worker pool and answer through
// a plain function, so Beast stays inside http_server.cpp. A handler that
// would wait (a blocking query) answers with a deferral instead
// (HttpResponse::defer): the request is parked on an IndexWaiters without a
// thread and handled again when the index moves or the wait ends; at
// Shutdown parked requests are answered at once. One that waits for
// something else (a write for its commit) answers later
// (HttpResponse::later), also without a thread.
// Thread safety: Start/Shutdown from one thread; the handler is called
// concurrently from worker threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http_types.h"
#include "common/metrics.h"
#include "common/status.h"
#include "common/tls.h"

namespace orch {

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port; see HttpServer::port()
  std::size_t body_limit = 1 << 20;
  // A whole request (headers and body) must arrive within this time of the
  // connection becoming idle, so slow senders (slow-loris) and idle
  // keep-alive connections are closed; so must each answer be taken.
  std::chrono::milliseconds read_timeout{10'000};
  int io_threads = 1;
  // Handlers may block (a write until it commits); deferred blocking
  // queries and later answers (HttpResponse::later) hold none.
  int worker_threads = 32;
  // Requests whose handler never waits on anything (no Raft commit, no other
  // server; it answers at once or through HttpResponse::later) run on
  // `quick_threads` threads instead, and so do the answers made for
  // HttpResponse::later. A small pool kept busy takes them one after
  // another, where the many workers (many so that blocking handlers do not
  // starve each other) would wake an idle thread for each. Asked with the
  // whole request on an I/O thread; must not block. Unset: none is quick.
  std::function<bool(const HttpRequest&)> quick;
  int quick_threads = 2;
  std::size_t max_connections = 1024;
  // One client address may hold at most this many connections, and have at
  // most this many requests with the handlers at once (a parked blocking
  // query does not count), so one client cannot take every
  // connection or worker from the others. Past a cap the answer is an
  // immediate 429 (past max_connections: 503) and the connection closes.
  std::size_t max_connections_per_client = 512;
  std::size_t max_in_flight_per_client = 384;
  std::string name = "http";  // for log lines
  // HTTPS with client certificates (common/tls.h) when set: every client
  // must present a certificate of the cluster CA, naming one of
  // `tls_peer_names` when that is not empty. A plain HTTP request gets a
  // 400 saying to use https://, and the connection closes.
  TlsFiles tls;
  std::vector<std::string> tls_peer_names;
  // Answers cheap requests on the I/O thread, without a worker (agents'
  // heartbeats, which must not queue behind writes waiting for Raft), or
  // returns nullopt to hand the request to the workers. Must never block.
  std::function<std::optional<HttpResponse>(const HttpRequest&)> inline_handler;
  // Requests that may carry a body up to large_body_limit (and take up to
  // large_body_read_timeout to arrive) instead of body_limit: asked with
  // the request's head (method, path, headers; no body) once it is read,
  // so a caller can be checked before its body is taken.
  std::function<bool(const HttpRequest& head)> large_body;
  std::size_t large_body_limit = 0;
  std::chrono::milliseconds large_body_read_timeout{300'000};
  // When set, the server counts into it: orch_http_requests_total{route,
  // code}, orch_http_request_duration_seconds{route} (read to answer,
  // parked time included), orch_http_open_connections and
  // orch_http_parked_requests. `route_of` names a request's route for the
  // label (bounded: a pattern such as "GET /v1/jobs/{id}", never a raw
  // path); without it every request is "all".
  metrics::Registry* metrics = nullptr;
  std::function<std::string(const HttpRequest&)> route_of;
};

class HttpServer {
 public:
  virtual ~HttpServer() = default;
  // Binds and starts serving; fails if the address cannot be bound.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   HttpHandler handler);
  virtual uint16_t port() const = 0;
  // Stops accepting, lets in-flight requests finish for up to `grace`, then
  // closes every connection and joins all threads. Idempotent.
  virtual void Shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(2000)) = 0;
};

}  // namespace orch
