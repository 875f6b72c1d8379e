#include "agent/drivers/exec_isolation.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace orch::agent::shim {

namespace {

int Capset(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  data[0].effective = static_cast<uint32_t>(effective);
  data[1].effective = static_cast<uint32_t>(effective >> 32);
  data[0].permitted = static_cast<uint32_t>(permitted);
  data[1].permitted = static_cast<uint32_t>(permitted >> 32);
  data[0].inheritable = static_cast<uint32_t>(inheritable);
  data[1].inheritable = static_cast<uint32_t>(inheritable >> 32);
  return syscall(SYS_capset, &hdr, data) == 0 ? 0 : errno;
}

}  // namespace

std::string FormatIdentity(uid_t uid, gid_t gid, const std::vector<gid_t>& groups, uint64_t caps) {
  std::string s = std::to_string(uid) + ":" + std::to_string(gid) + ":";
  for (size_t i = 0; i < groups.size(); ++i) s += (i ? "," : "") + std::to_string(groups[i]);
  char hex[20];
  snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(caps));
  return s + ":" + hex;
}

bool ParseIdentity(const std::string& text, uid_t* uid, gid_t* gid, std::vector<gid_t>* groups,
                   uint64_t* caps) {
  unsigned long long u, g, c;
  size_t a = text.find(':'), b = text.find(':', a + 1), d = text.rfind(':');
  if (a == std::string::npos || b == std::string::npos || d == b) return false;
  if (sscanf(text.c_str(), "%llu:%llu:", &u, &g) != 2) return false;
  if (sscanf(text.c_str() + d + 1, "%llx", &c) != 1) return false;
  groups->clear();
  std::string list = text.substr(b + 1, d - b - 1);
  size_t pos = 0;
  while (pos < list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    groups->push_back(static_cast<gid_t>(strtoull(list.c_str() + pos, nullptr, 10)));
    pos = comma + 1;
  }
  *uid = static_cast<uid_t>(u);
  *gid = static_cast<gid_t>(g);
  *caps = c;
  return true;
}

int EnterTaskNamespaces(const TaskIsolation& iso) {
  if (!iso.namespaces) return 0;
  if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS) != 0) return errno;
  // Nothing mounted here may reach the host, and the other way round.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return errno;
  if (iso.chroot.root != nullptr) {
    if (int e = EnterTaskChroot(iso.chroot); e != 0) return e;
  } else {
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
      return errno;
    if (int e = EnterTaskChroot(iso.chroot); e != 0) return e;  // the volumes, in place
  }
  if (iso.hostname != nullptr && iso.hostname[0] != '\0' &&
      sethostname(iso.hostname, strnlen(iso.hostname, 64)) != 0) {
    return errno;
  }
  return 0;
}

int ApplyTaskIdentity(const TaskIsolation& iso) {
  if (!iso.set_identity) return 0;
  // The bounding set first (needs CAP_SETPCAP, which goes below).
  for (int cap = 0; cap < 64; ++cap) {
    if (iso.keep_caps & (uint64_t{1} << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
      if (errno == EINVAL) break;  // past the kernel's last capability
      return errno;
    }
  }
  // Raw system calls: glibc's wrappers would make every thread of the
  // (forked, multi-threaded) parent change too, waiting on threads that do
  // not exist in this child. Credentials are per thread in the kernel.
  if (syscall(SYS_setgroups, static_cast<size_t>(iso.ngroups), iso.groups) != 0) return errno;
  if (syscall(SYS_setresgid, iso.gid, iso.gid, iso.gid) != 0) return errno;
  if (iso.uid != 0) {
    // Keep the permitted set across setuid so the kept ones can be raised.
    if (iso.keep_caps != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return errno;
    if (syscall(SYS_setresuid, iso.uid, iso.uid, iso.uid) != 0) return errno;
  }
  if (int e = Capset(iso.keep_caps, iso.keep_caps, iso.keep_caps); e != 0) return e;
  if (iso.uid != 0) {
    // Ambient: a non-root user's kept capabilities survive exec.
    for (int cap = 0; cap < 64; ++cap) {
      if (!(iso.keep_caps & (uint64_t{1} << cap))) continue;
      if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) return errno;
    }
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  return 0;
}

}  // namespace orch::agent::shim
