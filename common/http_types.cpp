#include "common/http_types.h"

#include <strings.h>

#include <cctype>
#include <functional>

#include "common/json.h"

namespace orch {

std::string HttpRequest::Query(const std::string& name, const std::string& fallback) const {
  auto it = query.find(name);
  return it == query.end() ? fallback : it->second;
}

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return "";
}

HttpResponse HttpResponse::Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::Error(const Status& status) {
  return Error(HttpStatusFor(status.code()), status);
}

HttpResponse HttpResponse::Error(int http_status, const Status& status) {
  return Json(http_status, ErrorJson(status));
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kResourceExhausted: return 413;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Status Decode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return Status::InvalidArgument("bad percent-encoding in URL");
      int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return Status::InvalidArgument("bad percent-encoding in URL");
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return Status::Ok();
}

}  // namespace

namespace {

// Calls fn(key, value) for each decoded pair of the query string of
// `target` (after its '?'), in order; stops at the first bad encoding.
Status ForEachQueryPair(std::string_view target,
                        const std::function<void(std::string key, std::string value)>& fn) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return Status::Ok();
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key, value;
    ORCH_RETURN_IF_ERROR(Decode(pair.substr(0, eq), true, &key));
    if (eq != std::string_view::npos) ORCH_RETURN_IF_ERROR(Decode(pair.substr(eq + 1), true, &value));
    fn(std::move(key), std::move(value));
  }
  return Status::Ok();
}

}  // namespace

Status ParseTarget(std::string_view target, std::string* path,
                   std::map<std::string, std::string>* query) {
  query->clear();
  ORCH_RETURN_IF_ERROR(Decode(target.substr(0, target.find('?')), false, path));
  if (path->empty() || (*path)[0] != '/')
    return Status::InvalidArgument("URL path must start with /");
  return ForEachQueryPair(
      target, [&](std::string key, std::string value) { (*query)[key] = std::move(value); });
}

std::vector<std::string> HttpRequest::QueryAll(std::string_view name) const {
  std::vector<std::string> out;
  // The target parsed once already (ParseTarget): decoding cannot fail.
  (void)ForEachQueryPair(target, [&](std::string key, std::string value) {
    if (key == name) out.push_back(std::move(value));
  });
  return out;
}

std::string UrlEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace orch
