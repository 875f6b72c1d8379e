// `orchctl eval status ID [--monitor]` and `orchctl eval list [--job J]` (as
// `nomad eval status`): an evaluation is the scheduler's unit of work -- a
// job submitted, a node gone, an allocation failed -- and its status says
// whether everything was placed (complete), not all fit (blocked: the
// description is the scheduler's explanation, e.g. "group web: 2 cannot be
// placed: 3 nodes filtered: 2 memory exhausted"), or it failed.
// Thread safety: as commands.h, one Context per command on one thread.
#pragma once

#include <chrono>
#include <string>

#include "api/orchctl/commands.h"
#include "common/status.h"

namespace orch::ctl {

// Prints the evaluation. With `monitor`, first follows it (blocking
// queries) while it is pending, a line per change, up to `timeout`; then
// answers FailedPrecondition when it ended blocked or failed (exit 1), so a
// script can tell.
Status EvalStatus(const Context& ctx, const std::string& id, bool monitor,
                  std::chrono::milliseconds timeout);
// Evaluations, oldest first (of job `job` when not empty).
Status EvalList(const Context& ctx, const std::string& job);

}  // namespace orch::ctl
