// `orchctl events`: the cluster's event stream (GET /v1/event/stream), as
// `nomad event stream` or `kubectl get events --watch`: one line per event
// (index, topic, type, key and a short detail), or with -o json the stream's
// own lines (one JSON object per index). Without -f it prints the events
// the master still keeps and exits; with -f it follows until interrupted.
// Thread safety: as commands.h, one Context per command on one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api/orchctl/commands.h"
#include "common/status.h"

namespace orch::ctl {

struct EventsOptions {
  std::vector<std::string> topics;  // "Job", "Job:web", "*"; none: every topic
  uint64_t index = 0;               // only events after this index
  bool follow = false;
};

Status Events(const Context& ctx, const EventsOptions& opts);

}  // namespace orch::ctl
