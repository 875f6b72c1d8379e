#include "master/state/gc_rules.h"

#include <algorithm>

#include "master/state/state_store.h"

namespace orch::master {

bool EvalCollectable(const v1::Evaluation& e, int64_t cutoff_ms) {
  const bool ended = e.status() == v1::Evaluation::COMPLETE || e.status() == v1::Evaluation::FAILED;
  return ended && e.modify_time_ms() <= cutoff_ms;
}

bool AllocCollectable(const v1::Allocation& a, const v1::Job* job, const std::vector<v1::Allocation>& siblings,
                      const std::string& active_deployment, int64_t cutoff_ms) {
  if (!IsTerminal(a) || a.modify_time_ms() > cutoff_ms) return false;
  if (job == nullptr || job->stop()) return true;
  if (!a.deployment_id().empty() && a.deployment_id() == active_deployment) return false;
  if (a.desired_status() == v1::Allocation::STOP && a.client_status() != v1::Allocation::LOST) return true;
  return std::any_of(siblings.begin(), siblings.end(),
                     [&](const v1::Allocation& s) { return s.previous_allocation() == a.id(); });
}

bool JobCollectable(const v1::Job& job, const std::vector<v1::Allocation>& allocs,
                    const std::vector<v1::Evaluation>& evals, int64_t cutoff_ms) {
  int64_t newest = job.submit_time_ms();
  bool all_ended = true;
  for (const auto& a : allocs) {
    if (IsLive(a)) return false;
    all_ended = all_ended && IsTerminal(a);
    newest = std::max(newest, a.modify_time_ms());
  }
  for (const auto& e : evals) {
    if (e.status() == v1::Evaluation::PENDING || e.status() == v1::Evaluation::BLOCKED) return false;
    newest = std::max(newest, e.modify_time_ms());
  }
  const bool dead = job.stop() || (job.type() == v1::Job::BATCH && !allocs.empty() && all_ended);
  return dead && newest <= cutoff_ms;
}

bool DeploymentCollectable(const v1::Deployment& d, bool latest_of_job, int64_t cutoff_ms) {
  const bool ended = d.status() == v1::Deployment::SUCCESSFUL || d.status() == v1::Deployment::FAILED ||
                     d.status() == v1::Deployment::CANCELLED;
  return ended && !latest_of_job && d.modify_time_ms() <= cutoff_ms;
}

}  // namespace orch::master
