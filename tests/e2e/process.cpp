#include "process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/ports.h"

namespace orch::e2e {
namespace {

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> Environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : extra) env[k] = v;
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}

}  // namespace

Subprocess::Subprocess(std::vector<std::string> argv, const std::string& log_path,
                       const std::map<std::string, std::string>& env)
    : log_path_(log_path) {
  std::vector<std::string> envs = Environment(env);
  auto cargv = CStrings(argv);
  auto cenv = CStrings(envs);
  int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fd, 1);
    dup2(fd, 2);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(cargv[0], cargv.data(), cenv.data());
    _exit(127);
  }
  close(fd);
}

Subprocess::~Subprocess() {
  if (running()) {
    Signal(SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

bool Subprocess::running() {
  if (reaped_ || pid_ <= 0) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = st;
    return false;
  }
  return true;
}

void Subprocess::Signal(int sig) {
  if (!reaped_ && pid_ > 0) kill(pid_, sig);
}

int Subprocess::Wait(std::chrono::milliseconds timeout) {
  if (!WaitFor([&] { return !running(); }, timeout)) return -1;
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

std::string Subprocess::Log() const { return ReadFile(log_path_); }

CommandResult RunCommand(const std::vector<std::string>& argv_in,
                         const std::map<std::string, std::string>& env,
                         std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = argv_in;
  std::vector<std::string> envs = Environment(env);
  auto cargv = CStrings(argv);
  auto cenv = CStrings(envs);
  char out_tmpl[] = "/tmp/orch-e2e-out-XXXXXX";
  char err_tmpl[] = "/tmp/orch-e2e-err-XXXXXX";
  int out_fd = mkstemp(out_tmpl);
  int err_fd = mkstemp(err_tmpl);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    execve(cargv[0], cargv.data(), cenv.data());
    _exit(127);
  }
  close(out_fd);
  close(err_fd);
  CommandResult result;
  int status = 0;
  bool done = WaitFor([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout);
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    result.exit_code = -1;
  } else {
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  result.out = ReadFile(out_tmpl);
  result.err = ReadFile(err_tmpl);
  unlink(out_tmpl);
  unlink(err_tmpl);
  return result;
}

int FreePort() { return testing::FreeLoopbackPort(); }

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::vector<pid_t> ProcessesMatching(const std::function<bool(const std::string& cmdline)>& match) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid != getpid() && match(cmdline)) out.push_back(pid);
  }
  return out;
}

namespace {

// Every process's parent, from /proc/<pid>/stat (the field after the
// command name, which may itself hold spaces and parentheses).
std::multimap<pid_t, pid_t> ChildrenByParent() {
  std::multimap<pid_t, pid_t> children;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = ReadFile(e.path().string() + "/stat");
    auto rp = stat.rfind(')');
    if (rp == std::string::npos) continue;
    std::istringstream rest(stat.substr(rp + 1));
    std::string state;
    pid_t ppid = 0;
    if (rest >> state >> ppid) children.emplace(ppid, static_cast<pid_t>(std::stol(name)));
  }
  return children;
}

}  // namespace

int KillByMarker(const std::string& marker) {
  // A task's own command line rarely names the test (its supervisor's
  // does), so what the marked processes started goes too.
  std::vector<pid_t> doomed =
      ProcessesMatching([&](const std::string& c) { return c.find(marker) != std::string::npos; });
  if (doomed.empty()) return 0;
  const auto children = ChildrenByParent();
  std::set<pid_t> seen(doomed.begin(), doomed.end());
  for (size_t i = 0; i < doomed.size(); ++i) {
    auto [first, last] = children.equal_range(doomed[i]);
    for (auto it = first; it != last; ++it) {
      if (it->second != getpid() && seen.insert(it->second).second) doomed.push_back(it->second);
    }
  }
  int killed = 0;
  for (pid_t pid : doomed) {
    if (kill(pid, SIGKILL) == 0) ++killed;
  }
  return killed;
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  // A zombie is dead for our purposes.
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  auto rp = stat.rfind(')');
  return !(rp != std::string::npos && rp + 2 < stat.size() && stat[rp + 2] == 'Z');
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace orch::e2e
