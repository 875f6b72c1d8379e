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
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/http_types.h"
#include "common/status.h"

namespace orch {

struct HttpClientOptions {
  std::string unix_socket;  // when set, every request goes over this socket
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds timeout{30'000};  // whole request, default
  std::vector<std::pair<std::string, std::string>> headers;  // sent on every request
};

class HttpClient {
 public:
  class HandlePool;

  explicit HttpClient(HttpClientOptions options = {});

  // `url` is absolute ("http://127.0.0.1:4646/v1/jobs"; with a unix socket
  // the host part is ignored, e.g. "http://localhost/v1.41/info").
  // `timeout` 0 uses the options' timeout.
  Result<HttpResponse> Do(const std::string& method, const std::string& url,
                          const std::string& body = "",
                          std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) const;

  Result<HttpResponse> Get(const std::string& url,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) const {
    return Do("GET", url, "", timeout);
  }
  Result<HttpResponse> Post(const std::string& url, const std::string& body) const {
    return Do("POST", url, body);
  }

 private:
  HttpClientOptions options_;
  std::shared_ptr<HandlePool> pool_;
};

}  // namespace orch
