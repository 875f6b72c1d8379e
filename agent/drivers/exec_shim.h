// The exec task supervisor ("shim") once its descriptors are in place: the
// part shared by the shim forked from the agent (exec_launch.cpp) and the
// orch-exec-shim binary the agent execs instead where it finds one (a small
// process per task rather than a copy-on-write image of the agent).
//
// On entry: 0 /dev/null, 1-2 the write ends of the task's stdout/stderr
// pipes, 3 the status pipe to the agent, 4-5 the log files (append), 6-7
// the pipes' read ends. Run() forks the task (own process group, joins its
// cgroups, chdir, drops to its user, exec; with namespaces through an init,
// see exec_isolation.h), reports its pid on the status pipe, copies its
// output to the log files with rotation, waits for it and writes the exit
// record. Everything here is async-signal-safe: it runs between fork and
// exec in a multi-threaded agent.
// Thread safety: runs in a single-threaded child.
#pragma once

#include <cstddef>
#include <cstdint>

#include "agent/drivers/exec_isolation.h"

namespace orch::agent::shim {

// A record the shim or the task writes to the status pipe.
struct PipeRecord {
  // 'P' task pid; errors: 'F' fork, 'G' cgroup, 'C' chdir, 'E' exec, 'S' shim
  // exec, 'N' namespaces, 'U' user and capabilities
  char tag;
  int32_t value;  // pid or errno
};

// Everything the shim and the task need, prepared before fork.
struct ShimPlan {
  const char* path;  // the task's executable
  char* const* argv;
  char* const* envp;
  const char* cwd;
  const char* exit_file;
  const char* exit_tmp;
  const char* const* out_names;  // <stdout>, <stdout>.1, ... (max_files + 1)
  const char* const* err_names;
  int max_files;
  int64_t max_bytes;         // 0: never rotate
  const char* const* procs;  // cgroup.procs files to join, nullptr-terminated
  TaskIsolation iso;
};

constexpr int kFdStatus = 3, kFdOutFile = 4, kFdErrFile = 5, kFdOutPipe = 6, kFdErrPipe = 7;

void WriteRecord(int fd, char tag, int32_t value);
// Appends the decimal form of `v` to buf at *pos.
void AppendInt(char* buf, size_t cap, size_t* pos, int64_t v);
void ResetSignalsForExec();

[[noreturn]] void Run(const ShimPlan& plan);

}  // namespace orch::agent::shim
