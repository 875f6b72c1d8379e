#include "api/orchctl/acl_cmds.h"

#include <sstream>

#include "api/orchctl/output.h"
#include "api/orchctl/table.h"
#include "common/document.h"
#include "common/json.h"
#include "common/net.h"
#include "orch/v1/acl.pb.h"

namespace orch::ctl {
namespace {

template <typename T>
Result<T> Call(const Context& ctx, const std::string& method, const std::string& path,
               const std::string& body = "") {
  ORCH_ASSIGN_OR_RETURN(HttpResponse resp, ctx.client->Raw(method, path, body));
  T out;
  ORCH_RETURN_IF_ERROR(FromJson(resp.body, &out));
  return out;
}

std::string Join(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

std::string DescribeToken(const v1::AclToken& t) {
  std::ostringstream o;
  o << "Accessor ID  " << t.accessor_id() << "\n";
  if (!t.secret_id().empty()) o << "Secret ID    " << t.secret_id() << "\n";
  o << "Name         " << (t.name().empty() ? "-" : t.name()) << "\n";
  o << "Type         " << t.type() << "\n";
  o << "Policies     " << Join(t.policies()) << "\n";
  if (!t.secret_id().empty())
    o << "\nThe secret is shown only now: keep it (ORCH_TOKEN or --token).\n";
  return o.str();
}

std::string DescribeRules(const v1::AclPolicy& p) {
  std::ostringstream o;
  o << "policy " << p.name() << (p.description().empty() ? "" : ": " + p.description()) << "\n";
  Table t({"RESOURCE", "ACCESS", "PREFIX"});
  for (const auto& r : p.rules()) {
    t.AddRow({r.resource(), r.access(),
              r.resource() == "job" ? (r.prefix().empty() ? "(every job)" : r.prefix()) : "-"});
  }
  o << t.Render();
  return o.str();
}

}  // namespace

Status AclBootstrap(const Context& ctx) {
  ORCH_ASSIGN_OR_RETURN(auto t, Call<v1::AclToken>(ctx, "POST", "/v1/acl/bootstrap", "{}"));
  return PrintMessage(*ctx.out, ctx.format, t, [&] { return DescribeToken(t); });
}

Status AclTokenCreate(const Context& ctx, const std::string& name, const std::string& type,
                      const std::vector<std::string>& policies) {
  v1::AclTokenCreateRequest req;
  req.set_name(name);
  req.set_type(type);
  for (const auto& p : policies) req.add_policies(p);
  ORCH_ASSIGN_OR_RETURN(auto t, Call<v1::AclToken>(ctx, "POST", "/v1/acl/tokens", ToJson(req)));
  return PrintMessage(*ctx.out, ctx.format, t, [&] { return DescribeToken(t); });
}

Status AclTokenList(const Context& ctx) {
  ORCH_ASSIGN_OR_RETURN(auto list, Call<v1::AclTokenList>(ctx, "GET", "/v1/acl/tokens"));
  return PrintMessage(*ctx.out, ctx.format, list, [&] {
    Table t({"ACCESSOR ID", "NAME", "TYPE", "POLICIES"});
    for (const auto& tok : list.tokens()) {
      t.AddRow({tok.accessor_id(), tok.name().empty() ? "-" : tok.name(), tok.type(),
                Join(tok.policies())});
    }
    return t.Render();
  });
}

Status AclTokenSelf(const Context& ctx) {
  ORCH_ASSIGN_OR_RETURN(auto t, Call<v1::AclToken>(ctx, "GET", "/v1/acl/token/self"));
  return PrintMessage(*ctx.out, ctx.format, t, [&] { return DescribeToken(t); });
}

Status AclTokenDelete(const Context& ctx, const std::string& accessor_id) {
  ORCH_ASSIGN_OR_RETURN(auto r, Call<v1::AclWriteResponse>(
                                    ctx, "DELETE", "/v1/acl/tokens/" + UrlEncode(accessor_id)));
  return PrintMessage(*ctx.out, ctx.format, r,
                      [&] { return "token " + accessor_id + " deleted\n"; });
}

Status AclPolicyApply(const Context& ctx, const std::string& name, const std::string& document,
                      const std::string& description) {
  v1::AclPolicy p;
  ORCH_RETURN_IF_ERROR(ParseDocument(document, &p).WithContext("policy file"));
  if (!description.empty()) p.set_description(description);
  if (p.name().empty()) p.set_name(name);
  ORCH_ASSIGN_OR_RETURN(auto r, Call<v1::AclWriteResponse>(
                                    ctx, "PUT", "/v1/acl/policies/" + UrlEncode(name), ToJson(p)));
  return PrintMessage(*ctx.out, ctx.format, r, [&] {
    return "policy " + name + " applied (" + std::to_string(p.rules_size()) + " rule(s))\n";
  });
}

Status AclPolicyList(const Context& ctx) {
  ORCH_ASSIGN_OR_RETURN(auto list, Call<v1::AclPolicyList>(ctx, "GET", "/v1/acl/policies"));
  return PrintMessage(*ctx.out, ctx.format, list, [&] {
    Table t({"NAME", "RULES", "DESCRIPTION"});
    for (const auto& p : list.policies()) {
      t.AddRow({p.name(), std::to_string(p.rules_size()),
                p.description().empty() ? "-" : p.description()});
    }
    return t.Render();
  });
}

Status AclPolicyInfo(const Context& ctx, const std::string& name) {
  ORCH_ASSIGN_OR_RETURN(auto p,
                        Call<v1::AclPolicy>(ctx, "GET", "/v1/acl/policies/" + UrlEncode(name)));
  return PrintMessage(*ctx.out, ctx.format, p, [&] { return DescribeRules(p); });
}

Status AclPolicyDelete(const Context& ctx, const std::string& name) {
  ORCH_ASSIGN_OR_RETURN(
      auto r, Call<v1::AclWriteResponse>(ctx, "DELETE", "/v1/acl/policies/" + UrlEncode(name)));
  return PrintMessage(*ctx.out, ctx.format, r, [&] { return "policy " + name + " deleted\n"; });
}

}  // namespace orch::ctl
