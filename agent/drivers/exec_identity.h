// Who an exec task runs as: the task's `user` (or the agent's default)
// resolved on this node and checked against the agent's allow-lists, with
// the capabilities it keeps. The exec driver applies the result between
// fork and exec (exec_isolation.h).
//
// Rules: root (uid 0) only with allow_root; a user outside a non-empty
// allowed_users is refused (the default user always passes); every
// cap_add must be in allowed_caps. root keeps Docker's default set plus its
// cap_add, any other user only its cap_add. A numeric user without a
// passwd entry runs with the same number as its group and no other groups.
// Thread safety: stateless (getpwnam_r and friends).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace orch::agent {

struct ExecUserPolicy {
  std::string default_user = "nobody";
  std::vector<std::string> allowed_users;  // empty: any user but root
  bool allow_root = false;
  std::vector<std::string> allowed_caps;  // names (common/capabilities.h)
};

struct TaskIdentity {
  std::string user;  // as asked for (or the default)
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  uint64_t keep_caps = 0;
};

// PermissionDenied (with the agent flag to change) for what the policy
// refuses, NotFound for a user this node does not have.
Result<TaskIdentity> ResolveTaskIdentity(const ExecUserPolicy& policy, const std::string& user,
                                         const std::vector<std::string>& cap_add);

}  // namespace orch::agent
