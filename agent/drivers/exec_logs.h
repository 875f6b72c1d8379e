// Reading an exec task's output from its rotated log files (see
// exec_launch.h: <path> is the live file, <path>.1 .. <path>.N older ones):
// everything kept, oldest first, or only the last bytes, and with `follow`
// the live file as it grows, across rotations, until the task has exited
// and its last output is read, or the sink says stop. While following, the
// sink also gets an empty chunk between polls (driver.h).
// Thread safety: stateless; any number of readers per task.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "agent/drivers/driver.h"

namespace orch::agent {

struct TaskLogFiles {
  std::string stdout_path;
  std::string stderr_path;
  int max_files = 0;  // rotated files that may exist besides the live one
};

// `running` is asked between polls while following.
Status StreamTaskLogs(const TaskLogFiles& files, const LogOptions& opts, const LogSink& sink,
                      const std::function<bool()>& running,
                      std::chrono::milliseconds poll = std::chrono::milliseconds(200));

}  // namespace orch::agent
