#include "agent/drivers/exec_shim.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

namespace orch::agent::shim {

void WriteRecord(int fd, char tag, int32_t value) {
  PipeRecord r{tag, value};
  ssize_t n;
  do {
    n = write(fd, &r, sizeof r);
  } while (n < 0 && errno == EINTR);
}

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

namespace {

// One log stream as the shim writes it (async-signal-safe only).
struct Sink {
  int fd;
  int64_t size;
  const char* const* names;
};

void Rotate(Sink& s, int max_files) {
  if (max_files <= 0) {
    (void)!ftruncate(s.fd, 0);  // O_APPEND: the next write lands at 0
    s.size = 0;
    return;
  }
  for (int i = max_files - 1; i >= 0; --i) rename(s.names[i], s.names[i + 1]);
  int fd = open(s.names[0], O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) {
    dup2(fd, s.fd);
    fcntl(s.fd, F_SETFD, FD_CLOEXEC);
    close(fd);
  }
  s.size = 0;
}

// Appends to the live file, rotating whenever it is full, so no file
// passes max_bytes.
void Emit(Sink& s, const char* buf, ssize_t n, const ShimPlan& a) {
  while (n > 0) {
    if (a.max_bytes > 0 && s.size >= a.max_bytes) Rotate(s, a.max_files);
    ssize_t k = a.max_bytes > 0 ? std::min<ssize_t>(n, a.max_bytes - s.size) : n;
    ssize_t w = write(s.fd, buf, static_cast<size_t>(k));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // disk full: the output is lost, the task goes on
    buf += w;
    n -= w;
    s.size += w;
  }
}

// Copies one readable pipe; false once it is closed.
bool Pump(int fd, Sink& s, const ShimPlan& a, char* buf, size_t cap) {
  ssize_t k = read(fd, buf, cap);
  if (k > 0) {
    Emit(s, buf, k, a);
    return true;
  }
  return k < 0 && (errno == EINTR || errno == EAGAIN);
}

// Joins the task's cgroups (in the task, before exec); errno on failure.
// The task's cgroup.procs files, opened before a chroot hides them.
struct CgroupFds {
  static constexpr int kMax = 8;
  int fd[kMax];
  int n = 0;
};

int OpenCgroups(const char* const* procs, CgroupFds* out) {
  for (const char* const* p = procs; *p != nullptr; ++p) {
    if (out->n == CgroupFds::kMax) return E2BIG;
    int fd = open(*p, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    out->fd[out->n++] = fd;
  }
  return 0;
}

// Moves the calling process into the opened cgroups and closes them.
int JoinCgroups(const CgroupFds& fds) {
  char pid[24];
  size_t n = 0;
  AppendInt(pid, sizeof pid, &n, getpid());
  int err = 0;
  for (int i = 0; i < fds.n; ++i) {
    ssize_t w = write(fds.fd[i], pid, n);
    if (w != static_cast<ssize_t>(n) && err == 0) err = w < 0 ? errno : EIO;
    close(fds.fd[i]);
  }
  return err;
}

// Reports a failure before exec on the status pipe, then leaves with `code`
// (126: the supervisor's side, 127: the task's).
[[noreturn]] void Fail(char tag, int err, int code) {
  WriteRecord(kFdStatus, tag, err);
  _exit(code);
}

// The task itself, in its forked child: never returns. `creds_fd` (with
// namespaces) is where it tells the shim its pid as the host sees it.
[[noreturn]] void ExecTask(const ShimPlan& a, int creds_fd, const CgroupFds& cgroups) {
  // Its own process group, so a stop signals it and its children.
  setpgid(0, 0);
  if (creds_fd >= 0) {
    // One byte; the kernel attaches our pid (SO_PASSCRED on the other end)
    // and translates it into the shim's pid namespace.
    char b = 'p';
    struct iovec iov = {&b, 1};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    while (sendmsg(creds_fd, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
    close(creds_fd);
  }
  if (int e = JoinCgroups(cgroups); e != 0) {
    Fail('G', e, 127);
  }
  ResetSignalsForExec();
  if (chdir(a.cwd) != 0) {
    Fail('C', errno, 127);
  }
  if (int e = ApplyTaskIdentity(a.iso); e != 0) {
    Fail('U', e, 127);
  }
  execve(a.path, a.argv, a.envp);
  Fail('E', errno, 127);
}

// pid 1 of the task's pid namespace: sets up the other namespaces, forks the
// task, reaps whatever is orphaned and, once the task ends, writes its wait
// status to `status_fd` and leaves (the kernel then kills what is left in
// the namespace).
[[noreturn]] void RunInit(const ShimPlan& a, int creds_fd, int status_fd) {
  CgroupFds cgroups;
  if (int e = OpenCgroups(a.procs, &cgroups); e != 0) {
    Fail('G', e, 126);
  }
  if (int e = EnterTaskNamespaces(a.iso); e != 0) {
    Fail('N', e, 126);
  }
  pid_t task = _Fork();
  if (task < 0) {
    Fail('F', errno, 126);
  }
  if (task == 0) {
    close(status_fd);
    ExecTask(a, creds_fd, cgroups);
  }
  setpgid(task, task);
  close(creds_fd);
  for (int i = 0; i < cgroups.n; ++i) close(cgroups.fd[i]);
  // Nothing of the shim's: the task alone holds its pipes and the status pipe.
  dup2(0, 1);
  dup2(0, 2);
  for (int fd = kFdStatus; fd <= kFdErrPipe; ++fd) close(fd);
  for (;;) {
    int ws;
    pid_t r = waitpid(-1, &ws, 0);
    if (r == task) {
      (void)!write(status_fd, &ws, sizeof ws);
      _exit(0);
    }
    if (r < 0 && errno != EINTR) _exit(0);
  }
}

// The host pid the task sent (ExecTask), 0 if it closed without.
pid_t ReceivePid(int fd) {
  char b;
  struct iovec iov = {&b, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(struct ucred))];
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = recvmsg(fd, &msg, 0)) < 0 && errno == EINTR) {
  }
  if (n <= 0) return 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
      struct ucred cred;
      memcpy(&cred, CMSG_DATA(c), sizeof cred);
      return cred.pid;
    }
  }
  return 0;
}

}  // namespace

[[noreturn]] void Run(const ShimPlan& a) {
  // With namespaces the shim forks an init into a new pid namespace and
  // waits for it; the task is the init's child.
  int creds[2] = {-1, -1}, init_status[2] = {-1, -1};
  if (a.iso.namespaces) {
    int one = 1;
    if (unshare(CLONE_NEWPID) != 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, creds) != 0 ||
        setsockopt(creds[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0 ||
        pipe2(init_status, O_CLOEXEC) != 0) {
      Fail('N', errno, 126);
    }
  }
  pid_t pid = _Fork();
  if (pid < 0) {
    Fail('F', errno, 126);
  }
  if (pid == 0) {
    if (!a.iso.namespaces) {
      CgroupFds cgroups;
      if (int e = OpenCgroups(a.procs, &cgroups); e != 0) {
        Fail('G', e, 127);
      }
      ExecTask(a, -1, cgroups);
    }
    close(creds[0]);
    close(init_status[0]);
    RunInit(a, creds[1], init_status[1]);
  }
  // `pid` is the process the shim waits for: the task, or its init.
  if (a.iso.namespaces) {
    close(creds[1]);
    close(init_status[1]);
    pid_t task = ReceivePid(creds[0]);
    close(creds[0]);
    // Without a pid the task failed before exec and said why on the status pipe.
    if (task > 0) WriteRecord(kFdStatus, 'P', task);
  } else {
    // Set the group from this side too, so it exists before anyone signals it.
    setpgid(pid, pid);
    WriteRecord(kFdStatus, 'P', pid);
  }
  close(kFdStatus);
  // Only the task holds the pipes' write ends now: EOF when it (and its
  // children) close them.
  dup2(0, 1);
  dup2(0, 2);

  struct stat st;
  Sink out{kFdOutFile, fstat(kFdOutFile, &st) == 0 ? st.st_size : 0, a.out_names};
  Sink err{kFdErrFile, fstat(kFdErrFile, &st) == 0 ? st.st_size : 0, a.err_names};
  int pidfd = -1;
#ifdef SYS_pidfd_open
  pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#endif
  char buf[16384];
  bool out_open = true, err_open = true;
  int wstatus = 0;
  for (;;) {
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) _exit(125);
    struct pollfd pfd[3];
    int n = 0, i_out = -1, i_err = -1;
    if (out_open) {
      pfd[n] = {kFdOutPipe, POLLIN, 0};
      i_out = n++;
    }
    if (err_open) {
      pfd[n] = {kFdErrPipe, POLLIN, 0};
      i_err = n++;
    }
    if (pidfd >= 0) pfd[n++] = {pidfd, POLLIN, 0};
    // Without a pidfd, look for the exit every 100 ms.
    if (poll(pfd, static_cast<nfds_t>(n), pidfd >= 0 ? -1 : 100) <= 0) continue;
    if (i_out >= 0 && pfd[i_out].revents != 0) {
      out_open = Pump(kFdOutPipe, out, a, buf, sizeof buf);
    }
    if (i_err >= 0 && pfd[i_err].revents != 0) {
      err_open = Pump(kFdErrPipe, err, a, buf, sizeof buf);
    }
  }
  // What the task wrote last is still in the pipes. Children it left
  // behind may keep writing: take what is there, boundedly, and go.
  fcntl(kFdOutPipe, F_SETFL, O_NONBLOCK);
  fcntl(kFdErrPipe, F_SETFL, O_NONBLOCK);
  for (int i = 0; i < 256 && out_open; ++i) {
    ssize_t k = read(kFdOutPipe, buf, sizeof buf);
    if (k <= 0) break;
    Emit(out, buf, k, a);
  }
  for (int i = 0; i < 256 && err_open; ++i) {
    ssize_t k = read(kFdErrPipe, buf, sizeof buf);
    if (k <= 0) break;
    Emit(err, buf, k, a);
  }

  if (a.iso.namespaces) {
    // The task's own status, as its init saw it; none when the init itself
    // was killed (a SIGKILL of the group, the OOM killer): then the init's.
    int task_status;
    if (read(init_status[0], &task_status, sizeof task_status) == sizeof task_status) {
      wstatus = task_status;
    }
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

  char rec[96];
  size_t pos = 0;
  AppendInt(rec, sizeof rec, &pos, code);
  rec[pos++] = ' ';
  AppendInt(rec, sizeof rec, &pos, sig);
  rec[pos++] = ' ';
  AppendInt(rec, sizeof rec, &pos, ms);
  rec[pos++] = '\n';
  int fd = open(a.exit_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) {
    (void)!write(fd, rec, pos);
    fsync(fd);
    close(fd);
    rename(a.exit_tmp, a.exit_file);
  }
  _exit(0);
}

}  // namespace orch::agent::shim
