#include "agent/drivers/procfs.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace orch::agent {

Result<ProcStat> ReadProcStat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) {
    return Status::NotFound("process " + std::to_string(pid) + " does not exist");
  }
  // The command name (field 2) is in parentheses and may hold spaces or
  // parentheses itself, so parse from the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) {
    return Status::Internal("cannot parse /proc/" + std::to_string(pid) + "/stat");
  }
  std::istringstream rest(line.substr(close + 2));
  ProcStat st;
  // Fields from 3 on: state ppid pgrp session tty_nr tpgid flags minflt
  // cminflt majflt cmajflt utime stime cutime cstime priority nice
  // num_threads itrealvalue starttime.
  std::string skip;
  rest >> st.state >> st.ppid >> st.pgrp;
  for (int i = 6; i <= 13; ++i) rest >> skip;
  rest >> st.utime >> st.stime;
  for (int i = 16; i <= 21; ++i) rest >> skip;
  rest >> st.start_ticks;
  if (!rest) return Status::Internal("cannot parse /proc/" + std::to_string(pid) + "/stat");
  return st;
}

Result<int64_t> ReadRssBytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return Status::NotFound("process " + std::to_string(pid) + " does not exist");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream s(line.substr(6));
      int64_t kb = 0;
      s >> kb;
      return kb * 1024;
    }
  }
  return int64_t{0};
}

bool ProcessAlive(pid_t pid, uint64_t start_ticks) {
  if (pid <= 0) return false;
  auto st = ReadProcStat(pid);
  if (!st.ok()) return false;
  if (st->state == 'Z' || st->state == 'X' || st->state == 'x') return false;
  return start_ticks == 0 || st->start_ticks == start_ticks;
}

int64_t ClockTicksPerSecond() {
  static const int64_t ticks = [] {
    long t = sysconf(_SC_CLK_TCK);
    return t > 0 ? static_cast<int64_t>(t) : int64_t{100};
  }();
  return ticks;
}

}  // namespace orch::agent
