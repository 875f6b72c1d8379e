// The deployment state machine, as a pure function of a running deployment,
// its job, its job's allocations and the time: which allocations are
// judged healthy or unhealthy now, whether the deployment succeeded, failed
// (an unhealthy allocation, a missed progress deadline) or must go on (an
// evaluation rolls the next batch), and with auto_revert the job version
// that replaces a failed one. The deployment watcher (leader) proposes what
// it returns; `orchctl deployment fail` uses the same revert rule.
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "orch/v1/command.pb.h"
#include "orch/v1/types.pb.h"

namespace orch::master {

struct JudgeInput {
  const v1::Deployment* deployment = nullptr;
  const v1::Job* job = nullptr;  // null: the job is gone
  const std::vector<v1::Allocation>* allocs = nullptr;  // the job's allocations
  // The newest stable version older than the deployment's (auto_revert).
  const v1::Job* stable = nullptr;
  int64_t now_ms = 0;
  std::function<std::string()> new_id;
};

// Nothing to propose: std::nullopt.
std::optional<v1::DeploymentUpdateCommand> JudgeDeployment(const JudgeInput& in);

// Fills `cmd->revert` so that `stable`'s spec becomes the running version
// of `job` (a new version), when `stable` is given; returns the text that
// says what happens ("rolling back to version N" / "no stable version to
// roll back to").
std::string AddRevert(const v1::Job& job, const v1::Job* stable, const std::function<std::string()>& new_id,
                      v1::DeploymentUpdateCommand* cmd);

// Counts of one group's allocations in a deployment (placed = live).
struct GroupProgress {
  int placed = 0;
  int healthy = 0;
  int unhealthy = 0;
  int canaries = 0;          // live, not promoted
  int healthy_canaries = 0;
};
GroupProgress ProgressOf(const v1::Deployment& d, const std::string& group,
                         const std::vector<v1::Allocation>& allocs);

}  // namespace orch::master
