// Reading /proc: process identity (start time, to tell a recycled pid from
// the task), liveness and resource use.
// Thread safety: stateless functions.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "common/status.h"

namespace orch::agent {

struct ProcStat {
  char state = '?';  // R, S, D, Z, T, ...
  pid_t ppid = 0;
  pid_t pgrp = 0;
  uint64_t utime = 0;        // clock ticks
  uint64_t stime = 0;        // clock ticks
  uint64_t start_ticks = 0;  // field 22: start time since boot, clock ticks
};

// NotFound when the process does not exist.
Result<ProcStat> ReadProcStat(pid_t pid);

// VmRSS in bytes (0 for kernel threads and zombies).
Result<int64_t> ReadRssBytes(pid_t pid);

// True when `pid` exists, is not a zombie and started at `start_ticks`
// (0 = do not check the start time).
bool ProcessAlive(pid_t pid, uint64_t start_ticks);

int64_t ClockTicksPerSecond();

}  // namespace orch::agent
