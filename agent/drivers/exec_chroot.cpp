#include "agent/drivers/exec_chroot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

namespace orch::agent::shim {

namespace {

// `root` + `path` into `out`; false when it does not fit.
bool Join(char (&out)[PATH_MAX], const char* root, const char* path) {
  size_t a = strlen(root), b = strlen(path);
  if (a + b + 1 > sizeof out) return false;
  memcpy(out, root, a);
  memcpy(out + a, path, b + 1);
  return true;
}

// mkdir -p of `path` (absolute), each new directory with `mode`.
int MkdirAll(const char* path, mode_t mode) {
  char buf[PATH_MAX];
  size_t n = strlen(path);
  if (n + 1 > sizeof buf) return ENAMETOOLONG;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; ++i) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char saved = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, mode) != 0 && errno != EEXIST) return errno;
    buf[i] = saved;
  }
  return 0;
}

// The directories above `path` (absolute).
int MakeParents(const char* path) {
  char parent[PATH_MAX];
  size_t n = strlen(path);
  if (n + 1 > sizeof parent) return ENAMETOOLONG;
  memcpy(parent, path, n + 1);
  char* slash = strrchr(parent, '/');
  if (slash == nullptr || slash == parent) return 0;
  *slash = '\0';
  return MkdirAll(parent, 0755);
}

// An empty directory or file to mount on, with its parents.
int MakeMountPoint(const char* path, bool dir) {
  if (dir) return MkdirAll(path, 0755);
  if (int e = MakeParents(path); e != 0) return e;
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  close(fd);
  return 0;
}

// `source` bound at `root`+`source`, read-only unless `writable`. A host
// path that does not exist is skipped; a symlink is recreated as one.
int Bind(const char* root, const char* source, bool writable) {
  struct stat st;
  if (lstat(source, &st) != 0) return errno == ENOENT ? 0 : errno;
  char target[PATH_MAX];
  if (!Join(target, root, source)) return ENAMETOOLONG;
  if (S_ISLNK(st.st_mode)) {
    char link[PATH_MAX];
    ssize_t len = readlink(source, link, sizeof link - 1);
    if (len < 0) return errno;
    link[len] = '\0';
    if (int e = MakeParents(target); e != 0) return e;
    return symlink(link, target) == 0 || errno == EEXIST ? 0 : errno;
  }
  if (int e = MakeMountPoint(target, S_ISDIR(st.st_mode)); e != 0) return e;
  if (mount(source, target, nullptr, MS_BIND | MS_REC, nullptr) != 0) return errno;
  // Devices (/dev/null ...) must stay usable; nothing else carries any.
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | (S_ISCHR(st.st_mode) ? 0 : MS_NODEV) |
                        (writable ? 0 : MS_RDONLY);
  if (mount(nullptr, target, nullptr, flags, nullptr) != 0) return errno;
  return 0;
}

// Volume `source` (a host directory) bound at `root`+`dest`, or with no
// root onto itself (only to make it read-only: in place it is there
// anyway). Follows no symlink in `dest` below the root: the mount point is
// made by mkdir in the root's own tmpfs.
int BindVolume(const char* root, const char* source, const char* dest, bool writable) {
  struct stat st;
  if (stat(source, &st) != 0) return errno;
  if (!S_ISDIR(st.st_mode)) return ENOTDIR;
  char target[PATH_MAX];
  if (root != nullptr) {
    if (!Join(target, root, dest)) return ENAMETOOLONG;
    if (int e = MakeMountPoint(target, true); e != 0) return e;
  } else {
    if (writable) return 0;
    size_t n = strlen(source);
    if (n + 1 > sizeof target) return ENAMETOOLONG;
    memcpy(target, source, n + 1);
  }
  if (mount(source, target, nullptr, MS_BIND | MS_REC, nullptr) != 0) return errno;
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (writable ? 0 : MS_RDONLY);
  if (mount(nullptr, target, nullptr, flags, nullptr) != 0) return errno;
  return 0;
}

int BindVolumes(const char* root, const char* const* v) {
  for (; v != nullptr && v[0] != nullptr && v[1] != nullptr && v[2] != nullptr; v += 3) {
    if (int e = BindVolume(root, v[0], v[1], strcmp(v[2], "rw") == 0); e != 0) return e;
  }
  return 0;
}

int MountFs(const char* root, const char* at, const char* type, unsigned long flags,
            const char* data) {
  char target[PATH_MAX];
  if (!Join(target, root, at)) return ENAMETOOLONG;
  if (int e = MakeMountPoint(target, true); e != 0) return e;
  return mount(type, target, type, flags, data) == 0 ? 0 : errno;
}

}  // namespace

bool ChrootSpecPathsValid(const char* path) {
  return path != nullptr && path[0] == '/' && strchr(path, '|') == nullptr &&
         strchr(path, ',') == nullptr && strchr(path, '>') == nullptr;
}

int EnterTaskChroot(const TaskChroot& c) {
  if (c.root == nullptr) return BindVolumes(nullptr, c.volumes);
  const char* root = c.root;
  if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m") != 0) return errno;
  // The private filesystems first: the task's directories may lie below
  // /tmp, and their binds must land on top of it.
  if (int e = MountFs(root, "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr); e != 0)
    return e;
  if (int e = MountFs(root, "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"); e != 0) return e;
  if (int e = MountFs(root, "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k"); e != 0)
    return e;
  for (const char* dev :
       {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}) {
    if (int e = Bind(root, dev, true); e != 0) return e;
  }
  if (int e = MountFs(root, "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777");
      e != 0)
    return e;
  for (const char* const* p = c.read_only; p != nullptr && *p != nullptr; ++p) {
    if (int e = Bind(root, *p, false); e != 0) return e;
  }
  for (const char* const* p = c.read_write; p != nullptr && *p != nullptr; ++p) {
    if (int e = Bind(root, *p, true); e != 0) return e;
  }
  if (int e = BindVolumes(root, c.volumes); e != 0) return e;
  char link[PATH_MAX];
  for (const auto& [name, to] :
       {std::pair{"/dev/fd", "/proc/self/fd"}, std::pair{"/dev/stdin", "/proc/self/fd/0"},
        std::pair{"/dev/stdout", "/proc/self/fd/1"}, std::pair{"/dev/stderr", "/proc/self/fd/2"}}) {
    if (!Join(link, root, name)) return ENAMETOOLONG;
    if (symlink(to, link) != 0 && errno != EEXIST) return errno;
  }
  if (chdir(root) != 0 || chroot(".") != 0 || chdir("/") != 0) return errno;
  return 0;
}

}  // namespace orch::agent::shim
