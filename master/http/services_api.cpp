#include "master/http/services_api.h"

#include <optional>

#include "common/document.h"
#include "common/json.h"
#include "master/services/registry.h"

namespace orch::master {
namespace {


ServiceView Current(const ApiDeps& d) {
  return BuildServices(d.store->ListJobs(), d.store->ListAllocations(), d.store->ListNodes());
}

// Answers `render(view)` at once when the view's index is past the
// query's (the client is behind); else once the view's content
// (`content(view)`) differs from what it is now, or the wait ends. Content,
// not index: allocations' routine reports (usage) raise indexes without
// changing any endpoint, and must not wake every agent's balancer.
template <typename IndexOf, typename Content, typename Render>
HttpResponse BlockingRead(const HttpRequest& req, const ApiDeps& d, IndexOf index_of, Content content,
                          Render render) {
  auto q = ParseReadOptions(req, d);
  if (!q.ok()) return HttpResponse::Error(q.status());
  if (!q->stale) {
    Status st = d.log->ReadBarrier(std::chrono::seconds(5));
    if (!st.ok()) return HttpResponse::Error(st);
  }
  auto deadline = std::chrono::steady_clock::now() + q->wait;
  std::optional<std::string> first;
  for (;;) {
    uint64_t applied = d.store->AppliedIndex();
    ServiceView view = Current(d);
    uint64_t index = index_of(view);
    std::string now_content = content(view);
    bool changed = false;
    if (!first) {
      first = now_content;
      changed = index > q->index;
    } else {
      changed = now_content != *first;
    }
    auto now = std::chrono::steady_clock::now();
    if (q->wait.count() == 0 || changed || now >= deadline) {
      Result<std::string> body = render(view);
      if (!body.ok()) return HttpResponse::Error(body.status());
      HttpResponse resp = HttpResponse::Json(200, std::move(*body));
      resp.headers.emplace_back("X-Orch-Index", std::to_string(index));
      return resp;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    uint64_t after = d.store->WaitForIndexAbove(applied, left);
    if (after <= applied && std::chrono::steady_clock::now() < deadline) {
      // Woken without progress: the store is closing.
      q->wait = std::chrono::milliseconds(0);
    }
  }
}

const v1::ServiceInfo* Find(const ServiceView& v, const std::string& name) {
  for (const auto& s : v.services) {
    if (s.name() == name) return &s;
  }
  return nullptr;
}

// What a balancer acts on: everything but the indexes.
std::string Content(const v1::ServiceInfo* s) {
  if (s == nullptr) return "-";
  v1::ServiceInfo copy = *s;
  copy.clear_modify_index();
  return copy.SerializeAsString();
}

}  // namespace

void RegisterServiceRoutes(Router* r, const ApiDeps& d) {
  r->Add("GET", "/v1/services", [d](const HttpRequest& req, const PathParams&) {
    return BlockingRead(
        req, d, [](const ServiceView& v) { return v.index; },
        [](const ServiceView& v) {
          std::string out;
          for (const auto& s : v.services) out += Content(&s) + "\n";
          return out;
        },
        [](const ServiceView& v) -> Result<std::string> {
          v1::ServiceList out;
          for (const auto& s : v.services) *out.add_services() = s;
          return ToJson(out);
        });
  });
  r->Add("GET", "/v1/services/{name}", [d](const HttpRequest& req, const PathParams& p) {
    const std::string name = p.at("name");
    return BlockingRead(
        req, d,
        [name](const ServiceView& v) {
          const auto* s = Find(v, name);
          return s ? s->modify_index() : v.index;
        },
        [name](const ServiceView& v) { return Content(Find(v, name)); },
        [name](const ServiceView& v) -> Result<std::string> {
          const auto* s = Find(v, name);
          if (s == nullptr) return Status::NotFound("service \"" + name + "\" not found");
          return ToJson(*s);
        });
  });
}

}  // namespace orch::master
