// `orchctl logs ALLOC [-f] [--task T] [--stderr] [--tail N]`: a task's
// output through the masters (which ask the agent that runs it). ALLOC may
// be an allocation id's unique prefix. With -f the output keeps coming
// until the task exits or orchctl is interrupted.
// Thread safety: one Context per command on one thread.
#pragma once

#include <cstdint>
#include <string>

#include "api/orchctl/commands.h"
#include "common/status.h"

namespace orch::ctl {

struct LogsOptions {
  std::string task;  // "" when the group has one task
  bool follow = false;
  bool stderr_stream = false;
  int64_t tail = -1;  // last lines; -1: all that is kept
};

Status LogsCommand(const Context& ctx, const std::string& alloc, const LogsOptions& opts);

}  // namespace orch::ctl
