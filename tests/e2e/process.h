// Subprocess for end-to-end tests: start a real binary with its output in a
// file, signal it, wait for it with a deadline. Also free loopback ports and
// polling helpers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace orch::e2e {

class Subprocess {
 public:
  // Starts `argv[0]` with `argv` and extra `env`; stdout and stderr go to `log_path`.
  Subprocess(std::vector<std::string> argv, const std::string& log_path,
             const std::map<std::string, std::string>& env = {});
  ~Subprocess();  // SIGKILLs a process still running
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void Signal(int sig);
  // Waits for exit; returns the exit code, 128+signal when killed, or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout);
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
  std::string log_path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs a command to completion (at most `timeout`), capturing its output.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A loopback TCP port that was free a moment ago.
int FreePort();

// Polls `cond` every 50ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout);

bool ProcessAlive(pid_t pid);

// Processes (not this one) whose raw command line (arguments separated by
// NUL) satisfies `match`.
std::vector<pid_t> ProcessesMatching(const std::function<bool(const std::string& cmdline)>& match);

// SIGKILLs every process whose command line contains `marker` (a path only
// one test uses; end a directory with "/", or another test's directory
// that starts with the same name matches too) and every process those started (a task under its
// supervisor); returns how many there were.
int KillByMarker(const std::string& marker);

std::string ReadFile(const std::string& path);

}  // namespace orch::e2e
