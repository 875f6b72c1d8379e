#include "agent/health/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "agent/health/probe_inside.h"
#include "common/http_client.h"

namespace orch::agent::health {

namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

std::string OneLine(std::string s, std::size_t max = 200) {
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (s.size() > max) s = s.substr(0, max) + "...";
  return s;
}

}  // namespace

ProbeResult ProbeHttp(int port, const std::string& path, std::chrono::milliseconds timeout) {
  if (port <= 0) return {false, "the check's port is not assigned"};
  HttpClientOptions opts;
  opts.connect_timeout = timeout;
  opts.timeout = timeout;
  HttpClient client(opts);
  std::string p = path.empty() ? "/" : path;
  if (p[0] != '/') p = "/" + p;
  auto resp = client.Get("http://127.0.0.1:" + std::to_string(port) + p, timeout);
  if (!resp.ok()) return {false, "GET " + p + ": " + resp.status().message()};
  bool ok = resp->status >= 200 && resp->status < 400;
  return {ok, "GET " + p + ": HTTP " + std::to_string(resp->status)};
}

ProbeResult ProbeTcp(int port, std::chrono::milliseconds timeout) {
  if (port <= 0) return {false, "the check's port is not assigned"};
  std::string where = "connect 127.0.0.1:" + std::to_string(port);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return {false, where + ": socket: " + strerror(errno)};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = rc == 0 ? 0 : errno;
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int n;
    do {
      n = poll(&p, 1, static_cast<int>(timeout.count()));
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
      close(fd);
      return {false, where + ": timed out after " + std::to_string(timeout.count()) + "ms"};
    }
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  }
  close(fd);
  if (err != 0) return {false, where + ": " + strerror(err)};
  return {true, where + ": ok"};
}

namespace {
ProbeResult Collect(const std::string& command, pid_t pid, int out,
                    std::chrono::milliseconds timeout);
}  // namespace

ProbeResult ProbeCommand(const std::string& command, const std::vector<std::string>& args,
                         const std::vector<std::pair<std::string, std::string>>& env,
                         const std::string& cwd, std::chrono::milliseconds timeout, int task_pid) {
  if (command.empty()) return {false, "the check names no command"};
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return {false, std::string("pipe: ") + strerror(errno)};

  std::vector<std::string> argv_s{command};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  std::string path_value = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& [k, v] : env) {
    env_s.push_back(k + "=" + v);
    if (k == "PATH") path_value = v;
  }
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  if (task_pid > 0) {
    // Inside the task: the command is looked up in the task's own files.
    auto spawned = SpawnInside(task_pid, command, args, env_s, path_value, cwd, pipefd[1]);
    close(pipefd[1]);
    if (!spawned.ok()) {
      close(pipefd[0]);
      return {false, "command " + command + ": " + spawned.status().message()};
    }
    pid = *spawned;
    return Collect(command, pid, pipefd[0], timeout);
  }
  // Resolve the command against the task's PATH (posix_spawnp would use ours).
  std::string resolved = command;
  if (command.find('/') == std::string::npos) {
    resolved.clear();
    std::size_t start = 0;
    while (start <= path_value.size()) {
      std::size_t end = path_value.find(':', start);
      if (end == std::string::npos) end = path_value.size();
      std::string dir = path_value.substr(start, end - start);
      std::string cand = (dir.empty() ? "." : dir) + "/" + command;
      if (access(cand.c_str(), X_OK) == 0) {
        resolved = cand;
        break;
      }
      start = end + 1;
    }
    if (resolved.empty()) {
      close(pipefd[0]);
      close(pipefd[1]);
      return {false, "command " + command + ": not found in PATH"};
    }
  }

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);  // the agent blocks its shutdown signals
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  int rc = posix_spawn(&pid, resolved.c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(pipefd[1]);
  if (rc != 0) {
    close(pipefd[0]);
    return {false, "command " + command + ": " + strerror(rc)};
  }
  return Collect(command, pid, pipefd[0], timeout);
}

namespace {

// Reads the command's output from `out` until it exits or the timeout
// passes (then its process group is killed); closes `out`.
ProbeResult Collect(const std::string& command, pid_t pid, int out,
                    std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  std::string output;
  bool timed_out = false, exited = false, pipe_open = true;
  int ws = 0;
  while (!exited) {
    if (pipe_open) {
      pollfd p{out, POLLIN, 0};
      int n = poll(&p, 1, std::min(RemainingMs(deadline), 20));
      if (n > 0) {
        char buf[512];
        ssize_t r = read(out, buf, sizeof buf);
        if (r > 0 && output.size() < 4096) output.append(buf, static_cast<std::size_t>(r));
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) pipe_open = false;
      }
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_t w = waitpid(pid, &ws, WNOHANG);
    if (w == pid || (w < 0 && errno != EINTR)) {
      exited = true;
    } else if (Clock::now() >= deadline) {
      timed_out = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
      }
      break;
    }
  }
  // What is left in the pipe (the command may have written just before exiting).
  for (pollfd p{out, POLLIN, 0}; pipe_open && output.size() < 4096 && poll(&p, 1, 0) > 0;) {
    char buf[512];
    ssize_t r = read(out, buf, sizeof buf);
    if (r <= 0) break;
    output.append(buf, static_cast<std::size_t>(r));
  }
  close(out);
  if (timed_out) {
    return {false, "command " + command + ": timed out after " + std::to_string(timeout.count()) +
                       "ms"};
  }
  std::string line = OneLine(output);
  if (WIFSIGNALED(ws)) {
    return {false, "command " + command + ": killed by signal " + std::to_string(WTERMSIG(ws))};
  }
  int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
  std::string msg = "command " + command + ": exit " + std::to_string(code);
  if (!line.empty()) msg += ": " + line;
  return {code == 0, msg};
}

}  // namespace

}  // namespace orch::agent::health
