// A task's environment and arguments: the ORCH_* variables, one PORT_<name>
// per group network port, the task's own env map, and `${VAR}` expansion in
// env values and args. Also picks free dynamic ports.
// Thread safety: stateless functions.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "orch/v1/types.pb.h"

namespace orch::agent {

// Replaces `${NAME}` with vars[NAME]. Unknown names stay as written (so a
// shell in the task can still expand them); `$${` is a literal `${`.
std::string ExpandVars(const std::string& text, const std::map<std::string, std::string>& vars);

struct TaskEnvInput {
  std::string alloc_id;
  std::string job;
  std::string group;
  std::string alloc_dir;        // <data-dir>/allocs/<alloc_id>
  std::vector<v1::Port> ports;  // with value assigned
  std::string path;             // PATH passed to the task
  // The job's meta (ORCH_META_<key>) and parent (ORCH_PARENT_JOB), and
  // where the group's volumes are seen (ORCH_VOLUME_<name>).
  std::map<std::string, std::string> meta;
  std::string parent_job;
  std::map<std::string, std::string> volumes;
};

// The whole environment of `task`: ORCH_ALLOC_ID, ORCH_JOB, ORCH_GROUP,
// ORCH_TASK, ORCH_ALLOC_DIR (<alloc_dir>/_shared, shared by the
// allocation's tasks), ORCH_TASK_DIR (<alloc_dir>/<task>), PATH,
// PORT_<name>, ORCH_META_<key>, ORCH_PARENT_JOB, ORCH_VOLUME_<name>, then
// the task's env map with values expanded against the
// variables before it, then its secrets as given (never expanded).
std::map<std::string, std::string> BuildTaskEnv(const TaskEnvInput& in, const v1::Task& task);

// The task's args expanded against its environment.
std::vector<std::string> ExpandArgs(const v1::Task& task,
                                    const std::map<std::string, std::string>& env);

// Assigns every port a value: its static number, or a free port the kernel
// picks when binding port 0 on 127.0.0.1. `avoid` holds ports already handed
// out and not to be reused.
Result<std::vector<v1::Port>> AssignPorts(const v1::Network& network,
                                          const std::vector<int>& avoid);

}  // namespace orch::agent
