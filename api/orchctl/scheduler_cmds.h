// orchctl's scheduler verbs: `plan -f JOB` (what would be placed where,
// the per-term scores, preemptions, why a group cannot be placed),
// `scale JOB GROUP N`, `node drain NODE [--deadline D] [--undo]`.
// Printing follows commands.h: lines for table output, the API's answer
// for json/yaml.
// Thread safety: as commands.h, one Context per command on one thread.
#pragma once

#include <chrono>
#include <string>

#include "api/orchctl/commands.h"
#include "common/status.h"

namespace orch::ctl {

Status PlanJob(const Context& ctx, const std::string& document);
Status ScaleJob(const Context& ctx, const std::string& job, const std::string& group, int count);
// `node` may be a node id, its unique prefix, or the node's name.
Status DrainNode(const Context& ctx, const std::string& node, bool undo, std::chrono::milliseconds deadline);

}  // namespace orch::ctl
