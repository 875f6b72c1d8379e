// orch-exec-shim: the exec driver's per-task supervisor as its own small
// program (see exec_shim.h). The agent forks, arranges descriptors 0-7 and
// execs it with the task's environment:
//
//   orch-exec-shim <exit_file> <max_bytes> <max_files> <stdout> <stderr>
//                  <cwd> <namespaces 0|1|1|root|ro,..|rw,..> <identity|-> <n> <cgroup.procs x n>
//                  <path> <argv...>
//
// Not meant to be run by hand.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "agent/drivers/exec_shim.h"

extern char** environ;

namespace {

std::vector<std::string> Rotated(const std::string& path, int max_files) {
  std::vector<std::string> out{path};
  for (int i = 1; i <= max_files; ++i) out.push_back(path + "." + std::to_string(i));
  return out;
}

// Every field between `sep`s, empty ones too ("a||b" -> {"a", "", "b"}).
std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

// A ','-separated path list; "" is none.
std::vector<std::string> Paths(const std::string& s) {
  return s.empty() ? std::vector<std::string>{} : Split(s, ',');
}

std::vector<const char*> Ptrs(const std::vector<std::string>& v) {
  std::vector<const char*> out;
  for (const auto& s : v) out.push_back(s.c_str());
  out.push_back(nullptr);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace orch::agent::shim;
  if (argc < 12 || fcntl(kFdStatus, F_GETFD) < 0) {
    fprintf(stderr, "orch-exec-shim: started by the orch agent's exec driver only\n");
    return 2;
  }
  // Ours, not the task's.
  for (int fd = kFdStatus; fd <= kFdErrPipe; ++fd) fcntl(fd, F_SETFD, FD_CLOEXEC);
  int i = 1;
  std::string exit_file = argv[i++];
  int64_t max_bytes = atoll(argv[i++]);
  int max_files = atoi(argv[i++]);
  std::string out = argv[i++], err = argv[i++];
  const char* cwd = argv[i++];
  TaskIsolation iso;
  // "1|root|ro1,ro2|rw1,rw2": namespaces and a chroot (exec_chroot.h).
  std::string namespaces = argv[i++];
  std::vector<std::string> spec = Split(namespaces, '|');
  iso.namespaces = spec[0] == "1";
  std::vector<std::string> chroot_ro, chroot_rw, volumes;
  std::vector<const char*> chroot_ro_ptrs, chroot_rw_ptrs, volume_ptrs;
  if ((spec.size() == 4 || spec.size() == 5) && iso.namespaces) {
    chroot_ro = Paths(spec[2]);
    chroot_rw = Paths(spec[3]);
    chroot_ro_ptrs = Ptrs(chroot_ro);
    chroot_rw_ptrs = Ptrs(chroot_rw);
    // "src>dst>ro,...": triples.
    for (const auto& v : spec.size() == 5 ? Paths(spec[4]) : std::vector<std::string>{}) {
      std::vector<std::string> t = Split(v, '>');
      if (t.size() != 3 || (t[2] != "ro" && t[2] != "rw")) {
        WriteRecord(kFdStatus, 'N', 22);  // EINVAL
        return 2;
      }
      volumes.insert(volumes.end(), t.begin(), t.end());
    }
    volume_ptrs = Ptrs(volumes);
    iso.chroot = TaskChroot{spec[1].empty() ? nullptr : spec[1].c_str(), chroot_ro_ptrs.data(),
                            chroot_rw_ptrs.data(), volume_ptrs.data()};
  } else if (spec.size() != 1) {
    WriteRecord(kFdStatus, 'N', 22);  // EINVAL
    return 2;
  }
  std::string identity = argv[i++];
  std::vector<gid_t> groups;
  if (identity != "-") {
    iso.set_identity = true;
    if (!ParseIdentity(identity, &iso.uid, &iso.gid, &groups, &iso.keep_caps)) {
      WriteRecord(kFdStatus, 'U', 22);  // EINVAL
      return 2;
    }
    iso.groups = groups.data();
    iso.ngroups = static_cast<int>(groups.size());
  }
  int n = atoi(argv[i++]);
  if (n < 0 || i + n + 2 > argc) {
    WriteRecord(kFdStatus, 'F', 22);  // EINVAL
    return 2;
  }
  std::vector<const char*> procs(argv + i, argv + i + n);
  procs.push_back(nullptr);
  i += n;
  const char* path = argv[i++];
  std::string exit_tmp = exit_file + ".tmp";
  std::vector<std::string> out_names = Rotated(out, max_files), err_names = Rotated(err, max_files);
  std::vector<const char*> out_ptrs = Ptrs(out_names), err_ptrs = Ptrs(err_names);
  ShimPlan plan{path,
                argv + i,
                environ,
                cwd,
                exit_file.c_str(),
                exit_tmp.c_str(),
                out_ptrs.data(),
                err_ptrs.data(),
                max_files,
                max_bytes,
                procs.data(),
                iso};
  Run(plan);
}
