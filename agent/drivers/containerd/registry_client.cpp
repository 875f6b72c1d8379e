#include "agent/drivers/containerd/registry_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/http_types.h"

namespace orch::agent::oci {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr int kMaxRedirects = 5;
constexpr std::size_t kMaxErrorBody = 64 << 10;  // kept of a non-2xx answer
constexpr int64_t kMaxTokenBody = 1 << 20;       // a token service's answer
constexpr std::size_t kMaxHeaderBytes = 256 << 10;
constexpr std::size_t kMaxNameLength = 255;  // registry/repository, as Docker
constexpr char kDockerHub[] = "docker.io";
constexpr char kDockerHubEndpoint[] = "registry-1.docker.io";

// ---- references ----------------------------------------------------------

bool LowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool Alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool HexLower(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

// A repository path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool ValidPathComponent(std::string_view c) {
  std::size_t i = 0;
  if (c.empty() || !LowerAlnum(c[0])) return false;
  while (i < c.size()) {
    while (i < c.size() && LowerAlnum(c[i])) ++i;
    if (i == c.size()) return true;
    if (c[i] == '.') {
      ++i;
    } else if (c[i] == '_') {
      ++i;
      if (i < c.size() && c[i] == '_') ++i;
    } else if (c[i] == '-') {
      while (i < c.size() && c[i] == '-') ++i;
    } else {
      return false;
    }
    if (i == c.size() || !LowerAlnum(c[i])) return false;
  }
  return true;
}

// A host name component: [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?
bool ValidDomainComponent(std::string_view c) {
  if (c.empty() || !Alnum(c.front()) || !Alnum(c.back())) return false;
  return std::all_of(c.begin(), c.end(), [](char ch) { return Alnum(ch) || ch == '-'; });
}

// host[:port], the host a name or a bracketed IPv6 address.
bool ValidRegistry(std::string_view r, std::string* why) {
  std::string_view host = r, port;
  if (!r.empty() && r[0] == '[') {
    auto close = r.find(']');
    if (close == std::string_view::npos) {
      *why = "registry \"" + std::string(r) + "\": unclosed '['";
      return false;
    }
    std::string addr(r.substr(1, close - 1));
    in6_addr a6;
    if (inet_pton(AF_INET6, addr.c_str(), &a6) != 1) {
      *why = "registry \"" + std::string(r) + "\": not an IPv6 address";
      return false;
    }
    std::string_view rest = r.substr(close + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') {
        *why = "registry \"" + std::string(r) + "\": text after ']'";
        return false;
      }
      port = rest.substr(1);
      if (port.empty()) port = "x";  // "[::1]:" is refused below
    }
    host = {};
  } else {
    auto colon = r.find(':');
    if (colon != std::string_view::npos) {
      host = r.substr(0, colon);
      port = r.substr(colon + 1);
      if (port.empty()) port = "x";
    }
  }
  if (!port.empty()) {
    bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(),
                                                  [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535) {
      *why = "registry \"" + std::string(r) + "\": bad port";
      return false;
    }
  }
  if (r.empty() || r[0] == '[') return !r.empty();
  std::size_t start = 0;
  while (true) {
    auto dot = host.find('.', start);
    std::string_view c =
        host.substr(start, dot == std::string_view::npos ? host.npos : dot - start);
    if (!ValidDomainComponent(c)) {
      *why = "registry \"" + std::string(r) + "\" is not a host name";
      return false;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return true;
}

// [\w][\w.-]{0,127}
bool ValidTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto word = [](char c) { return Alnum(c) || c == '_'; };
  if (!word(t[0])) return false;
  return std::all_of(t.begin(), t.end(), [&](char c) { return word(c) || c == '.' || c == '-'; });
}

bool ValidDigest(std::string_view d) {
  constexpr std::string_view kPrefix = "sha256:";
  return d.size() == kPrefix.size() + 64 && d.substr(0, kPrefix.size()) == kPrefix &&
         std::all_of(d.begin() + kPrefix.size(), d.end(), HexLower);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// "127.0.0.1:5055" -> "127.0.0.1"; "[::1]:5000" -> "::1".
std::string HostOf(const std::string& host_port) {
  if (!host_port.empty() && host_port[0] == '[') {
    auto close = host_port.find(']');
    return host_port.substr(1, close == std::string::npos ? std::string::npos : close - 1);
  }
  return host_port.substr(0, host_port.find(':'));
}

bool Loopback(const std::string& host) {
  if (Lower(host) == "localhost") return true;
  in_addr a4;
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6;
  return inet_pton(AF_INET6, host.c_str(), &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

// ---- HTTP -----------------------------------------------------------------

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_ALL); });
}

struct CurlFree {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct UrlFree {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// "https://host:443" of an absolute URL, "" when it does not parse.
std::string Origin(const std::string& url) {
  std::unique_ptr<CURLU, UrlFree> u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return "";
  std::string out;
  for (auto part : {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT}) {
    char* p = nullptr;
    if (curl_url_get(u.get(), part, &p, CURLU_DEFAULT_PORT) != CURLUE_OK) return "";
    out += Lower(p);
    out += part == CURLUPART_SCHEME ? "://" : part == CURLUPART_HOST ? ":" : "";
    curl_free(p);
  }
  return out;
}

// host[:port] of an absolute URL, for messages.
std::string UrlHost(const std::string& url) {
  auto start = url.find("://");
  start = start == std::string::npos ? 0 : start + 3;
  return url.substr(start, url.find_first_of("/?#", start) - start);
}

using Sink = std::function<Status(std::string_view)>;

// What the callbacks of one transfer share.
struct Transfer {
  CURL* h = nullptr;
  std::string* body = nullptr;
  std::vector<std::pair<std::string, std::string>>* headers = nullptr;
  int64_t max_body = 0;
  const Sink* sink = nullptr;
  Status sink_status;
  bool too_large = false;
  bool error_body_cut = false;
  std::size_t header_bytes = 0;
  bool headers_too_large = false;
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t len = size * n;
  long code = 0;
  curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &code);
  if (code >= 200 && code < 300) {
    if (t->sink != nullptr) {
      Status st = (*t->sink)(std::string_view(data, len));
      if (!st.ok()) {
        t->sink_status = std::move(st);
        return 0;  // aborts the transfer
      }
      return len;
    }
    if (static_cast<int64_t>(t->body->size() + len) > t->max_body) {
      t->too_large = true;
      return 0;
    }
    t->body->append(data, len);
    return len;
  }
  // An error or redirect answer: its beginning is enough.
  std::size_t room = kMaxErrorBody - std::min(kMaxErrorBody, t->body->size());
  t->body->append(data, std::min(room, len));
  if (len > room) {
    t->error_body_cut = true;
    return 0;
  }
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t len = size * n;
  t->header_bytes += len;
  if (t->header_bytes > kMaxHeaderBytes) {
    t->headers_too_large = true;
    return 0;
  }
  std::string_view line(data, len);
  if (line.substr(0, 5) == "HTTP/") {
    t->headers->clear();  // a new answer (after a 100 Continue, say)
    return len;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return len;
  t->headers->emplace_back(Lower(Trim(line.substr(0, colon))), Trim(line.substr(colon + 1)));
  return len;
}

// The registry's error text: "CODE: message" from {"errors": [...]}, else
// the body's beginning, else "HTTP <status>".
std::string RegistryMessage(long status, const std::string& body) {
  auto j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()) {
    std::string out;
    for (const auto& e : j["errors"]) {
      if (!e.is_object()) continue;
      std::string code =
          e.contains("code") && e["code"].is_string() ? e["code"].get<std::string>() : "";
      std::string msg =
          e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
      if (code.empty() && msg.empty()) continue;
      if (!out.empty()) out += "; ";
      out += code.empty() ? msg : msg.empty() ? code : code + ": " + msg;
    }
    if (!out.empty()) return out.substr(0, 500);
  }
  std::string text = Trim(body.substr(0, 300));
  bool printable = std::all_of(text.begin(), text.end(), [](char c) {
    return c == '\n' || c == '\t' || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
  });
  if (text.empty() || !printable || text[0] == '<') return "HTTP " + std::to_string(status);
  return "HTTP " + std::to_string(status) + ": " + text;
}

bool HasErrorCode(const std::string& body, const std::string& code) {
  auto j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array()) return false;
  for (const auto& e : j["errors"]) {
    if (e.is_object() && e.contains("code") && e["code"] == code) return true;
  }
  return false;
}

// One challenge of a WWW-Authenticate header: `Bearer realm="...",service="..."`.
struct Challenge {
  std::string scheme;  // lower case
  std::map<std::string, std::string> params;
};

std::vector<Challenge> ParseChallenges(std::string_view s) {
  std::vector<Challenge> out;
  std::size_t i = 0;
  auto skip_ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  };
  while (i < s.size()) {
    skip_ws();
    if (i < s.size() && s[i] == ',') {
      ++i;
      continue;
    }
    std::size_t begin = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != ',' && s[i] != '=') ++i;
    std::string word(s.substr(begin, i - begin));
    if (word.empty()) {
      ++i;  // a stray '='
      continue;
    }
    skip_ws();
    if (i < s.size() && s[i] == '=' && !out.empty()) {
      ++i;
      skip_ws();
      std::string value;
      if (i < s.size() && s[i] == '"') {
        for (++i; i < s.size() && s[i] != '"'; ++i) {
          if (s[i] == '\\' && i + 1 < s.size()) ++i;
          value += s[i];
        }
        if (i < s.size()) ++i;
      } else {
        std::size_t vb = i;
        while (i < s.size() && s[i] != ',' && s[i] != ' ' && s[i] != '\t') ++i;
        value = std::string(s.substr(vb, i - vb));
      }
      out.back().params[Lower(word)] = value;
    } else {
      out.push_back({Lower(word), {}});
    }
  }
  return out;
}

std::string JsonString(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// {"mediaType", "digest", "size"}; false when the digest or size is bad.
bool ParseDescriptor(const json& j, Descriptor* d) {
  if (!j.is_object()) return false;
  d->media_type = JsonString(j, "mediaType");
  d->digest = JsonString(j, "digest");
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer()) return false;
  d->size = size->get<int64_t>();
  return ValidDigest(d->digest) && d->size >= 0;
}

std::string Hex(const unsigned char* p, unsigned n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (unsigned i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 0xf];
  }
  return out;
}

std::string Seconds(std::chrono::milliseconds ms) {
  std::string s = std::to_string(ms.count() / 1000.0);
  return s.substr(0, s.find('.') + 2) + "s";
}

}  // namespace

// ---- ImageRef ---------------------------------------------------------------

std::string ImageRef::Reference() const { return digest.empty() ? tag : digest; }

std::string ImageRef::ToString() const {
  std::string out = registry + "/" + repository;
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string ImageRef::Endpoint() const {
  return registry == kDockerHub ? kDockerHubEndpoint : registry;
}

Result<ImageRef> ParseImageRef(const std::string& image) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("image reference \"" + image + "\": " + why);
  };
  if (image.empty()) return Status::InvalidArgument("image reference is empty");
  for (char c : image) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return bad("contains a space, a control or a non-ASCII character");
  }
  ImageRef ref;
  std::string rest = image;
  auto at = rest.find('@');
  if (at != std::string::npos) {
    ref.digest = rest.substr(at + 1);
    rest.resize(at);
    if (!ValidDigest(ref.digest)) {
      return bad("digest \"" + ref.digest + "\" is not \"sha256:\" and 64 lower-case hex digits");
    }
  }
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    ref.tag = rest.substr(colon + 1);
    rest.resize(colon);
    if (!ValidTag(ref.tag)) {
      return bad("tag \"" + ref.tag +
                 "\" must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or "
                 "'-'");
    }
  }
  std::string name = rest;
  auto first = rest.find('/');
  if (first != std::string::npos) {
    std::string c = rest.substr(0, first);
    bool domain = c.find_first_of(".:") != std::string::npos || c == "localhost" ||
                  std::any_of(c.begin(), c.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; });
    if (domain) {
      ref.registry = c;
      name = rest.substr(first + 1);
    }
  }
  if (ref.registry.empty() || ref.registry == "index.docker.io") ref.registry = kDockerHub;
  std::string why;
  if (!ValidRegistry(ref.registry, &why)) return bad(why);
  if (name.empty()) return bad("no repository");
  if (ref.registry == kDockerHub && name.find('/') == std::string::npos) name = "library/" + name;
  if (std::any_of(name.begin(), name.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
    return bad("repository \"" + name + "\" must be lower case");
  }
  std::size_t start = 0;
  while (true) {
    auto end = name.find('/', start);
    std::string c = name.substr(start, end == std::string::npos ? end : end - start);
    if (!ValidPathComponent(c)) {
      return bad("repository \"" + name +
                 "\": each '/'-separated part must be lower-case letters and digits, "
                 "separated by '.', '_', '__' or '-'");
    }
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (ref.registry.size() + 1 + name.size() > kMaxNameLength) {
    return bad("longer than " + std::to_string(kMaxNameLength) + " characters");
  }
  ref.repository = name;
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

std::string Sha256Digest(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
  return "sha256:" + Hex(md, n);
}

// ---- RegistryClient ---------------------------------------------------------

struct RegistryClient::Response {
  long status = 0;
  std::string body;  // a buffered 2xx body, or the beginning of another one
  std::vector<std::pair<std::string, std::string>> headers;  // names lower case
  std::string url;                                           // after redirects

  std::string Header(const std::string& name) const {
    for (const auto& [k, v] : headers)
      if (k == name) return v;
    return "";
  }
};

RegistryClient::RegistryClient(ImageRef ref, Credentials creds, RegistryOptions options)
    : ref_(std::move(ref)), creds_(std::move(creds)), options_(std::move(options)) {
  GlobalInit();
}

Status RegistryClient::Error(StatusCode code, const std::string& message) const {
  return Status(code, "image " + ref_.ToString() + ": " + message);
}

bool RegistryClient::Insecure(const std::string& host_port) const {
  std::string host = HostOf(host_port);
  if (Loopback(host)) return true;
  for (const auto& r : options_.insecure_registries) {
    if (Lower(r) == Lower(host_port) || Lower(r) == Lower(host)) return true;
  }
  return false;
}

std::string RegistryClient::BaseUrl() const {
  std::string endpoint = ref_.Endpoint();
  return (Insecure(endpoint) ? "http://" : "https://") + endpoint + "/v2/" + ref_.repository;
}

Result<RegistryClient::Response> RegistryClient::Send(const std::string& url,
                                                      const std::vector<std::string>& headers,
                                                      const std::string& authorization,
                                                      int64_t max_body, const Sink* sink,
                                                      Clock::time_point deadline,
                                                      const std::string& what) {
  std::string current = url;
  std::string auth = authorization;
  for (int hop = 0;; ++hop) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return Error(StatusCode::kDeadlineExceeded, what + ": no answer from registry " +
                                                      ref_.registry + " within " +
                                                      Seconds(options_.timeout));
    }
    std::unique_ptr<CURL, CurlFree> h(curl_easy_init());
    if (!h) return Error(StatusCode::kInternal, "curl_easy_init failed");
    std::unique_ptr<curl_slist, SlistFree> list;
    auto add = [&](const std::string& line) {
      curl_slist* l = curl_slist_append(list.get(), line.c_str());
      if (l != nullptr) {
        (void)list.release();
        list.reset(l);
      }
    };
    for (const auto& hd : headers) add(hd);
    if (!auth.empty()) add("Authorization: " + auth);

    Response resp;
    resp.url = current;
    Transfer t;
    t.h = h.get();
    t.body = &resp.body;
    t.headers = &resp.headers;
    t.max_body = max_body;
    t.sink = sink;
    char errbuf[CURL_ERROR_SIZE] = {0};
    CURL* c = h.get();
    curl_easy_setopt(c, CURLOPT_URL, current.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);  // followed here, see below
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "orch-agent");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::max<int64_t>(
                         1, std::min<int64_t>(options_.connect_timeout.count(), left.count()))));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(c);

    // Who we spoke to, for messages: the registry, its token service, or
    // where it sent us.
    std::string peer = "registry " + ref_.registry;
    if (Lower(UrlHost(current)) != Lower(ref_.Endpoint())) {
      peer = UrlHost(current) +
             (hop > 0 ? " (where registry " + ref_.registry + " redirected " + what + ")"
                      : " (for registry " + ref_.registry + ")");
    }
    if (rc != CURLE_OK) {
      if (!t.sink_status.ok()) return t.sink_status;
      if (t.too_large) {
        return Error(StatusCode::kResourceExhausted, what + " from registry " + ref_.registry +
                                                         " is larger than " +
                                                         std::to_string(max_body) + " bytes");
      }
      if (t.headers_too_large) {
        return Error(
            StatusCode::kUnavailable,
            peer + " sent more than " + std::to_string(kMaxHeaderBytes) + " bytes of headers");
      }
      if (!(rc == CURLE_WRITE_ERROR && t.error_body_cut)) {
        std::string detail = curl_easy_strerror(rc);
        // curl's own words when they say more ("Could not resolve host: x").
        std::string_view more = errbuf;
        if (!more.empty() &&
            (more.size() < detail.size() || more.substr(more.size() - detail.size()) != detail)) {
          detail += " (" + std::string(more) + ")";
        }
        if (rc == CURLE_OPERATION_TIMEDOUT) {
          return Error(StatusCode::kDeadlineExceeded,
                       what + ": no answer from " + peer + " in time: " + detail);
        }
        if (rc == CURLE_SSL_CONNECT_ERROR && current.rfind("https://", 0) == 0) {
          detail += "; if it speaks plain HTTP, list it among the insecure registries";
        }
        return Error(StatusCode::kUnavailable, "cannot reach " + peer + ": " + detail);
      }
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
    if (resp.status >= 300 && resp.status < 400 && resp.status != 304) {
      char* location = nullptr;
      curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &location);
      if (location == nullptr) return resp;  // the caller reports the status
      if (hop >= kMaxRedirects) {
        return Error(StatusCode::kUnavailable, what + ": more than " +
                                                   std::to_string(kMaxRedirects) +
                                                   " redirects from registry " + ref_.registry);
      }
      std::string next = location;
      // The registry's Authorization is for the registry only (blob storage
      // gets a signed URL instead).
      if (Origin(next).empty() || Origin(next) != Origin(current)) auth.clear();
      current = next;
      continue;
    }
    return resp;
  }
}

Result<RegistryClient::Response> RegistryClient::Get(const std::string& url,
                                                     const std::vector<std::string>& headers,
                                                     int64_t max_body, const Sink* sink,
                                                     const std::string& what) {
  const Clock::time_point deadline = Clock::now() + options_.timeout;
  ORCH_ASSIGN_OR_RETURN(Response r,
                        Send(url, headers, authorization_, max_body, sink, deadline, what));
  if (r.status != 401) return r;
  // No authorization yet, or it expired (tokens last minutes): answer the
  // challenge and try once more.
  ORCH_ASSIGN_OR_RETURN(std::string auth, Authenticate(r, deadline));
  ORCH_ASSIGN_OR_RETURN(r, Send(url, headers, auth, max_body, sink, deadline, what));
  if (r.status == 401) {
    if (creds_.username.empty()) {
      return Error(StatusCode::kPermissionDenied, "registry " + ref_.registry +
                                                      " asks for credentials (" +
                                                      RegistryMessage(r.status, r.body) + ")");
    }
    return Error(StatusCode::kPermissionDenied,
                 "registry " + ref_.registry + " refused the credentials for user " +
                     creds_.username + " (" + RegistryMessage(r.status, r.body) + ")");
  }
  authorization_ = std::move(auth);
  return r;
}

Result<std::string> RegistryClient::Authenticate(const Response& unauthorized,
                                                 Clock::time_point deadline) {
  std::vector<Challenge> challenges;
  for (const auto& [k, v] : unauthorized.headers) {
    if (k != "www-authenticate") continue;
    for (auto& c : ParseChallenges(v)) challenges.push_back(std::move(c));
  }
  const Challenge* bearer = nullptr;
  const Challenge* basic = nullptr;
  for (const auto& c : challenges) {
    if (c.scheme == "bearer" && bearer == nullptr) bearer = &c;
    if (c.scheme == "basic" && basic == nullptr) basic = &c;
  }
  const std::string registry = "registry " + ref_.registry;
  const bool anonymous = creds_.username.empty() && creds_.password.empty();
  auto asks = [&] {
    return Error(StatusCode::kPermissionDenied, registry + " asks for credentials");
  };
  auto refused = [&] {
    return Error(StatusCode::kPermissionDenied,
                 registry + " refused the credentials for user " + creds_.username);
  };
  const std::string basic_auth =
      anonymous ? "" : "Basic " + EncodeBase64(creds_.username + ":" + creds_.password);

  if (bearer == nullptr) {
    if (basic == nullptr) {
      std::string schemes;
      for (const auto& c : challenges) schemes += (schemes.empty() ? "" : ", ") + c.scheme;
      return Error(
          StatusCode::kPermissionDenied,
          registry + " answered 401 " +
              (schemes.empty() ? "without a WWW-Authenticate challenge"
                               : "asking for unsupported authentication (" + schemes + ")"));
    }
    if (anonymous) return asks();
    return basic_auth;
  }

  // Bearer: a token from the realm, for pulling this repository.
  auto realm_it = bearer->params.find("realm");
  std::string realm = realm_it == bearer->params.end() ? "" : realm_it->second;
  if (realm.rfind("https://", 0) != 0 && realm.rfind("http://", 0) != 0) {
    return Error(
        StatusCode::kPermissionDenied,
        registry + " asks for a token without a usable realm (\"" + realm.substr(0, 200) + "\")");
  }
  // Credentials go in clear over plain HTTP only where the registry itself is.
  if (!anonymous && realm.rfind("http://", 0) == 0 && !Insecure(UrlHost(realm))) {
    return Error(StatusCode::kPermissionDenied, registry + " sends credentials to " +
                                                    UrlHost(realm) + " over plain HTTP; refused");
  }
  std::string scope = "repository:" + ref_.repository + ":pull";
  std::string url = realm + (realm.find('?') == std::string::npos ? "?" : "&");
  auto service = bearer->params.find("service");
  if (service != bearer->params.end()) url += "service=" + UrlEncode(service->second) + "&";
  url += "scope=" + UrlEncode(scope);
  auto asked = bearer->params.find("scope");
  if (asked != bearer->params.end() && !asked->second.empty() && asked->second != scope) {
    url += "&scope=" + UrlEncode(asked->second);
  }
  const std::string what = "token for " + ref_.repository;
  ORCH_ASSIGN_OR_RETURN(Response r, Send(url, {"Accept: application/json"}, basic_auth,
                                         kMaxTokenBody, nullptr, deadline, what));
  if (r.status == 401 || r.status == 403) return anonymous ? asks() : refused();
  if (r.status != 200) {
    return Error(r.status >= 500 ? StatusCode::kUnavailable : StatusCode::kPermissionDenied,
                 "the token service of " + registry + " (" + UrlHost(realm) +
                     ") answered: " + RegistryMessage(r.status, r.body));
  }
  auto j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  std::string token = j.is_object() ? JsonString(j, "token") : "";
  if (token.empty() && j.is_object()) token = JsonString(j, "access_token");
  bool clean = std::all_of(token.begin(), token.end(), [](char c) {
    return static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f;
  });
  if (token.empty() || !clean) {
    return Error(StatusCode::kPermissionDenied, "the token service of " + registry + " (" +
                                                    UrlHost(realm) +
                                                    ") answered without a usable token");
  }
  return "Bearer " + token;
}

Status RegistryClient::HttpError(const Response& r, const std::string& what) const {
  const std::string registry = "registry " + ref_.registry;
  const std::string msg = RegistryMessage(r.status, r.body);
  switch (r.status) {
    case 404:
      if (HasErrorCode(r.body, "NAME_UNKNOWN")) {
        return Error(StatusCode::kNotFound,
                     registry + " has no repository " + ref_.repository + " (" + msg + ")");
      }
      return Error(StatusCode::kNotFound, registry + " has no " + what + " (" + msg + ")");
    case 401:
    case 403:
      return Error(StatusCode::kPermissionDenied,
                   registry + " denied access to " + what + " (" + msg + ")");
    case 429:
      return Error(StatusCode::kResourceExhausted, registry + " asks to slow down (" + msg + ")");
    default:
      return Error(r.status >= 500 ? StatusCode::kUnavailable : StatusCode::kFailedPrecondition,
                   registry + " answered " + what + " with " + msg);
  }
}

Result<std::pair<Descriptor, std::string>> RegistryClient::FetchManifest(
    const std::string& reference) {
  static const std::string kAccept = std::string("Accept: ") + kOciManifest + ", " + kOciIndex +
                                     ", " + kDockerManifest + ", " + kDockerManifestList;
  const std::string what =
      "manifest " + ref_.repository + (reference.rfind("sha256:", 0) == 0 ? "@" : ":") + reference;
  ORCH_ASSIGN_OR_RETURN(Response r, Get(BaseUrl() + "/manifests/" + reference, {kAccept},
                                        options_.max_manifest_bytes, nullptr, what));
  if (r.status != 200) return HttpError(r, what);
  Descriptor d;
  d.digest = Sha256Digest(r.body);
  d.size = static_cast<int64_t>(r.body.size());
  std::string said = r.Header("docker-content-digest");
  if (said.rfind("sha256:", 0) == 0 && said != d.digest) {
    return Error(StatusCode::kInternal, "the " + what + " registry " + ref_.registry +
                                            " sent does not match its digest: it says " + said +
                                            ", its bytes are " + d.digest);
  }
  std::string type = r.Header("content-type");
  d.media_type = Trim(type.substr(0, type.find(';')));
  return std::make_pair(std::move(d), std::move(r.body));
}

Result<Manifest> RegistryClient::Resolve() {
  Manifest out;
  ORCH_ASSIGN_OR_RETURN(auto top, FetchManifest(ref_.Reference()));
  if (!ref_.digest.empty() && top.first.digest != ref_.digest) {
    return Error(StatusCode::kInternal,
                 "the manifest registry " + ref_.registry + " sent for " + ref_.digest +
                     " does not match that digest (its bytes are " + top.first.digest + ")");
  }
  // What a manifest is: its JSON mediaType, else the Content-Type, else its
  // shape. Schema 1 (signed, no config) is refused.
  auto classify = [&](Descriptor& d, const std::string& bytes, json* j) -> Status {
    *j = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
    if (!j->is_object()) {
      return Error(StatusCode::kFailedPrecondition, "the manifest " + d.digest + " from registry " +
                                                        ref_.registry + " is not a JSON object");
    }
    std::string declared = JsonString(*j, "mediaType");
    auto version = j->find("schemaVersion");
    if ((version != j->end() && *version == 1) ||
        declared.rfind("application/vnd.docker.distribution.manifest.v1", 0) == 0 ||
        d.media_type.rfind("application/vnd.docker.distribution.manifest.v1", 0) == 0) {
      return Error(StatusCode::kFailedPrecondition,
                   "registry " + ref_.registry +
                       " serves it as a Docker schema 1 manifest, which is not supported "
                       "(push it again with a current Docker or another OCI tool)");
    }
    auto known = [](const std::string& t) {
      return t == kOciManifest || t == kOciIndex || t == kDockerManifest ||
             t == kDockerManifestList;
    };
    if (known(declared)) {
      d.media_type = declared;
    } else if (!known(d.media_type)) {
      if (j->contains("manifests")) {
        d.media_type = kOciIndex;
      } else if (j->contains("config") && j->contains("layers")) {
        d.media_type = kOciManifest;
      } else {
        return Error(StatusCode::kFailedPrecondition,
                     "the manifest " + d.digest + " from registry " + ref_.registry +
                         " is of an unsupported type \"" +
                         (declared.empty() ? d.media_type : declared) + "\"");
      }
    }
    return Status::Ok();
  };
  auto is_index = [](const Descriptor& d) {
    return d.media_type == kOciIndex || d.media_type == kDockerManifestList;
  };

  json j;
  ORCH_RETURN_IF_ERROR(classify(top.first, top.second, &j));
  if (is_index(top.first)) {
    const std::string want = options_.os + "/" + options_.architecture;
    std::vector<std::string> have;  // platforms listed, for the error
    Descriptor pick;
    bool found = false;
    const json& list = j.contains("manifests") ? j["manifests"] : json();
    if (!list.is_array()) {
      return Error(StatusCode::kFailedPrecondition,
                   "the index " + top.first.digest + " has no \"manifests\" list");
    }
    for (const auto& m : list) {
      if (!m.is_object() || !m.contains("platform") || !m["platform"].is_object()) continue;
      const json& p = m["platform"];
      std::string platform = JsonString(p, "os") + "/" + JsonString(p, "architecture");
      if (platform == "unknown/unknown") continue;  // attestations
      std::string variant = JsonString(p, "variant");
      if (!variant.empty()) platform += "/" + variant;
      if (std::find(have.begin(), have.end(), platform) == have.end()) have.push_back(platform);
      if (found || JsonString(p, "os") != options_.os ||
          JsonString(p, "architecture") != options_.architecture) {
        continue;
      }
      if (!ParseDescriptor(m, &pick)) {
        return Error(StatusCode::kFailedPrecondition,
                     "the index " + top.first.digest + " lists a bad descriptor for " + want);
      }
      found = true;
    }
    if (!found) {
      std::string listed;
      for (const auto& p : have) listed += (listed.empty() ? "" : ", ") + p;
      return Error(StatusCode::kFailedPrecondition, "no manifest for " + want + " (there are: " +
                                                        (listed.empty() ? "none" : listed) + ")");
    }
    if (pick.size > options_.max_manifest_bytes) {
      return Error(StatusCode::kResourceExhausted, "the manifest for " + want + " is larger than " +
                                                       std::to_string(options_.max_manifest_bytes) +
                                                       " bytes");
    }
    out.index = top.first;
    out.index_bytes = std::move(top.second);
    ORCH_ASSIGN_OR_RETURN(top, FetchManifest(pick.digest));
    if (top.first.digest != pick.digest || top.first.size != pick.size) {
      return Error(StatusCode::kInternal,
                   "the manifest registry " + ref_.registry + " sent for " + pick.digest +
                       " does not match that digest and size (its bytes are " + top.first.digest +
                       ", " + std::to_string(top.first.size) + " bytes; the index says " +
                       std::to_string(pick.size) + ")");
    }
    if (top.first.media_type.empty()) top.first.media_type = pick.media_type;
    ORCH_RETURN_IF_ERROR(classify(top.first, top.second, &j));
    if (is_index(top.first)) {
      return Error(StatusCode::kFailedPrecondition,
                   "the index's entry for " + want + " is another index (not supported)");
    }
  }

  out.descriptor = top.first;
  out.bytes = std::move(top.second);
  if (!j.contains("config") || !ParseDescriptor(j["config"], &out.config)) {
    return Error(StatusCode::kFailedPrecondition,
                 "the manifest " + out.descriptor.digest + " has no valid config descriptor");
  }
  if (!j.contains("layers") || !j["layers"].is_array()) {
    return Error(StatusCode::kFailedPrecondition,
                 "the manifest " + out.descriptor.digest + " has no layers list");
  }
  for (const auto& l : j["layers"]) {
    Descriptor d;
    if (!ParseDescriptor(l, &d)) {
      return Error(StatusCode::kFailedPrecondition, "the manifest " + out.descriptor.digest +
                                                        " has a bad descriptor for layer " +
                                                        std::to_string(out.layers.size()));
    }
    out.layers.push_back(std::move(d));
  }
  return out;
}

Status RegistryClient::FetchBlob(const Descriptor& d,
                                 const std::function<Status(std::string_view)>& sink) {
  if (!ValidDigest(d.digest)) {
    return Error(StatusCode::kInvalidArgument,
                 "blob digest \"" + d.digest.substr(0, 100) + "\" is not sha256:<64 hex>");
  }
  if (d.size < 0)
    return Error(StatusCode::kInvalidArgument, "blob " + d.digest + ": negative size");
  const std::string what = "blob " + d.digest;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1) {
    return Error(StatusCode::kInternal, "cannot start a sha256");
  }
  int64_t got = 0;
  Sink check = [&](std::string_view piece) -> Status {
    got += static_cast<int64_t>(piece.size());
    if (got > d.size) {
      return Error(StatusCode::kInternal, what + " from registry " + ref_.registry +
                                              " is longer than the " + std::to_string(d.size) +
                                              " bytes its descriptor says");
    }
    EVP_DigestUpdate(md.get(), piece.data(), piece.size());
    return sink(piece);
  };
  ORCH_ASSIGN_OR_RETURN(Response r, Get(BaseUrl() + "/blobs/" + d.digest, {}, 0, &check, what));
  if (r.status < 200 || r.status >= 300) return HttpError(r, what);
  if (got != d.size) {
    return Error(StatusCode::kInternal, what + " from registry " + ref_.registry + " has " +
                                            std::to_string(got) + " bytes, its descriptor says " +
                                            std::to_string(d.size));
  }
  unsigned char sum[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_DigestFinal_ex(md.get(), sum, &n);
  std::string actual = "sha256:" + Hex(sum, n);
  if (actual != d.digest) {
    return Error(StatusCode::kInternal, what + " from registry " + ref_.registry +
                                            " does not match its digest (its bytes are " + actual +
                                            ")");
  }
  return Status::Ok();
}

Result<std::string> RegistryClient::FetchBlobBytes(const Descriptor& d) {
  if (d.size > options_.max_manifest_bytes) {
    return Error(StatusCode::kResourceExhausted,
                 "blob " + d.digest + " has " + std::to_string(d.size) + " bytes, more than " +
                     std::to_string(options_.max_manifest_bytes) + " allowed");
  }
  std::string out;
  out.reserve(static_cast<std::size_t>(std::max<int64_t>(d.size, 0)));
  ORCH_RETURN_IF_ERROR(FetchBlob(d, [&](std::string_view piece) {
    out.append(piece);
    return Status::Ok();
  }));
  return out;
}

}  // namespace orch::agent::oci
