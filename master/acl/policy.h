// ACL policies as rules: what a set of policies grants on a resource (a
// pure function of the policies), and the validation of what users send.
// Thread safety: stateless functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "orch/v1/acl.pb.h"

namespace orch::master::acl {

enum class Resource { kJob, kNode, kOperator, kAcl };
// Ordered: write implies read.
enum class Access { kNone = 0, kRead = 1, kWrite = 2 };

std::string_view ResourceName(Resource r);
std::string_view AccessName(Access a);

// What `policies` grant on `r`. For a job, the rules whose prefix starts
// `job_id` count, and the longest such prefix decides; among the rules of
// one prefix (from any policy) a deny wins, else the highest access.
// Other resources have one rule set (prefix must be empty).
Access Granted(const std::vector<const v1::AclPolicy*>& policies, Resource r,
               std::string_view job_id = "");
// On every job, whatever its id: the grant of the empty prefix, lowered by
// every rule of a longer prefix (a deny on "db-" means not on every job).
Access GrantedOnAllJobs(const std::vector<const v1::AclPolicy*>& policies);
// The highest access any job rule grants (a route whose job is only known
// once the handler parsed the body checks this first).
Access GrantedOnSomeJob(const std::vector<const v1::AclPolicy*>& policies);

// A policy as a user sends it: a name of [A-Za-z0-9_-] (at most 128), at
// most 100 rules of a known resource and access, prefixes (job only) of at
// most 128 bytes. InvalidArgument naming the field otherwise.
Status ValidatePolicy(const v1::AclPolicy& p);
// A token's type ("management" or "client"; empty means client), name (at
// most 256) and policy names (at most 100).
Status ValidateTokenFields(const v1::AclToken& t);

}  // namespace orch::master::acl
