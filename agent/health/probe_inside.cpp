#include "agent/health/probe_inside.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "agent/drivers/exec_isolation.h"
#include "agent/drivers/exec_shim.h"

namespace orch::agent::health {

namespace {

struct NsFd {
  int fd;
  int type;
};

ino_t NsInode(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// Uid/Gid (real), Groups and CapBnd of a process, from /proc/<pid>/status.
Status ReadIdentity(pid_t pid, shim::TaskIsolation* iso, std::vector<gid_t>* groups) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return Status::NotFound("process " + std::to_string(pid) + " is gone");
  std::string line;
  bool uid = false, gid = false, bnd = false;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key;
    ls >> key;
    if (key == "Uid:") uid = static_cast<bool>(ls >> iso->uid);
    if (key == "Gid:") gid = static_cast<bool>(ls >> iso->gid);
    if (key == "Groups:") {
      gid_t g;
      while (ls >> g) groups->push_back(g);
    }
    if (key == "CapBnd:") {
      std::string hex;
      bnd = static_cast<bool>(ls >> hex);
      if (bnd) iso->keep_caps = std::stoull(hex, nullptr, 16);
    }
  }
  if (!uid || !gid || !bnd)
    return Status::Internal("cannot read the identity of process " + std::to_string(pid));
  iso->set_identity = true;
  iso->groups = groups->data();
  iso->ngroups = static_cast<int>(groups->size());
  return Status::Ok();
}

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<pid_t> SpawnInside(pid_t task_pid, const std::string& command,
                          const std::vector<std::string>& args,
                          const std::vector<std::string>& envp, const std::string& path,
                          const std::string& cwd, int out_fd) {
  if (task_pid <= 0) return Status::InvalidArgument("no task process to run the check in");
  shim::TaskIsolation iso;
  std::vector<gid_t> groups;
  ORCH_RETURN_IF_ERROR(ReadIdentity(task_pid, &iso, &groups));
  std::vector<NsFd> ns;
  // The mount namespace last: after it /proc is the task's.
  for (auto [name, type] : {std::pair{"ipc", CLONE_NEWIPC}, std::pair{"uts", CLONE_NEWUTS},
                            std::pair{"net", CLONE_NEWNET}, std::pair{"pid", CLONE_NEWPID},
                            std::pair{"mnt", CLONE_NEWNS}}) {
    std::string theirs = "/proc/" + std::to_string(task_pid) + "/ns/" + name;
    if (NsInode(theirs) == NsInode(std::string("/proc/self/ns/") + name)) continue;
    int fd = open(theirs.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      for (auto& n : ns) close(n.fd);
      return Status::Internal("cannot open " + theirs + ": " + strerror(errno));
    }
    ns.push_back({fd, type});
  }
  // A chrooted task (exec_chroot.h): the check runs in its root too.
  int root_fd = -1;
  {
    std::string theirs = "/proc/" + std::to_string(task_pid) + "/root";
    struct stat mine, its;
    if (stat("/", &mine) == 0 && stat(theirs.c_str(), &its) == 0 &&
        (mine.st_dev != its.st_dev || mine.st_ino != its.st_ino)) {
      root_fd = open(theirs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (root_fd < 0) {
        for (auto& n : ns) close(n.fd);
        return Status::Internal("cannot open " + theirs + ": " + strerror(errno));
      }
    }
  }
  std::vector<std::string> candidates;
  if (command.find('/') != std::string::npos) {
    candidates.push_back(command);
  } else {
    size_t start = 0;
    while (start <= path.size()) {
      size_t end = path.find(':', start);
      if (end == std::string::npos) end = path.size();
      std::string dir = path.substr(start, end - start);
      if (!dir.empty()) candidates.push_back(dir + "/" + command);
      start = end + 1;
    }
  }
  std::vector<std::string> argv_s{command};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s = envp;
  std::vector<char*> argv = CStrings(argv_s), env = CStrings(env_s);

  pid_t outer = fork();
  if (outer < 0) {
    int e = errno;
    for (auto& n : ns) close(n.fd);
    if (root_fd >= 0) close(root_fd);
    return Status::ResourceExhausted(std::string("fork: ") + strerror(e));
  }
  if (outer == 0) {
    setpgid(0, 0);
    for (const auto& n : ns) {
      if (setns(n.fd, n.type) != 0) _exit(125);
    }
    if (root_fd >= 0 && (fchdir(root_fd) != 0 || chroot(".") != 0)) _exit(125);
    // A new pid namespace takes effect for children only.
    pid_t inner = fork();
    if (inner < 0) _exit(125);
    if (inner == 0) {
      int devnull = open("/dev/null", O_RDONLY);
      if (devnull >= 0) dup2(devnull, 0);
      dup2(out_fd, 1);
      dup2(out_fd, 2);
      shim::ResetSignalsForExec();
      if (cwd.empty() || chdir(cwd.c_str()) != 0) (void)!chdir("/");
      if (shim::ApplyTaskIdentity(iso) != 0) _exit(126);
      for (const auto& c : candidates) execve(c.c_str(), argv.data(), env.data());
      _exit(127);
    }
    int ws;
    while (waitpid(inner, &ws, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(ws)) {
      signal(WTERMSIG(ws), SIG_DFL);
      kill(getpid(), WTERMSIG(ws));
    }
    _exit(WIFEXITED(ws) ? WEXITSTATUS(ws) : 125);
  }
  for (auto& n : ns) close(n.fd);
  if (root_fd >= 0) close(root_fd);
  setpgid(outer, outer);
  return outer;
}

}  // namespace orch::agent::health
