// Plain HTTP request/response values shared by the server frame, the router
// and the client. No Beast or curl types leak through here, so handlers and
// their tests compile fast and run without sockets.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace orch {

class IndexWaiters;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: "/v1/jobs?index=3"
  std::string path;    // decoded path without the query: "/v1/jobs"
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string remote;  // "127.0.0.1:51234"
  // Set when the handler is called again for a request it deferred (see
  // HttpResponse::defer), with that deferral's deadline and state.
  bool resumed = false;
  std::chrono::steady_clock::time_point resume_deadline;
  std::string resume_state;

  // Value of query parameter `name`, or `fallback`.
  std::string Query(const std::string& name, const std::string& fallback = "") const;
  // Every value of a query parameter given more than once
  // ("?topic=Job&topic=Node"), decoded, in order; `query` keeps one.
  std::vector<std::string> QueryAll(std::string_view name) const;
  std::string Header(const std::string& lower_name) const;
};

// Writes one piece of a streamed body; false once the client is gone (or
// the server stops). An empty piece writes nothing and only asks that.
using HttpStreamWriter = std::function<bool(std::string_view)>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the server sends the headers, then calls `stream` (on the
  // handler's worker thread) to produce the body piece by piece with
  // chunked transfer encoding, and closes the connection after it; `body`
  // is ignored. For long answers such as followed logs.
  std::function<void(const HttpStreamWriter&)> stream;

  // A blocking query not ready yet: the server parks the request without
  // holding a thread and calls the handler again (request.resumed set, with
  // `deadline` and `state`) once `waiters` passes `index` or at `deadline`.
  // The handler may defer again, never past the first deadline. The rest of
  // the response is ignored.
  struct Deferral {
    IndexWaiters* waiters = nullptr;
    uint64_t index = 0;
    std::chrono::steady_clock::time_point deadline;
    std::string state;  // what the handler wants back (e.g. what it saw first)
    // Non-empty: wake only when this key of `waiters` passes `index`
    // (IndexWaiters::Wait with a key), not at every change of the state.
    std::string key;
  };
  std::optional<Deferral> defer;

  // An answer that waits without holding a worker (a write until its
  // entry applies): the server calls `later` on the worker, which then goes
  // back to the pool. `later` starts the wait and, when it ends, calls the
  // Reply it was given with a function that makes the answer; the server
  // runs that on a worker and writes what it returns. Call the Reply once,
  // from any thread (it may be called before `later` returns); it returns
  // at once. If the server stops first, the client gets a 503 and the Reply
  // does nothing. The rest of the response is ignored.
  using MakeAnswer = std::function<HttpResponse()>;
  using Reply = std::function<void(MakeAnswer)>;
  std::function<void(Reply)> later;

  // A long answer that waits without a thread (an event stream): the server
  // sends the headers (chunked, then the connection closes after it), then
  // calls `next` on a worker for what follows the cursor and writes it;
  // when `next` appends nothing the request is parked until `waiters`
  // passes the cursor, and after `idle` without a write `heartbeat` is
  // written. The answer ends when `next` returns false (after what it
  // appended is written), the client goes, or the server stops. `body` is
  // ignored. Feeds hold no worker and no request slot while they wait.
  struct Feed {
    IndexWaiters* waiters = nullptr;
    uint64_t cursor = 0;
    std::chrono::milliseconds idle{10'000};
    std::string heartbeat;
    // Appends what follows `*cursor` to `*out` (bounded) and moves the
    // cursor past it; false to end the answer.
    std::function<bool(uint64_t* cursor, std::string* out)> next;
  };
  std::optional<Feed> feed;

  // Value of header `name` (case-insensitive), or "".
  std::string Header(std::string_view name) const;

  static HttpResponse Json(int status, std::string body);
  static HttpResponse Error(const Status& status);
  static HttpResponse Error(int http_status, const Status& status);
};

// The HTTP status that represents a Status code (400, 404, 409, 503, ...).
int HttpStatusFor(StatusCode code);

// Splits "/a/b?x=1&y=%20" into the decoded path and query parameters.
// Returns InvalidArgument on bad percent-encoding.
Status ParseTarget(std::string_view target, std::string* path,
                   std::map<std::string, std::string>* query);

std::string UrlEncode(std::string_view s);

}  // namespace orch
