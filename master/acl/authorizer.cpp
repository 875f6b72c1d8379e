#include "master/acl/authorizer.h"

#include <spdlog/spdlog.h>
#include <strings.h>

#include "common/ids.h"
#include "master/acl/route_rules.h"

namespace orch::master::acl {

Access Caller::On(Resource r, std::string_view job_id) const {
  // A periodic or dispatched child ("<parent>/...") is governed by its
  // parent's grants.
  return management ? Access::kWrite : Granted(policies, r, job_id.substr(0, job_id.find('/')));
}
Access Caller::OnAllJobs() const {
  return management ? Access::kWrite : GrantedOnAllJobs(policies);
}
Access Caller::OnSomeJob() const {
  return management ? Access::kWrite : GrantedOnSomeJob(policies);
}
std::string Caller::Who() const { return token ? "token " + token->accessor_id() : "anonymous"; }

std::string PresentedSecret(const HttpRequest& req) {
  std::string t = req.Header("x-orch-token");
  if (!t.empty()) return t;
  std::string auth = req.Header("authorization");
  if (auth.size() > 7 && strncasecmp(auth.c_str(), "Bearer ", 7) == 0) return auth.substr(7);
  return "";
}

namespace {

Status DeniedStatus(const Caller& c, const std::string& what) {
  std::string why = "permission denied: " + what + " (" +
                    (c.token ? "token " + c.token->accessor_id() + " has no such grant"
                             : std::string("no ACL token presented; send one in X-Orch-Token")) +
                    ")";
  return Status::PermissionDenied(why);
}

HttpResponse Denied(const Caller& c, const std::string& what) {
  return HttpResponse::Error(DeniedStatus(c, what));
}

std::string Need(Access a, Resource r, const std::string& on = "") {
  return "this request needs " + std::string(ResourceName(r)) + " " + std::string(AccessName(a)) +
         (on.empty() ? "" : " on " + on);
}

}  // namespace

Result<Caller> Authorizer::Identify(const HttpRequest& req) const {
  Caller c;
  c.tables = store_->Acl();
  const std::string secret = PresentedSecret(req);
  if (secret.empty()) {
    auto anon = c.tables->policies.find("anonymous");
    if (anon != c.tables->policies.end()) c.policies.push_back(&anon->second);
    return c;
  }
  auto it = c.tables->tokens_by_secret_hash.find(SecretHash(secret));
  // The map compares the whole hash; the secret itself is never compared.
  if (it == c.tables->tokens_by_secret_hash.end())
    return Status::PermissionDenied("ACL token not found");
  c.token = &it->second;
  c.management = c.token->type() == "management";
  for (const auto& name : c.token->policies()) {
    auto p = c.tables->policies.find(name);
    if (p != c.tables->policies.end()) c.policies.push_back(&p->second);
  }
  return c;
}

std::optional<HttpResponse> Authorizer::CheckRoute(const HttpRequest& req) const {
  if (!enabled_) return std::nullopt;
  auto route = router_->Find(req);
  if (!route) return std::nullopt;
  auto rule = RuleFor(*route->key);
  if (!rule) {
    spdlog::error("acl: route {} has no rule; refused", *route->key);
    return HttpResponse::Error(
        Status::PermissionDenied("permission denied: no ACL rule for " + *route->key));
  }
  if (rule->kind == RouteRule::Kind::kOpen) return std::nullopt;
  auto caller = Identify(req);
  if (!caller.ok()) return HttpResponse::Error(caller.status());
  const Caller& c = *caller;
  switch (rule->kind) {
    case RouteRule::Kind::kOpen:
      return std::nullopt;
    case RouteRule::Kind::kAnyToken:
      if (c.token) return std::nullopt;
      return Denied(c, "this request needs a token");
    case RouteRule::Kind::kServices:
      if (c.OnAllJobs() >= Access::kRead || c.On(Resource::kNode) >= Access::kRead)
        return std::nullopt;
      return Denied(c, "this request needs job read on every job, or node read");
    case RouteRule::Kind::kNeeds:
      break;
  }
  if (rule->resource != Resource::kJob) {
    if (c.On(rule->resource) < rule->access) return Denied(c, Need(rule->access, rule->resource));
    if (rule->node_secret && !c.management) {
      auto id = route->params.find("id");
      const std::string want =
          id == route->params.end() ? "" : store_->NodeSecretHashBrief(id->second);
      const std::string presented = req.Header("x-orch-node-secret");
      // A node registered without a secret (before they existed) is not
      // checked; registering binds one (CheckNodeOwner).
      if (!want.empty() && (presented.empty() || !SameSecretHash(want, SecretHash(presented)))) {
        return HttpResponse::Error(Status::PermissionDenied(
            "permission denied: node " +
            (id == route->params.end() ? std::string("?") : id->second) +
            " speaks only for itself: " +
            (presented.empty() ? "no node secret presented (X-Orch-Node-Secret)"
                               : "wrong node secret")));
      }
    }
    return std::nullopt;
  }
  // A job rule: find the job.
  auto job_param = [&]() -> std::optional<std::string> {
    auto it = route->params.find("id");
    if (it == route->params.end()) return std::nullopt;
    return it->second;
  };
  std::optional<std::string> job;  // nullopt: every job
  switch (rule->job) {
    case JobFrom::kPath:
      job = job_param();
      break;
    case JobFrom::kAllocation:
      if (auto id = job_param()) {
        if (auto a = store_->GetAllocation(*id); a.ok()) job = a->job_id();
      }
      break;
    case JobFrom::kDeployment:
      if (auto id = job_param()) {
        if (auto dep = store_->GetDeployment(*id); dep.ok()) job = dep->job_id();
      }
      break;
    case JobFrom::kEvaluation:
      if (auto id = job_param()) {
        if (auto e = store_->GetEvaluation(*id); e.ok()) job = e->job_id();
      }
      break;
    case JobFrom::kQuery:
      if (std::string q = req.Query("job"); !q.empty()) job = q;
      break;
    case JobFrom::kBody:
    case JobFrom::kFiltered:
      if (c.OnSomeJob() >= rule->access) return std::nullopt;  // the handler narrows it
      return Denied(c, Need(rule->access, Resource::kJob, "some job"));
    case JobFrom::kNone:
      break;
  }
  if (job) {
    if (c.On(Resource::kJob, *job) >= rule->access) return std::nullopt;
    return Denied(c, Need(rule->access, Resource::kJob, "job \"" + *job + "\""));
  }
  if (c.OnAllJobs() >= rule->access) return std::nullopt;
  return Denied(c, Need(rule->access, Resource::kJob, "every job"));
}

Status Authorizer::CheckJob(const HttpRequest& req, Access access,
                            const std::string& job_id) const {
  if (!enabled_) return Status::Ok();
  ORCH_ASSIGN_OR_RETURN(Caller c, Identify(req));
  if (c.On(Resource::kJob, job_id) >= access) return Status::Ok();
  return DeniedStatus(c, Need(access, Resource::kJob, "job \"" + job_id + "\""));
}

std::function<bool(const std::string&)> Authorizer::JobReadFilter(const HttpRequest& req) const {
  if (!enabled_) return [](const std::string&) { return true; };
  auto c = Identify(req);
  if (!c.ok()) return [](const std::string&) { return false; };
  return [c = std::move(*c)](const std::string& job_id) {
    return c.On(Resource::kJob, job_id) >= Access::kRead;
  };
}

bool Authorizer::CanReadNodes(const HttpRequest& req) const {
  if (!enabled_) return true;
  auto c = Identify(req);
  return c.ok() && c->On(Resource::kNode) >= Access::kRead;
}

}  // namespace orch::master::acl
