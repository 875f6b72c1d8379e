// The exec driver's optional chroot (`orch-agent --exec-chroot`), built by
// the task's init inside its private mount namespace, like Nomad's exec
// driver: a tmpfs at `root` holding read-only bind mounts of allow-listed
// host paths (each at its own path; a symlink such as Debian's /bin ->
// usr/bin is copied as a symlink), read-write binds of the task's and the
// allocation's shared directories (at their host paths, so ORCH_TASK_DIR,
// ORCH_ALLOC_DIR and the working directory stay valid), a /proc of the
// task's pid namespace, a minimal /dev (null, zero, full, random, urandom,
// tty, shm, fd) and a private /tmp; then chroot. Nothing of it is visible
// outside the task's mount namespace.
// Async-signal-safe only (called after fork in the multi-threaded agent):
// no allocation, fixed buffers.
// Thread safety: stateless.
#pragma once

#include <utility>

namespace orch::agent::shim {

struct TaskChroot {
  const char* root = nullptr;               // an empty directory (null: no chroot)
  const char* const* read_only = nullptr;   // host paths, null-terminated
  const char* const* read_write = nullptr;  // host directories, null-terminated
  // Volumes: null-terminated triples of host source, destination and "ro" or
  // "rw"; bound in the root when there is one, else in place (read-only
  // when asked) in the task's mount namespace.
  const char* const* volumes = nullptr;
};

// Builds the root and enters it (cwd "/"); with no root, only binds the
// volumes. 0 or an errno.
int EnterTaskChroot(const TaskChroot& c);

// Whether `path` can travel in orch-exec-shim's chroot argument
// ("root|ro1,ro2|rw1,rw2|src>dst>ro,..."): absolute, without '|', ',' or '>'.
bool ChrootSpecPathsValid(const char* path);

}  // namespace orch::agent::shim
