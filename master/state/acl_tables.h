// AclTables: every ACL token and policy of the replicated state, as one
// immutable value the state store swaps whenever an ACL command applies (or
// a snapshot is restored), so a request's token is resolved from memory
// without touching SQLite or the store's lock.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "orch/v1/acl.pb.h"

namespace orch::master {

struct AclTables {
  std::unordered_map<std::string, v1::AclToken> tokens_by_secret_hash;
  std::unordered_map<std::string, v1::AclPolicy> policies;  // by name
  uint64_t bootstrap_index = 0;                             // 0: ACLs not bootstrapped yet
};

}  // namespace orch::master
