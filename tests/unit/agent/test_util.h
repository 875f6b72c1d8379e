// Helpers shared by the agent tests: temporary data dirs, polling with a
// deadline, reading files and /proc.
#pragma once

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/drivers/procfs.h"

namespace orch::agent::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/orch-agent-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls `pred` until it holds or `deadline` passes; returns its last value.
inline bool WaitFor(const std::function<bool()>& pred,
                    std::chrono::milliseconds deadline = std::chrono::milliseconds(15000)) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

inline std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Children of this process that are zombies (exited, not reaped).
inline std::vector<pid_t> ZombieChildren() {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = atoi(e->d_name);
    if (pid <= 0) continue;
    auto st = ReadProcStat(pid);
    if (st.ok() && st->ppid == getpid() && st->state == 'Z') out.push_back(pid);
  }
  closedir(d);
  return out;
}

// Processes whose command line contains `marker`.
inline std::vector<pid_t> ProcessesWithArg(const std::string& marker) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = atoi(e->d_name);
    if (pid <= 0 || pid == getpid()) continue;
    std::string cmd = Slurp("/proc/" + std::to_string(pid) + "/cmdline");
    for (auto& c : cmd) {
      if (c == '\0') c = ' ';
    }
    auto st = ReadProcStat(pid);
    if (cmd.find(marker) != std::string::npos && st.ok() && st->state != 'Z') out.push_back(pid);
  }
  closedir(d);
  return out;
}

}  // namespace orch::agent::testing
