// Launching a process under a tiny supervisor ("shim"), the low-level half
// of the exec driver.
//
//   agent ──fork──> shim (own session; ignores TERM/INT/HUP)
//                     └──fork──> task (own process group; exec's the command)
//
// The shim waits for the task and writes its exit status to `exit_file`
// (written to a temporary name, then renamed), then exits. The task is
// therefore never the agent's child: when the agent stops or crashes, the
// shim keeps watching, and a restarted agent learns the real exit status of
// a task that ended while it was away (the idea of Nomad's executor).
//
// Between fork and exec only async-signal-safe calls are made (the agent is
// multi-threaded): every string is prepared before forking. A failure to
// chdir or exec in the task is reported back over a close-on-exec pipe, so
// Launch() returns a precise error instead of a task that exits 127.
//
// Output: the task's stdout and stderr are pipes the shim owns. The shim
// copies them to `stdout_path` / `stderr_path` and rotates a file once it
// would grow past `log_max_bytes` (<path> -> <path>.1 -> ... <path>.N, the
// oldest dropped; N = log_max_files), so the task never writes a file
// itself and rotation goes on while the agent is away.
//
// Cgroups: the task joins its cgroup between fork and exec, writing its pid
// to every file in `cgroup_procs` (prepared before fork); a failure is
// reported like a failed exec. The shim stays outside, so an OOM kill in
// the task's group never takes the supervisor.
//
// Thread safety: Launch may be called concurrently.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace orch::agent {

struct LaunchRequest {
  std::string path;               // absolute path of the executable
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> envp;  // "NAME=value"
  std::string cwd;
  std::string stdout_path;  // opened for append (created 0600)
  std::string stderr_path;
  std::string exit_file;  // where the shim records the exit status
  // Rotation: 0 bytes = never rotate; files kept besides the current one.
  int64_t log_max_bytes = 0;
  int log_max_files = 0;
  std::vector<std::string> cgroup_procs;  // cgroup.procs files to join
  // Isolation (exec_isolation.h): new pid/mount/ipc/uts namespaces, and the
  // identity the task takes (uid, gid, groups, capabilities it keeps,
  // no_new_privs) when set_identity.
  bool namespaces = false;
  bool set_identity = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  uint64_t keep_caps = 0;
  // With namespaces: chroot into `chroot_root` (an empty directory) built
  // from `chroot_read_only` and `chroot_read_write` (exec_chroot.h); empty:
  // none. Paths must pass ChrootSpecPathsValid.
  std::string chroot_root;
  std::vector<std::string> chroot_read_only, chroot_read_write;
  // With namespaces: host directories bound at `destination` (inside the
  // chroot when there is one; without, destination is the source itself,
  // bound read-only onto itself when read_only).
  struct Volume {
    std::string source, destination;
    bool read_only = false;
  };
  std::vector<Volume> volumes;
  // The orch-exec-shim binary to exec as the supervisor; empty: the forked
  // agent is the supervisor (same behaviour, but each task's supervisor then
  // holds a copy-on-write image of the agent).
  std::string shim_path;
};

// The files of one log stream, newest first: <path>, <path>.1, ...
std::vector<std::string> RotatedLogFiles(const std::string& path, int max_files);

struct LaunchResult {
  pid_t shim_pid = 0;
  pid_t task_pid = 0;
};

// Starts the task; returns once it has exec'd (or failed to).
Result<LaunchResult> Launch(const LaunchRequest& req);

// The exit status a shim recorded.
struct ExitRecord {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  int64_t finished_at_ms = 0;
};

// NotFound while the file does not exist (the task still runs, or its shim
// died before writing it).
Result<ExitRecord> ReadExitFile(const std::string& path);

// Resolves `command` as execvp would: a name with a '/' is taken as is, a
// bare name is searched in `path_env` ("/usr/bin:/bin"). Fails, naming the
// cause, unless the result is an executable regular file.
Result<std::string> ResolveCommand(const std::string& command, const std::string& path_env);

}  // namespace orch::agent
