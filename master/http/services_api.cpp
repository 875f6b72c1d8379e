#include "master/http/services_api.h"

#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "common/document.h"
#include "common/index_waiters.h"
#include "common/json.h"
#include "master/model/secrets.h"
#include "master/services/registry.h"

namespace orch::master {
namespace {

// The services as of the services key (StateStore::ServicesWatchKey):
// built once per change of what the registry is built from -- by one
// request, while the others wait for it -- however many balancers ask
// (every agent's does) and however fast the rest of the state moves. Built
// per state index before, 5,000 agents' first queries during their
// registration each rebuilt it from whole tables at once, and the leader
// ran out of memory and time.
//
// With it, what the list route answers: its content's hash and its JSON
// body, rendered once per view (on first use, by one request) rather than
// once per waiting balancer when a change wakes them all.
struct Current {
  std::shared_ptr<const ServiceView> view;
  struct List {
    std::string hash;  // of what a balancer acts on (ListContent)
    Result<std::string> body = std::string();
  };
  std::shared_ptr<const List> list;
};

// What a balancer acts on: everything but the indexes.
std::string Content(const v1::ServiceInfo* s) {
  if (s == nullptr) return "-";
  v1::ServiceInfo copy = *s;
  copy.clear_modify_index();
  return copy.SerializeAsString();
}

std::string HashOf(const std::string& content) {
  return std::to_string(std::hash<std::string>{}(content));
}

std::shared_ptr<const Current::List> RenderList(const ServiceView& v) {
  auto out = std::make_shared<Current::List>();
  std::string content;
  v1::ServiceList list;
  for (const auto& s : v.services) {
    content += Content(&s) + "\n";
    *list.add_services() = s;
  }
  out->hash = HashOf(content);
  out->body = RedactedJson(list);
  return out;
}

Current CurrentOf(const ApiDeps& d) {
  static std::mutex mu;  // held while building: one build at a time
  static std::map<const StateStore*, std::pair<uint64_t, Current>> cache;
  std::lock_guard lock(mu);
  const uint64_t at = d.store->ServicesIndex();  // before the reads it stands for
  auto it = cache.find(d.store);
  if (it != cache.end() && it->second.first == at) return it->second.second;
  auto sources = d.store->ReadForServices();
  Current c;
  c.view = std::make_shared<const ServiceView>(
      BuildServices(sources.jobs, sources.allocations, sources.nodes));
  c.list = RenderList(*c.view);
  cache[d.store] = {at, c};
  return c;
}

// Answers `render(current)` at once when the view's index is past the
// query's (the client is behind); else once the hash of the view's content
// (`hash_of(current)`) differs from what it was when the query came, or the
// wait ends. Content, not index: allocations' routine reports (usage) raise
// indexes without changing any endpoint, and must not wake every agent's
// balancer. Waiting holds no thread: the answer is deferred to the state's
// index waiters, with a hash of the first content to compare against.
template <typename IndexOf, typename HashOfContent, typename Render>
HttpResponse BlockingRead(const HttpRequest& req, const ApiDeps& d, IndexOf index_of,
                          HashOfContent hash_of, Render render) {
  auto q = ParseReadOptions(req, d);
  if (!q.ok()) return HttpResponse::Error(q.status());
  if (!q->stale && !req.resumed) {
    Status st = d.log->ReadBarrier(std::chrono::seconds(5));
    if (!st.ok()) return HttpResponse::Error(st);
  }
  const auto now = std::chrono::steady_clock::now();
  const auto deadline = req.resumed ? req.resume_deadline : now + q->wait;
  // Read before the view: a change after it wakes the wait (at worst for
  // nothing, when the view already had it).
  const uint64_t services_at = d.store->ServicesIndex();
  const Current current = CurrentOf(d);
  const uint64_t index = index_of(*current.view);
  const std::string hash = hash_of(current);
  const bool changed = req.resumed ? hash != req.resume_state : index > q->index;
  IndexWaiters* waiters = d.store->index_waiters();
  if (q->wait.count() == 0 || changed || now >= deadline || waiters->closed()) {
    Result<std::string> body = render(current);
    if (!body.ok()) return HttpResponse::Error(body.status());
    HttpResponse resp = HttpResponse::Json(200, std::move(*body));
    AddReadHeaders(&resp, d, index);
    return resp;
  }
  // Woken only by a change of what the registry is built from, not by
  // every change of the state (placements of other jobs, reports).
  HttpResponse later;
  later.defer =
      HttpResponse::Deferral{waiters, services_at, deadline, req.resumed ? req.resume_state : hash,
                             StateStore::ServicesWatchKey()};
  return later;
}

const v1::ServiceInfo* Find(const ServiceView& v, const std::string& name) {
  for (const auto& s : v.services) {
    if (s.name() == name) return &s;
  }
  return nullptr;
}

}  // namespace

void RegisterServiceRoutes(Router* r, const ApiDeps& d) {
  r->Add("GET", "/v1/services", [d](const HttpRequest& req, const PathParams&) {
    return BlockingRead(
        req, d, [](const ServiceView& v) { return v.index; },
        [](const Current& c) { return c.list->hash; },
        [](const Current& c) { return c.list->body; });
  });
  r->Add("GET", "/v1/services/{name}", [d](const HttpRequest& req, const PathParams& p) {
    const std::string name = p.at("name");
    return BlockingRead(
        req, d,
        [name](const ServiceView& v) {
          const auto* s = Find(v, name);
          return s ? s->modify_index() : v.index;
        },
        [name](const Current& c) { return HashOf(Content(Find(*c.view, name))); },
        [name](const Current& c) -> Result<std::string> {
          const auto* s = Find(*c.view, name);
          if (s == nullptr) return Status::NotFound("service \"" + name + "\" not found");
          return RedactedJson(*s);
        });
  });
}

}  // namespace orch::master
