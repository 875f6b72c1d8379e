#include "master/acl/policy.h"

#include <algorithm>
#include <optional>

namespace orch::master::acl {

namespace {

std::optional<Resource> ParseResource(std::string_view s) {
  if (s == "job") return Resource::kJob;
  if (s == "node") return Resource::kNode;
  if (s == "operator") return Resource::kOperator;
  if (s == "acl") return Resource::kAcl;
  return std::nullopt;
}

// What one rule's access says: a grant, or a deny.
struct Verdict {
  bool deny = false;
  Access access = Access::kNone;
};

std::optional<Verdict> ParseAccess(std::string_view s) {
  if (s == "read") return Verdict{false, Access::kRead};
  if (s == "write") return Verdict{false, Access::kWrite};
  if (s == "deny") return Verdict{true, Access::kNone};
  return std::nullopt;
}

// The decision of the rules of `r` whose prefix is exactly `prefix`:
// nullopt when there are none.
struct Decision {
  bool any = false;
  bool deny = false;
  Access best = Access::kNone;
  Access Result() const { return deny ? Access::kNone : best; }
  void Add(const v1::AclRule& rule) {
    any = true;
    auto v = ParseAccess(rule.access());
    if (!v) return;  // validated on the way in; unknown grants nothing
    deny = deny || v->deny;
    best = std::max(best, v->access);
  }
};

template <typename F>
void ForEachRule(const std::vector<const v1::AclPolicy*>& policies, Resource r, F f) {
  for (const v1::AclPolicy* p : policies) {
    for (const auto& rule : p->rules()) {
      if (ParseResource(rule.resource()) == r) f(rule);
    }
  }
}

bool NameOk(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

}  // namespace

std::string_view ResourceName(Resource r) {
  switch (r) {
    case Resource::kJob:
      return "job";
    case Resource::kNode:
      return "node";
    case Resource::kOperator:
      return "operator";
    case Resource::kAcl:
      return "acl";
  }
  return "?";
}

std::string_view AccessName(Access a) {
  switch (a) {
    case Access::kNone:
      return "none";
    case Access::kRead:
      return "read";
    case Access::kWrite:
      return "write";
  }
  return "?";
}

Access Granted(const std::vector<const v1::AclPolicy*>& policies, Resource r,
               std::string_view job_id) {
  if (r != Resource::kJob) {
    Decision d;
    ForEachRule(policies, r, [&](const v1::AclRule& rule) { d.Add(rule); });
    return d.Result();
  }
  std::size_t longest = 0;
  Decision d;
  ForEachRule(policies, r, [&](const v1::AclRule& rule) {
    const std::string& prefix = rule.prefix();
    if (job_id.substr(0, prefix.size()) != prefix) return;
    if (!d.any || prefix.size() > longest) {
      d = Decision{};
      longest = prefix.size();
    }
    if (prefix.size() == longest) d.Add(rule);
  });
  return d.Result();
}

Access GrantedOnAllJobs(const std::vector<const v1::AclPolicy*>& policies) {
  Access all = Granted(policies, Resource::kJob, "");
  // Every longer prefix's own decision may only lower it.
  std::vector<std::string> prefixes;
  ForEachRule(policies, Resource::kJob, [&](const v1::AclRule& rule) {
    if (!rule.prefix().empty()) prefixes.push_back(rule.prefix());
  });
  for (const auto& p : prefixes) all = std::min(all, Granted(policies, Resource::kJob, p));
  return all;
}

Access GrantedOnSomeJob(const std::vector<const v1::AclPolicy*>& policies) {
  Access best = Access::kNone;
  ForEachRule(policies, Resource::kJob, [&](const v1::AclRule& rule) {
    best = std::max(best, Granted(policies, Resource::kJob, rule.prefix()));
  });
  return best;
}

Status ValidatePolicy(const v1::AclPolicy& p) {
  if (!NameOk(p.name(), 128)) {
    return Status::InvalidArgument("name: expected 1-128 characters of A-Z a-z 0-9 _ -, got \"" +
                                   p.name().substr(0, 140) + "\"");
  }
  if (p.description().size() > 1024)
    return Status::InvalidArgument("description: longer than 1024 bytes");
  if (p.rules_size() > 100) {
    return Status::InvalidArgument("rules: " + std::to_string(p.rules_size()) +
                                   " rules, at most 100");
  }
  for (int i = 0; i < p.rules_size(); ++i) {
    const auto& rule = p.rules(i);
    const std::string field = "rules[" + std::to_string(i) + "]";
    auto r = ParseResource(rule.resource());
    if (!r) {
      return Status::InvalidArgument(field +
                                     ".resource: expected job, node, operator or acl, got \"" +
                                     rule.resource().substr(0, 64) + "\"");
    }
    if (!ParseAccess(rule.access())) {
      return Status::InvalidArgument(field + ".access: expected read, write or deny, got \"" +
                                     rule.access().substr(0, 64) + "\"");
    }
    if (!rule.prefix().empty() && *r != Resource::kJob) {
      return Status::InvalidArgument(field + ".prefix: only job rules have a prefix");
    }
    if (rule.prefix().size() > 128)
      return Status::InvalidArgument(field + ".prefix: longer than 128 bytes");
  }
  return Status::Ok();
}

Status ValidateTokenFields(const v1::AclToken& t) {
  if (!t.type().empty() && t.type() != "client" && t.type() != "management") {
    return Status::InvalidArgument("type: expected client or management, got \"" +
                                   t.type().substr(0, 64) + "\"");
  }
  if (t.name().size() > 256) return Status::InvalidArgument("name: longer than 256 bytes");
  if (t.policies_size() > 100) return Status::InvalidArgument("policies: more than 100");
  for (int i = 0; i < t.policies_size(); ++i) {
    if (!NameOk(t.policies(i), 128)) {
      return Status::InvalidArgument("policies[" + std::to_string(i) + "]: not a policy name: \"" +
                                     t.policies(i).substr(0, 140) + "\"");
    }
  }
  if (t.type() == "management" && t.policies_size() > 0) {
    return Status::InvalidArgument(
        "policies: a management token has every right and takes no policies");
  }
  return Status::Ok();
}

}  // namespace orch::master::acl
