#include "agent/drivers/exec_launch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/net.h"

namespace orch::agent {

namespace {

// A record the shim or the task writes to the status pipe.
struct PipeRecord {
  char tag;       // 'P' task pid, 'F' fork failed, 'C' chdir failed, 'E' exec failed
  int32_t value;  // pid or errno
};

// ---- async-signal-safe helpers (used between fork and exec) ----

void WriteRecord(int fd, char tag, int32_t value) {
  PipeRecord r{tag, value};
  ssize_t n;
  do {
    n = write(fd, &r, sizeof r);
  } while (n < 0 && errno == EINTR);
}

// Appends the decimal form of `v` to buf at *pos.
void AppendInt(char* buf, size_t cap, size_t* pos, int64_t v) {
  char tmp[24];
  size_t n = 0;
  bool neg = v < 0;
  uint64_t u = neg ? static_cast<uint64_t>(-(v + 1)) + 1 : static_cast<uint64_t>(v);
  do {
    tmp[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u > 0);
  if (neg && *pos < cap) buf[(*pos)++] = '-';
  while (n > 0 && *pos < cap) buf[(*pos)++] = tmp[--n];
}

void ResetSignalsForExec() {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    sigaction(sig, &sa, nullptr);  // fails harmlessly for invalid numbers
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

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

// The shim: runs in the forked child, never returns.
[[noreturn]] void RunShim(const LaunchRequest& req, char* const* argv, char* const* envp,
                          int devnull, int out, int err, int status_fd, int max_fd,
                          const char* exit_tmp) {
  setsid();
  IgnoreShutdownSignals();
  // Move our fds above the standard ones first, so dup2 cannot clobber them.
  int hi_null = fcntl(devnull, F_DUPFD_CLOEXEC, 100);
  int hi_out = fcntl(out, F_DUPFD_CLOEXEC, 100);
  int hi_err = fcntl(err, F_DUPFD_CLOEXEC, 100);
  int hi_status = fcntl(status_fd, F_DUPFD_CLOEXEC, 100);
  if (hi_null < 0 || hi_out < 0 || hi_err < 0 || hi_status < 0) {
    WriteRecord(status_fd, 'F', errno);
    _exit(126);
  }
  dup2(hi_null, 0);
  dup2(hi_out, 1);
  dup2(hi_err, 2);
  dup2(hi_status, 3);
  fcntl(3, F_SETFD, FD_CLOEXEC);
  // Nothing of the agent's (sockets, listeners, other tasks' pipes) may
  // outlive it in the shim or leak into the task.
  CloseFrom(4, max_fd);

  pid_t pid = _Fork();
  if (pid < 0) {
    WriteRecord(3, 'F', errno);
    _exit(126);
  }
  if (pid == 0) {
    // The task. Its own process group, so a stop signals it and its children.
    setpgid(0, 0);
    // Cgroup seam: join the task's cgroup here.
    ResetSignalsForExec();
    if (chdir(req.cwd.c_str()) != 0) {
      WriteRecord(3, 'C', errno);
      _exit(127);
    }
    execve(req.path.c_str(), argv, envp);
    WriteRecord(3, 'E', errno);
    _exit(127);
  }
  // Set the group from this side too, so it exists before anyone signals it.
  setpgid(pid, pid);
  WriteRecord(3, 'P', pid);
  close(3);

  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) _exit(125);
  }
  int code = -1, sig = 0;
  if (WIFEXITED(wstatus)) {
    code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    sig = WTERMSIG(wstatus);
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t ms = static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;

  char buf[96];
  size_t pos = 0;
  AppendInt(buf, sizeof buf, &pos, code);
  buf[pos++] = ' ';
  AppendInt(buf, sizeof buf, &pos, sig);
  buf[pos++] = ' ';
  AppendInt(buf, sizeof buf, &pos, ms);
  buf[pos++] = '\n';
  int fd = open(exit_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    (void)!write(fd, buf, pos);
    fsync(fd);
    close(fd);
    rename(exit_tmp, req.exit_file.c_str());
  }
  _exit(0);
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
  int out = open(req.stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int out_errno = errno;
  int err = open(req.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int err_errno = errno;
  int fds[2] = {-1, -1};
  int pipe_rc = pipe2(fds, O_CLOEXEC);
  auto close_all = [&] {
    for (int fd : {devnull, out, err, fds[0], fds[1]}) {
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

  pid_t shim = _Fork();
  if (shim < 0) {
    int e = errno;
    close_all();
    return Status::ResourceExhausted("fork: " + ErrnoText(e));
  }
  if (shim == 0) {
    RunShim(req, argv.data(), envp.data(), devnull, out, err, fds[1], max_fd, exit_tmp.c_str());
  }
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
      default:
        return Status::Internal("the task supervisor exited before starting " + req.path);
    }
  }
  return LaunchResult{shim, task_pid};
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
