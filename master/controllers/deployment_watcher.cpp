#include "master/controllers/deployment_watcher.h"

#include <spdlog/spdlog.h>

#include "common/ids.h"
#include "master/deployments/judge.h"

namespace orch::master {

int DeploymentWatcher::RunOnce() {
  if (!log_->IsLeader()) return 0;
  int proposed = 0;
  for (const auto& d : store_->RunningDeployments()) {
    auto job = store_->GetJob(d.job_id());
    std::vector<v1::Allocation> allocs = store_->ListAllocations(d.job_id());
    std::optional<v1::Job> stable;
    bool reverts = false;
    for (const auto& g : d.groups()) reverts = reverts || g.auto_revert();
    if (reverts) stable = store_->LatestStableVersion(d.job_id(), d.job_version());
    JudgeInput in;
    in.deployment = &d;
    in.job = job.ok() ? &*job : nullptr;
    in.allocs = &allocs;
    in.stable = stable ? &*stable : nullptr;
    in.now_ms = clock_->NowMs();
    in.new_id = [] { return NewUuid(); };
    auto update = JudgeDeployment(in);
    if (!update) continue;
    v1::Command cmd;
    cmd.set_time_ms(in.now_ms);
    *cmd.mutable_deployment_update() = *update;
    auto index = log_->Propose(cmd, std::chrono::seconds(10));
    if (!index.ok()) {
      spdlog::warn("deployment {} of job {}: update not applied: {}", ShortId(d.id()), d.job_id(),
                   index.status().ToString());
      continue;
    }
    ++proposed;
    if (update->status() != v1::Deployment::STATUS_UNSPECIFIED) {
      spdlog::info("deployment {} of job {} version {}: {}: {} (index {})", ShortId(d.id()), d.job_id(),
                   d.job_version(), v1::Deployment::Status_Name(update->status()), update->status_description(),
                   *index);
    } else {
      spdlog::info("deployment {} of job {}: {} allocation(s) judged (index {})", ShortId(d.id()), d.job_id(),
                   update->alloc_health_size(), *index);
    }
  }
  return proposed;
}

}  // namespace orch::master
