// Starts a command check inside a task: in the namespaces of the task's
// process that differ from the agent's (ipc, uts, net, pid, mount, as
// nsenter does; the mount namespace brings the task's root, so a
// container's check sees the container's files) and as that process's user
// (uid, gid, groups; its bounding set of capabilities, no_new_privs), like
// `nsenter -t PID` followed by `setpriv`. An isolated exec task's check
// thus runs with exactly what the task has, a docker task's inside its
// container.
// Thread safety: stateless; forks (only async-signal-safe calls in the
// children).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace orch::agent::health {

// Forks a process leading its own process group whose exit status is the
// command's (killing the group kills the command). `command` is tried as
// is when it holds a '/', else in each directory of `path` as the task
// sees its files. stdout and stderr go to `out_fd`; the working directory
// is `cwd` if the task has it, else its root.
Result<pid_t> SpawnInside(pid_t task_pid, const std::string& command,
                          const std::vector<std::string>& args,
                          const std::vector<std::string>& envp, const std::string& path,
                          const std::string& cwd, int out_fd);

}  // namespace orch::agent::health
