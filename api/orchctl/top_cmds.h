// `orchctl top` (as `kubectl top`): nodes and running allocations by the
// load their agents measure (cpu in millicores, memory in MiB, averaged),
// next to what the scheduler reserved for them. The leader takes the
// heartbeats and reports that carry the measures, so orchctl asks it.
// Thread safety: as commands.h, one Context per command on one thread.
#pragma once

#include <string>

#include "api/orchctl/commands.h"
#include "common/status.h"

namespace orch::ctl {

struct TopOptions {
  std::string job;  // only this job's allocations ("" = all)
  int limit = 20;   // allocations shown, busiest first
};

Status Top(const Context& ctx, const TopOptions& opts);

}  // namespace orch::ctl
