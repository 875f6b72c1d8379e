// What keeps an exec task from owning its node, applied between fork and
// exec (async-signal-safe only: the agent is multi-threaded).
//
//   namespaces: the task runs in new pid, mount, ipc and uts namespaces. The
//     shim unshares the pid namespace and forks a small init (pid 1 there),
//     which makes its mounts private, mounts a /proc of its own, sets the
//     hostname and forks the task; it reaps orphans and hands the task's
//     wait status to the shim when the task ends (everything left in the
//     namespace dies with it, as in a container). The task therefore sees
//     only its own processes.
//   identity: the bounding set loses every capability not kept, the task
//     takes its user's uid, gid and groups, keeps only the kept capabilities
//     (as ambient ones for a non-root user), and sets no_new_privs, so
//     neither setuid binaries nor file capabilities give anything back.
// Thread safety: stateless; called in single-threaded children.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "agent/drivers/exec_chroot.h"

namespace orch::agent::shim {

struct TaskIsolation {
  bool namespaces = false;
  const char* hostname = nullptr;  // uts namespace's hostname (namespaces only)
  bool set_identity = false;       // false: the task runs as the shim does
  uid_t uid = 0;
  gid_t gid = 0;
  const gid_t* groups = nullptr;  // supplementary groups
  int ngroups = 0;
  uint64_t keep_caps = 0;  // bit n: capability n stays
  TaskChroot chroot;       // namespaces only: the task's root (exec_chroot.h)
};

// The identity as one shim argument, "uid:gid:g1,g2:capshex", and back
// (false for a malformed one). Parse runs in orch-exec-shim's main, before
// any fork.
std::string FormatIdentity(uid_t uid, gid_t gid, const std::vector<gid_t>& groups, uint64_t caps);
bool ParseIdentity(const std::string& text, uid_t* uid, gid_t* gid, std::vector<gid_t>* groups,
                   uint64_t* caps);

// In init, before forking the task: new mount, ipc and uts namespaces,
// private mounts, a fresh /proc (in the chroot when there is one), the
// hostname. 0 or an errno.
int EnterTaskNamespaces(const TaskIsolation& iso);

// In the task, after chdir and before exec. 0 or an errno.
int ApplyTaskIdentity(const TaskIsolation& iso);

}  // namespace orch::agent::shim
