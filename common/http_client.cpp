#include "common/http_client.h"

#include <curl/curl.h>

#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "common/tls_peer.h"

namespace orch {
namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_ALL); });
}

std::size_t WriteBody(char* data, std::size_t size, std::size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// Body pieces of a streamed request go to the caller's function.
// The body of a non-2xx answer (an error) is kept as the response's body.
struct StreamState {
  const std::function<bool(std::string_view)>* on_body = nullptr;
  CURL* handle = nullptr;
  std::string* error_body = nullptr;
  bool stopped = false;  // the caller said stop
};

std::size_t StreamBody(char* data, std::size_t size, std::size_t n, void* user) {
  auto* st = static_cast<StreamState*>(user);
  long code = 0;
  curl_easy_getinfo(st->handle, CURLINFO_RESPONSE_CODE, &code);
  if (code < 200 || code >= 300) {
    if (st->error_body->size() < (1 << 20)) st->error_body->append(data, size * n);
    return size * n;
  }
  if (!(*st->on_body)(std::string_view(data, size * n))) {
    st->stopped = true;
    return 0;  // aborts the transfer
  }
  return size * n;
}

int StreamProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* st = static_cast<StreamState*>(user);
  if (!(*st->on_body)(std::string_view())) {
    st->stopped = true;
    return 1;  // aborts the transfer
  }
  return 0;
}

std::size_t WriteHeader(char* data, std::size_t size, std::size_t n, void* user) {
  auto* resp = static_cast<HttpResponse*>(user);
  std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    resp->headers.clear();  // a new response (after 100-continue or a redirect)
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::string value = line.substr(colon + 1);
    auto b = value.find_first_not_of(" \t");
    auto e = value.find_last_not_of(" \t\r\n");
    value = b == std::string::npos ? "" : value.substr(b, e - b + 1);
    resp->headers.emplace_back(std::move(name), std::move(value));
  }
  return size * n;
}

}  // namespace

class HttpClient::HandlePool {
 public:
  explicit HandlePool(std::size_t max_idle) : max_idle_(max_idle) {}
  ~HandlePool() {
    for (CURL* h : idle_) curl_easy_cleanup(h);
  }
  CURL* Acquire() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        CURL* h = idle_.back();
        idle_.pop_back();
        return h;
      }
    }
    return curl_easy_init();
  }
  // Keeps the handle, and the connections it holds open, for the next request.
  void Release(CURL* h) {
    curl_easy_reset(h);
    std::lock_guard lock(mu_);
    if (idle_.size() < max_idle_) {
      idle_.push_back(h);
      return;
    }
    curl_easy_cleanup(h);
  }

 private:
  const std::size_t max_idle_;
  std::mutex mu_;
  std::vector<CURL*> idle_;
};

namespace {

// https:// with our certificate, verifying the server against the cluster
// CA; with a tls_server_name the server's certificate must name it (the
// role, common/tls.h) instead of the address dialled.
CURLcode SetServerName(CURL*, void* ssl_ctx, void* options) {
  const auto* o = static_cast<const HttpClientOptions*>(options);
  return RequirePeer(static_cast<SSL_CTX*>(ssl_ctx), {o->tls_server_name}).ok()
             ? CURLE_OK
             : CURLE_SSL_CERTPROBLEM;
}

void ConfigureTls(CURL* h, const HttpClientOptions& o) {
  curl_easy_setopt(h, CURLOPT_CAINFO, o.tls.ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_CAPATH, nullptr);
  if (!o.tls.cert_file.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, o.tls.cert_file.c_str());
  if (!o.tls.key_file.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, o.tls.key_file.c_str());
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (!o.tls_server_name.empty()) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, SetServerName);
    curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, const_cast<HttpClientOptions*>(&o));
  } else {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  }
}

}  // namespace

HttpClient::HttpClient(HttpClientOptions options)
    : options_(std::move(options)),
      pool_(std::make_shared<HandlePool>(options_.max_idle_connections)) {
  GlobalInit();
}

Result<HttpResponse> HttpClient::Do(const std::string& method, const std::string& url,
                                    const std::string& body, std::chrono::milliseconds timeout,
                                    const Headers& extra_headers) const {
  return Perform(method, url, body, timeout, nullptr, &extra_headers);
}

Result<HttpResponse> HttpClient::Stream(const std::string& method, const std::string& url,
                                        const std::function<bool(std::string_view)>& on_body,
                                        std::chrono::milliseconds timeout,
                                        const Headers& extra_headers) const {
  return Perform(method, url, "", timeout, &on_body, &extra_headers);
}

Result<HttpResponse> HttpClient::Perform(const std::string& method, const std::string& url,
                                         const std::string& body, std::chrono::milliseconds timeout,
                                         const std::function<bool(std::string_view)>* on_body,
                                         const Headers* extra_headers) const {
  HandlePool* pool = pool_.get();
  std::unique_ptr<CURL, std::function<void(CURL*)>> curl(pool->Acquire(),
                                                         [pool](CURL* c) { pool->Release(c); });
  if (!curl) return Status::Internal("curl_easy_init failed");
  CURL* h = curl.get();
  HttpResponse resp;
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  // HTTP and nothing else, and no redirects: URLs here are built from
  // addresses others registered (a node's), and libcurl would otherwise
  // read file://, gopher:// and the rest.
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  auto t = timeout.count() > 0 ? timeout : options_.timeout;
  StreamState stream;
  if (on_body != nullptr) {
    stream.on_body = on_body;
    stream.handle = h;
    stream.error_body = &resp.body;
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, StreamBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &stream);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, StreamProgress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &stream);
  } else {
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(t.count()));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.body);
  }
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, WriteHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &resp);
  // Never talk to a proxy from the environment: our peers are local.
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  if (!options_.unix_socket.empty()) {
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, options_.unix_socket.c_str());
  }
  if (options_.tls.enabled()) ConfigureTls(h, options_);
  if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (!body.empty() || method == "POST" || method == "PUT") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  struct curl_slist* hdrs = nullptr;
  hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
  hdrs = curl_slist_append(hdrs, "Expect:");
  for (const auto& [k, v] : options_.headers) hdrs = curl_slist_append(hdrs, (k + ": " + v).c_str());
  if (extra_headers != nullptr) {
    for (const auto& [k, v] : *extra_headers)
      hdrs = curl_slist_append(hdrs, (k + ": " + v).c_str());
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(hdrs);
  if (stream.stopped && (rc == CURLE_WRITE_ERROR || rc == CURLE_ABORTED_BY_CALLBACK)) rc = CURLE_OK;
  if (rc != CURLE_OK) {
    std::string why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    long os_errno = 0;
    if (rc == CURLE_COULDNT_CONNECT &&
        curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK && os_errno != 0) {
      why = std::strerror(static_cast<int>(os_errno));  // "Connection refused"
    }
    std::string what = method + " " + url + (options_.unix_socket.empty() ? "" : " via " + options_.unix_socket);
    if (rc == CURLE_OPERATION_TIMEDOUT) return Status::DeadlineExceeded(what + ": " + why);
    return Status::Unavailable(what + ": " + why);
  }
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  resp.status = static_cast<int>(code);
  char* ct = nullptr;
  curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
  resp.content_type = ct ? ct : "";
  return resp;
}

}  // namespace orch
