#include "master/http/acl_api.h"

#include <spdlog/spdlog.h>

#include "common/document.h"
#include "common/ids.h"
#include "common/json.h"
#include "master/acl/policy.h"
#include "master/model/secrets.h"

namespace orch::master {

namespace {

Status AclOn(const ApiDeps& d) {
  if (d.acl != nullptr && d.acl->enabled()) return Status::Ok();
  return Status::FailedPrecondition("ACLs are off on this master (start every master with --acl)");
}

// Answers with `then`'s response once `c` applies (no worker held meanwhile).
HttpResponse ProposeAcl(const ApiDeps& d, v1::AclCommand c,
                        std::function<HttpResponse(const Result<uint64_t>&)> then) {
  v1::Command cmd;
  *cmd.mutable_acl() = std::move(c);
  return ProposeThen(d, std::move(cmd), std::move(then));
}

// A new token of `type` with a fresh secret; the answer carries the secret.
HttpResponse MakeToken(const ApiDeps& d, const HttpRequest& req, v1::AclToken t, bool bootstrap) {
  const std::string secret = NewSecret();
  t.set_accessor_id(NewUuid());
  t.set_secret_hash(SecretHash(secret));
  t.set_create_time_ms(d.clock->NowMs());
  v1::AclCommand c;
  *(bootstrap ? c.mutable_bootstrap() : c.mutable_upsert_token()) = t;
  return ProposeAcl(d, c, [t, secret, remote = req.remote](const Result<uint64_t>& index) mutable {
    if (!index.ok()) return HttpResponse::Error(index.status());
    spdlog::info("acl: {} token {} ({}) made from {} (index {})", t.type(), t.accessor_id(),
                 t.name(), remote, *index);
    t.clear_secret_hash();
    t.set_secret_id(secret);
    t.set_create_index(*index);
    return HttpResponse::Json(200, RedactedJson(t));
  });
}

HttpResponse Bootstrap(const HttpRequest& req, const ApiDeps& d) {
  if (Status st = AclOn(d); !st.ok()) return HttpResponse::Error(st);
  if (d.store->Acl()->bootstrap_index != 0) {
    return HttpResponse::Error(Status::FailedPrecondition(
        "ACLs were already bootstrapped; ask a management token's holder"));
  }
  v1::AclToken t;
  t.set_name("Bootstrap Token");
  t.set_type("management");
  return MakeToken(d, req, t, true);  // the state machine refuses a second one
}

HttpResponse CreateToken(const HttpRequest& req, const ApiDeps& d) {
  v1::AclTokenCreateRequest body;
  Status st = ParseDocument(req.body, &body);
  v1::AclToken t;
  t.set_name(body.name());
  t.set_type(body.type().empty() ? "client" : body.type());
  *t.mutable_policies() = body.policies();
  if (st.ok()) st = acl::ValidateTokenFields(t);
  if (st.ok() && t.type() == "client" && t.policies_size() == 0) {
    st = Status::InvalidArgument("policies: a client token needs at least one policy");
  }
  if (st.ok()) {
    auto tables = d.store->Acl();
    for (const auto& p : t.policies()) {
      if (!tables->policies.count(p)) {
        st = Status::InvalidArgument("policies: no policy named \"" + p + "\" (apply it first)");
        break;
      }
    }
  }
  if (!st.ok()) return HttpResponse::Error(st);
  return MakeToken(d, req, t, false);
}

HttpResponse WriteAnswer(const Result<uint64_t>& index) {
  if (!index.ok()) return HttpResponse::Error(index.status());
  v1::AclWriteResponse resp;
  resp.set_index(*index);
  return HttpResponse::Json(200, RedactedJson(resp));
}

// Deletes what `c` names (`what`, for the log).
HttpResponse ProposeDeletion(const ApiDeps& d, const HttpRequest& req, const v1::AclCommand& c,
                             const std::string& what) {
  return ProposeAcl(d, c, [what, remote = req.remote](const Result<uint64_t>& index) {
    if (index.ok()) spdlog::info("acl: {} deleted from {} (index {})", what, remote, *index);
    return WriteAnswer(index);
  });
}

HttpResponse ApplyPolicy(const HttpRequest& req, const PathParams& p, const ApiDeps& d) {
  v1::AclPolicy policy;
  Status st = ParseDocument(req.body, &policy);
  const std::string& name = p.at("name");
  if (st.ok() && !policy.name().empty() && policy.name() != name) {
    st = Status::InvalidArgument("name: \"" + policy.name() + "\" in the body, \"" + name +
                                 "\" in the path");
  }
  policy.set_name(name);
  policy.clear_create_index();
  policy.clear_modify_index();
  if (st.ok()) st = acl::ValidatePolicy(policy);
  if (!st.ok()) return HttpResponse::Error(st);
  v1::AclCommand c;
  *c.mutable_upsert_policy() = policy;
  return ProposeAcl(d, c, [name, remote = req.remote](const Result<uint64_t>& index) {
    if (index.ok()) spdlog::info("acl: policy {} applied from {} (index {})", name, remote, *index);
    return WriteAnswer(index);
  });
}

}  // namespace

void RegisterAclRoutes(Router* r, const ApiDeps& d) {
  // Every route but bootstrap is refused by the route rules when ACLs are
  // on and the caller lacks the grant; these answer when ACLs are off.
  auto on = [d](auto handler) {
    return [d, handler](const HttpRequest& req, const PathParams& p) {
      if (Status st = AclOn(d); !st.ok()) return HttpResponse::Error(st);
      return handler(req, p);
    };
  };
  r->Add("POST", "/v1/acl/bootstrap",
         [d](const HttpRequest& req, const PathParams&) { return Bootstrap(req, d); });
  r->Add("GET", "/v1/acl/token/self", on([d](const HttpRequest& req, const PathParams&) {
           return ReadJson(req, d, [&]() -> Result<std::string> {
             ORCH_ASSIGN_OR_RETURN(acl::Caller c, d.acl->Identify(req));
             if (c.token == nullptr) return Status::PermissionDenied("no ACL token presented");
             v1::AclToken t = *c.token;
             t.clear_secret_hash();
             return RedactedJson(t);
           });
         }));
  r->Add("GET", "/v1/acl/tokens", on([d](const HttpRequest& req, const PathParams&) {
           return ReadJson(req, d, [&]() -> Result<std::string> {
             v1::AclTokenList out;
             for (auto& t : d.store->ListAclTokens()) *out.add_tokens() = std::move(t);
             return RedactedJson(out);
           });
         }));
  r->Add("POST", "/v1/acl/tokens",
         on([d](const HttpRequest& req, const PathParams&) { return CreateToken(req, d); }));
  r->Add("GET", "/v1/acl/tokens/{id}", on([d](const HttpRequest& req, const PathParams& p) {
           return ReadJson(req, d, [&]() -> Result<std::string> {
             ORCH_ASSIGN_OR_RETURN(v1::AclToken t, d.store->GetAclToken(p.at("id")));
             return RedactedJson(t);
           });
         }));
  r->Add("DELETE", "/v1/acl/tokens/{id}", on([d](const HttpRequest& req, const PathParams& p) {
           v1::AclCommand c;
           c.set_delete_token(p.at("id"));
           return ProposeDeletion(d, req, c, "token " + p.at("id"));
         }));
  r->Add("GET", "/v1/acl/policies", on([d](const HttpRequest& req, const PathParams&) {
           return ReadJson(req, d, [&]() -> Result<std::string> {
             v1::AclPolicyList out;
             for (auto& p : d.store->ListAclPolicies()) *out.add_policies() = std::move(p);
             return RedactedJson(out);
           });
         }));
  r->Add("GET", "/v1/acl/policies/{name}", on([d](const HttpRequest& req, const PathParams& p) {
           return ReadJson(req, d, [&]() -> Result<std::string> {
             auto tables = d.store->Acl();
             auto it = tables->policies.find(p.at("name"));
             if (it == tables->policies.end())
               return Status::NotFound("ACL policy \"" + p.at("name") + "\" not found");
             return RedactedJson(it->second);
           });
         }));
  r->Add("PUT", "/v1/acl/policies/{name}",
         on([d](const HttpRequest& req, const PathParams& p) { return ApplyPolicy(req, p, d); }));
  r->Add("DELETE", "/v1/acl/policies/{name}", on([d](const HttpRequest& req, const PathParams& p) {
           v1::AclCommand c;
           c.set_delete_policy(p.at("name"));
           return ProposeDeletion(d, req, c, "policy " + p.at("name"));
         }));
}

}  // namespace orch::master
