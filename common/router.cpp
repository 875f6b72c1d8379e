#include "common/router.h"

#include <exception>

namespace orch {

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j;
  }
  return parts;
}

void Router::Add(std::string method, std::string pattern, RouteHandler handler, Waits waits) {
  std::string key = method + " " + pattern;
  routes_.push_back(
      Route{std::move(method), SplitPath(pattern), std::move(handler), std::move(key), waits});
}

bool Router::NeverWaits(const HttpRequest& req) const {
  PathParams params;
  std::string allow;
  const Route* r = Best(req, &params, &allow);
  return r != nullptr && r->waits == Waits::kNever;
}

bool Router::Match(const Route& route, const std::vector<std::string>& parts, PathParams* params) {
  if (route.segments.size() != parts.size()) return false;
  params->clear();
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const std::string& seg = route.segments[i];
    if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
      (*params)[seg.substr(1, seg.size() - 2)] = parts[i];
    } else if (seg != parts[i]) {
      return false;
    }
  }
  return true;
}

namespace {

// The path's segments, each percent-decoded on its own, so that an id with
// an encoded '/' ("cron%2Fperiodic-1700000000") stays one segment.
std::vector<std::string> Segments(const HttpRequest& req) {
  if (req.target.empty()) return SplitPath(req.path);
  std::string raw = req.target.substr(0, req.target.find('?'));
  std::vector<std::string> parts = SplitPath(raw);
  std::map<std::string, std::string> unused;
  for (auto& p : parts) {
    if (p.find('%') == std::string::npos) continue;
    std::string decoded;
    if (!ParseTarget("/" + p, &decoded, &unused).ok()) return SplitPath(req.path);
    p = decoded.substr(1);
  }
  return parts;
}

}  // namespace

const Router::Route* Router::Best(const HttpRequest& req, PathParams* params,
                                  std::string* allow_out) const {
  std::vector<std::string> parts = Segments(req);
  std::string& allow = *allow_out;
  // Literal segments win over parameters ("/v1/jobs/plan" before "/v1/jobs/{id}"),
  // so try routes without parameters at a position first by scanning twice.
  const Route* best = nullptr;
  int best_literals = -1;
  for (const Route& r : routes_) {
    PathParams p;
    if (!Match(r, parts, &p)) continue;
    if (r.method != req.method && !(req.method == "HEAD" && r.method == "GET")) {
      if (allow.find(r.method) == std::string::npos) allow += (allow.empty() ? "" : ", ") + r.method;
      continue;
    }
    int literals = 0;
    for (const auto& s : r.segments) literals += (s.empty() || s.front() != '{') ? 1 : 0;
    if (literals > best_literals) {
      best = &r;
      best_literals = literals;
      *params = std::move(p);
    }
  }
  return best;
}

std::optional<Router::RouteMatch> Router::Find(const HttpRequest& req) const {
  RouteMatch m;
  std::string allow;
  const Route* r = Best(req, &m.params, &allow);
  if (r == nullptr) return std::nullopt;
  m.key = &r->key;
  return m;
}

std::vector<std::string> Router::Keys() const {
  std::vector<std::string> out;
  for (const auto& r : routes_) out.push_back(r.key);
  return out;
}

HttpResponse Router::Handle(const HttpRequest& req) const {
  std::string allow;
  PathParams params;
  const Route* best = Best(req, &params, &allow);
  if (best == nullptr) {
    if (!allow.empty()) {
      HttpResponse resp = HttpResponse::Error(
          405, Status::FailedPrecondition("method " + req.method + " not allowed on " + req.path +
                                          " (allowed: " + allow + ")"));
      resp.headers.emplace_back("Allow", allow);
      return resp;
    }
    return HttpResponse::Error(404, Status::NotFound("no such endpoint: " + req.method + " " + req.path));
  }
  try {
    return best->handler(req, params);
  } catch (const std::exception& e) {
    // A handler bug must not take the process down with it.
    return HttpResponse::Error(Status::Internal(std::string("handler failed: ") + e.what()));
  }
}

}  // namespace orch
