// HttpClient: blocking HTTP/1.1 requests over TCP or a unix socket (Docker's
// /var/run/docker.sock) on libcurl. A transport failure (refused, timeout,
// reset) is a Status; any HTTP answer, 4xx and 5xx included, is a response.
// Connections are kept alive and reused: finished requests return their
// curl handle (and its open connections) to a small pool shared by copies of
// the client.
// Thread safety: one HttpClient may be used from many threads; a request
// holds its handle alone while it runs.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/http_types.h"
#include "common/status.h"
#include "common/tls.h"

namespace orch {

struct HttpClientOptions {
  std::string unix_socket;  // when set, every request goes over this socket
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds timeout{30'000};  // whole request, default
  std::vector<std::pair<std::string, std::string>> headers;  // sent on every request
  // For https:// URLs: the cluster CA, our certificate and key
  // (common/tls.h), and the name the server's certificate must carry
  // (TlsRoleName; empty: the host dialled, as browsers check).
  TlsFiles tls;
  std::string tls_server_name;
  // Idle handles (each with its open connection) kept for reuse; more
  // requests at once than this open a connection each time. A master
  // forwarding its agents' writes to the leader from many workers keeps
  // many.
  std::size_t max_idle_connections = 16;
};

class HttpClient {
 public:
  class HandlePool;

  explicit HttpClient(HttpClientOptions options = {});

  // `url` is absolute ("http://127.0.0.1:4646/v1/jobs"; with a unix socket
  // the host part is ignored, e.g. "http://localhost/v1.41/info").
  // `timeout` 0 uses the options' timeout. `extra_headers` are sent with
  // this request only, after the options' own.
  using Headers = std::vector<std::pair<std::string, std::string>>;
  Result<HttpResponse> Do(const std::string& method, const std::string& url,
                          const std::string& body = "",
                          std::chrono::milliseconds timeout = std::chrono::milliseconds(0),
                          const Headers& extra_headers = {}) const;

  Result<HttpResponse> Get(const std::string& url,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) const {
    return Do("GET", url, "", timeout);
  }
  Result<HttpResponse> Post(const std::string& url, const std::string& body) const {
    return Do("POST", url, body);
  }

  // Like Do, but a 2xx answer's body goes to `on_body` piece by piece as
  // it arrives (the response's body stays empty; an error answer's body is
  // kept there as usual), for long answers such as followed
  // logs. `on_body` is also called with an empty piece about once a second
  // while nothing arrives; returning false ends the transfer, which is then
  // no error. `timeout` 0: no limit on the whole request.
  Result<HttpResponse> Stream(const std::string& method, const std::string& url,
                              const std::function<bool(std::string_view)>& on_body,
                              std::chrono::milliseconds timeout = std::chrono::milliseconds(0),
                              const Headers& extra_headers = {}) const;

 private:
  Result<HttpResponse> Perform(const std::string& method, const std::string& url,
                               const std::string& body, std::chrono::milliseconds timeout,
                               const std::function<bool(std::string_view)>* on_body,
                               const Headers* extra_headers = nullptr) const;

  HttpClientOptions options_;
  std::shared_ptr<HandlePool> pool_;
};

}  // namespace orch
