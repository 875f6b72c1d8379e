// orchctl's deployment verbs: `job history JOB` (the versions kept, which
// are stable, what their deployments did), `job revert JOB VERSION`,
// `deployment list [--job J]`, `deployment status ID` and
// `deployment pause|resume|fail ID`; and the progress line `run --wait`
// prints while a rolling deployment goes on.
// Printing follows commands.h: lines for table output, the API's answer
// for json/yaml.
// Thread safety: as commands.h, one Context per command on one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "api/orchctl/commands.h"
#include "common/status.h"
#include "orch/v1/api.pb.h"
#include "orch/v1/types.pb.h"

namespace orch::ctl {

Status JobHistory(const Context& ctx, const std::string& job);
Status JobRevert(const Context& ctx, const std::string& job, uint64_t version);
Status DeploymentList(const Context& ctx, const std::string& job);
// `id` may be an id's unique prefix.
Status DeploymentStatus(const Context& ctx, const std::string& id);
// action: pause, resume or fail.
Status DeploymentAct(const Context& ctx, const std::string& id, const std::string& action);

// `job diff -f FILE`: what the file changes against the running version,
// field by field, and what that does to each group.
Status JobDiffCommand(const Context& ctx, const std::string& document);
// The diff as lines ("+ added", "- deleted", "~ edited"); also under `plan`.
std::string FormatJobDiff(const v1::JobDiff& diff, const std::string& job_id);

// `run --wait`'s view of a deployment: a header line, then a line per
// group with a progress bar ("  web  [##########----------]  2/3 healthy,
// 3 placed, 0 unhealthy").
std::vector<std::string> DeploymentLines(const v1::Deployment& d);

// "web: 2/3 healthy (3 placed, 0 unhealthy)" per group, "; " between them.
std::string DeploymentProgress(const v1::Deployment& d);

}  // namespace orch::ctl
