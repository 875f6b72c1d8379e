// orchctl's verbs for periodic and parameterized jobs:
//   job dispatch JOB [PAYLOAD_FILE|-] [--meta k=v]...   run a parameterized job once
//   job periodic force JOB                             launch a periodic job now
// Both print the child job registered and its evaluation.
// Thread safety: as commands.h, one Context per command on one thread.
#pragma once

#include <map>
#include <string>

#include "api/orchctl/commands.h"
#include "common/status.h"

namespace orch::ctl {

Status JobDispatch(const Context& ctx, const std::string& job,
                   const std::map<std::string, std::string>& meta, const std::string& payload);
Status JobPeriodicForce(const Context& ctx, const std::string& job);

}  // namespace orch::ctl
