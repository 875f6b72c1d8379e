// orchctl's ACL verbs (README "Securing a cluster"): `acl bootstrap`,
// `acl token create|list|self|delete`, `acl policy apply|list|info|delete`.
// A token's secret is printed only by bootstrap and create.
// Printing follows commands.h: lines for table output, the API's answer
// for json/yaml.
// Thread safety: as commands.h, one Context per command on one thread.
#pragma once

#include <string>
#include <vector>

#include "api/orchctl/commands.h"
#include "common/status.h"

namespace orch::ctl {

Status AclBootstrap(const Context& ctx);
Status AclTokenCreate(const Context& ctx, const std::string& name, const std::string& type,
                      const std::vector<std::string>& policies);
Status AclTokenList(const Context& ctx);
Status AclTokenSelf(const Context& ctx);
Status AclTokenDelete(const Context& ctx, const std::string& accessor_id);
// `document`: the policy file's text (YAML or JSON: description, rules).
Status AclPolicyApply(const Context& ctx, const std::string& name, const std::string& document,
                      const std::string& description);
Status AclPolicyList(const Context& ctx);
Status AclPolicyInfo(const Context& ctx, const std::string& name);
Status AclPolicyDelete(const Context& ctx, const std::string& name);

}  // namespace orch::ctl
