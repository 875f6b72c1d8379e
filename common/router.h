// Router: a pure function from request to response. Routes are a method and
// a path pattern whose `{name}` segments capture path parameters. An unknown
// path answers 404, a known path with another method 405 (with Allow).
// Thread safety: Add() before serving; Handle() is const and thread-safe.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/http_types.h"

namespace orch {

using PathParams = std::map<std::string, std::string>;
using RouteHandler = std::function<HttpResponse(const HttpRequest&, const PathParams&)>;

class Router {
 public:
  // Whether a route's handler may block its thread: kMay (a write until it
  // commits, a read barrier, a call to another server), or kNever (it
  // answers at once or through HttpResponse::later, reading only local
  // state): a server may run those on a small pool of their own.
  enum class Waits { kMay, kNever };
  void Add(std::string method, std::string pattern, RouteHandler handler,
           Waits waits = Waits::kMay);
  HttpResponse Handle(const HttpRequest& req) const;
  // Whether `req` goes to a route added with Waits::kNever (false for a 404
  // or 405).
  bool NeverWaits(const HttpRequest& req) const;

  // The route `req` goes to, named by its key ("GET /v1/jobs/{id}", as
  // added), with its path parameters; nullopt for a 404 or 405.
  struct RouteMatch {
    const std::string* key;
    PathParams params;
  };
  std::optional<RouteMatch> Find(const HttpRequest& req) const;
  // Every route's key, in the order added.
  std::vector<std::string> Keys() const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{id}" marks a parameter
    RouteHandler handler;
    std::string key;  // "METHOD pattern"
    Waits waits = Waits::kMay;
  };
  static bool Match(const Route& route, const std::vector<std::string>& parts, PathParams* params);
  // The best route for `req` (literal segments win); `allow` collects the
  // methods of routes matching the path only.
  const Route* Best(const HttpRequest& req, PathParams* params, std::string* allow) const;
  std::vector<Route> routes_;
};

// Splits "/v1/jobs/x" into {"v1","jobs","x"}; a trailing slash is ignored.
std::vector<std::string> SplitPath(const std::string& path);

}  // namespace orch
