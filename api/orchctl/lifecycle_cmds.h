// orchctl's lifecycle verbs: `alloc restart ALLOC [--task T]` (the tasks
// restart in place on their agent), `alloc stop ALLOC` (a service's
// allocation is replaced), and `job restart JOB`: every running allocation
// restarted in place, max_parallel (the group's update block, default 1) at
// a time, each batch once the one before runs and passes its checks again.
// Thread safety: as commands.h, one Context per command on one thread.
#pragma once

#include <chrono>
#include <string>

#include "api/orchctl/commands.h"
#include "common/status.h"

namespace orch::ctl {

// `id` may be an id's unique prefix.
Status AllocRestart(const Context& ctx, const std::string& id, const std::string& task);
Status AllocStop(const Context& ctx, const std::string& id);
Status AllocSignal(const Context& ctx, const std::string& id, const std::string& signal, const std::string& task);
Status JobRestart(const Context& ctx, const std::string& job, std::chrono::milliseconds batch_timeout);

}  // namespace orch::ctl
