#include "agent/drivers/exec_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "agent/drivers/exec_shim.h"
#include "common/net.h"

namespace orch::agent {

namespace {

using shim::kFdStatus;
using shim::PipeRecord;
using shim::WriteRecord;

void IgnoreShutdownSignals() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
  sigaction(SIGPIPE, &sa, nullptr);
}

void CloseFrom(int lowest, int max_fd) {
  if (close_range(static_cast<unsigned>(lowest), ~0U, 0) == 0) return;
  for (int fd = lowest; fd < max_fd; ++fd) close(fd);
}
// What the forked child needs: the descriptors to arrange, then either the
// orch-exec-shim binary to exec or the plan to run in place.
struct ShimArgs {
  int devnull, out_file, err_file, out_r, out_w, err_r, err_w, status_fd;
  int max_fd;
  const char* shim_exec;  // nullptr: run the shim in the forked agent
  char* const* shim_argv;
  shim::ShimPlan plan;
};

// The shim: runs in the forked child, never returns.
[[noreturn]] void RunShim(const ShimArgs& a) {
  setsid();
  IgnoreShutdownSignals();  // survives exec: SIG_IGN dispositions are kept
  // Move our fds above the standard ones first, so dup2 cannot clobber them.
  int src[8] = {a.devnull, a.out_w, a.err_w, a.status_fd, a.out_file, a.err_file, a.out_r, a.err_r};
  int hi[8];
  for (int i = 0; i < 8; ++i) {
    hi[i] = fcntl(src[i], F_DUPFD_CLOEXEC, 100);
    if (hi[i] < 0) {
      WriteRecord(a.status_fd, 'F', errno);
      _exit(126);
    }
  }
  // 0 /dev/null, 1 and 2 the pipes' write ends (for the task), 3 status,
  // 4-5 the log files, 6-7 the pipes' read ends (dup2 clears close-on-exec).
  for (int i = 0; i < 8; ++i) dup2(hi[i], i);
  // Nothing of the agent's (sockets, listeners, other tasks' pipes) may
  // outlive it in the shim or leak into the task.
  CloseFrom(8, a.max_fd);
  if (a.shim_exec != nullptr) {
    // The task's environment is the shim's; it hands it on.
    execve(a.shim_exec, a.shim_argv, a.plan.envp);
    WriteRecord(kFdStatus, 'S', errno);
    _exit(126);
  }
  for (int i = kFdStatus; i < 8; ++i) fcntl(i, F_SETFD, FD_CLOEXEC);
  shim::Run(a.plan);
}

std::vector<const char*> CPtrs(const std::vector<std::string>& v) {
  std::vector<const char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(s.c_str());
  out.push_back(nullptr);
  return out;
}

std::vector<char*> CStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

std::string ErrnoText(int e) { return std::string(strerror(e)); }

}  // namespace

Result<std::string> ResolveCommand(const std::string& command, const std::string& path_env) {
  if (command.empty()) return Status::InvalidArgument("no command given");
  auto check = [](const std::string& p) -> Status {
    struct stat st;
    if (stat(p.c_str(), &st) != 0) {
      return Status::NotFound("command " + p + ": " + ErrnoText(errno));
    }
    if (!S_ISREG(st.st_mode))
      return Status::FailedPrecondition("command " + p + ": not a regular file");
    if (access(p.c_str(), X_OK) != 0) {
      return Status::PermissionDenied("command " + p + ": not executable (" + ErrnoText(errno) +
                                      ")");
    }
    return Status::Ok();
  };
  if (command.find('/') != std::string::npos) {
    ORCH_RETURN_IF_ERROR(check(command));
    return command;
  }
  for (const auto& dir : SplitString(path_env, ':')) {
    if (dir.empty()) continue;
    std::string p = dir + "/" + command;
    if (check(p).ok()) return p;
  }
  return Status::NotFound("command \"" + command + "\" not found in PATH (" + path_env + ")");
}

Result<LaunchResult> Launch(const LaunchRequest& req) {
  if (req.argv.empty()) return Status::InvalidArgument("argv must hold at least argv[0]");
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) return Status::Internal("open /dev/null: " + ErrnoText(errno));
  int out = open(req.stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int out_errno = errno;
  int err = open(req.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int err_errno = errno;
  int fds[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  int pipe_rc = pipe2(fds, O_CLOEXEC) | pipe2(out_pipe, O_CLOEXEC) | pipe2(err_pipe, O_CLOEXEC);
  auto close_all = [&] {
    for (int fd :
         {devnull, out, err, fds[0], fds[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
      if (fd >= 0) close(fd);
    }
  };
  if (out < 0 || err < 0 || pipe_rc != 0) {
    close_all();
    if (out < 0) return Status::Internal("open " + req.stdout_path + ": " + ErrnoText(out_errno));
    if (err < 0) return Status::Internal("open " + req.stderr_path + ": " + ErrnoText(err_errno));
    return Status::Internal("pipe: " + ErrnoText(errno));
  }
  unlink(req.exit_file.c_str());  // a stale record must not be read as this run's

  // Everything the children touch is prepared here, before fork.
  std::vector<char*> argv = CStrings(req.argv);
  std::vector<char*> envp = CStrings(req.envp);
  std::string exit_tmp = req.exit_file + ".tmp";
  long open_max = sysconf(_SC_OPEN_MAX);
  int max_fd = open_max > 0 && open_max < 65536 ? static_cast<int>(open_max) : 65536;
  int max_files = std::max(0, req.log_max_files);
  std::vector<std::string> out_names = RotatedLogFiles(req.stdout_path, max_files);
  std::vector<std::string> err_names = RotatedLogFiles(req.stderr_path, max_files);
  std::vector<const char*> out_ptrs = CPtrs(out_names), err_ptrs = CPtrs(err_names);
  std::vector<const char*> procs = CPtrs(req.cgroup_procs);
  std::vector<const char*> chroot_ro = CPtrs(req.chroot_read_only),
                           chroot_rw = CPtrs(req.chroot_read_write);
  // Volumes as triples (source, destination, "ro"/"rw"), null-terminated.
  std::vector<std::string> volume_parts;
  for (const auto& v : req.volumes) {
    volume_parts.push_back(v.source);
    volume_parts.push_back(v.destination);
    volume_parts.push_back(v.read_only ? "ro" : "rw");
  }
  std::vector<const char*> volumes = CPtrs(volume_parts);
  // The shim's <namespaces>: 0, 1, or 1|root|ro1,ro2|rw1,rw2|src>dst>ro,...
  // with a chroot or volumes (root empty: none).
  std::string namespaces = req.namespaces ? "1" : "0";
  if (req.namespaces && (!req.chroot_root.empty() || !req.volumes.empty())) {
    auto join = [](const std::vector<std::string>& v) {
      std::string out;
      for (const auto& p : v) out += (out.empty() ? "" : ",") + p;
      return out;
    };
    std::string vols;
    for (const auto& v : req.volumes) {
      vols += (vols.empty() ? "" : ",") + v.source + ">" + v.destination + ">" +
              (v.read_only ? "ro" : "rw");
    }
    namespaces += "|" + req.chroot_root + "|" + join(req.chroot_read_only) + "|" +
                  join(req.chroot_read_write) + "|" + vols;
  }
  // orch-exec-shim <exit_file> <max_bytes> <max_files> <stdout> <stderr> <cwd>
  //               <namespaces> <identity> <n> <cgroup.procs>... <path> <argv>...
  std::vector<std::string> shim_args;
  if (!req.shim_path.empty()) {
    shim_args = {
        req.shim_path,
        req.exit_file,
        std::to_string(req.log_max_bytes),
        std::to_string(max_files),
        req.stdout_path,
        req.stderr_path,
        req.cwd,
        namespaces,
        req.set_identity ? shim::FormatIdentity(req.uid, req.gid, req.groups, req.keep_caps) : "-",
        std::to_string(req.cgroup_procs.size())};
    shim_args.insert(shim_args.end(), req.cgroup_procs.begin(), req.cgroup_procs.end());
    shim_args.push_back(req.path);
    shim_args.insert(shim_args.end(), req.argv.begin(), req.argv.end());
  }
  std::vector<char*> shim_argv = CStrings(shim_args);
  ShimArgs args{
      devnull,
      out,
      err,
      out_pipe[0],
      out_pipe[1],
      err_pipe[0],
      err_pipe[1],
      fds[1],
      max_fd,
      req.shim_path.empty() ? nullptr : req.shim_path.c_str(),
      shim_argv.data(),
      shim::ShimPlan{
          req.path.c_str(), argv.data(), envp.data(), req.cwd.c_str(), req.exit_file.c_str(),
          exit_tmp.c_str(), out_ptrs.data(), err_ptrs.data(), max_files, req.log_max_bytes,
          procs.data(),
          shim::TaskIsolation{
              req.namespaces, nullptr, req.set_identity, req.uid, req.gid, req.groups.data(),
              static_cast<int>(req.groups.size()), req.keep_caps,
              shim::TaskChroot{req.chroot_root.empty() ? nullptr : req.chroot_root.c_str(),
                               chroot_ro.data(), chroot_rw.data(), volumes.data()}}}};

  pid_t shim = _Fork();
  if (shim < 0) {
    int e = errno;
    close_all();
    return Status::ResourceExhausted("fork: " + ErrnoText(e));
  }
  if (shim == 0) RunShim(args);
  close(fds[1]);
  fds[1] = -1;

  // Read until EOF: the write ends close when the task exec's (close-on-exec)
  // and when the shim has reported the task's pid.
  pid_t task_pid = 0;
  char fail_tag = 0;
  int fail_errno = 0;
  PipeRecord rec;
  size_t have = 0;
  for (;;) {
    ssize_t n = read(fds[0], reinterpret_cast<char*>(&rec) + have, sizeof rec - have);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    have += static_cast<size_t>(n);
    if (have < sizeof rec) continue;
    have = 0;
    if (rec.tag == 'P') {
      task_pid = rec.value;
    } else if (fail_tag == 0) {
      fail_tag = rec.tag;
      fail_errno = rec.value;
    }
  }
  close_all();

  if (fail_tag != 0 || task_pid <= 0) {
    // The shim exits right after its task does; reap it and its record.
    int ws;
    while (waitpid(shim, &ws, 0) < 0 && errno == EINTR) {
    }
    unlink(req.exit_file.c_str());
    switch (fail_tag) {
      case 'C':
        return Status::FailedPrecondition("chdir " + req.cwd + ": " + ErrnoText(fail_errno));
      case 'E':
        return Status::FailedPrecondition("exec " + req.path + ": " + ErrnoText(fail_errno));
      case 'F':
        return Status::ResourceExhausted("fork: " + ErrnoText(fail_errno));
      case 'G':
        return Status::Internal("joining the task's cgroup: " + ErrnoText(fail_errno));
      case 'S':
        return Status::FailedPrecondition("exec " + req.shim_path + ": " + ErrnoText(fail_errno));
      case 'N':
        return Status::Internal("entering the task's namespaces: " + ErrnoText(fail_errno));
      case 'U':
        return Status::PermissionDenied("taking the task's user (uid " + std::to_string(req.uid) +
                                        ") and capabilities: " + ErrnoText(fail_errno));
      default:
        return Status::Internal("the task supervisor exited before starting " + req.path);
    }
  }
  return LaunchResult{shim, task_pid};
}

std::vector<std::string> RotatedLogFiles(const std::string& path, int max_files) {
  std::vector<std::string> out{path};
  for (int i = 1; i <= max_files; ++i) out.push_back(path + "." + std::to_string(i));
  return out;
}

Result<ExitRecord> ReadExitFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("no exit record at " + path);
  ExitRecord r;
  if (!(in >> r.exit_code >> r.signal >> r.finished_at_ms)) {
    return Status::Internal("cannot parse exit record " + path);
  }
  return r;
}

}  // namespace orch::agent
