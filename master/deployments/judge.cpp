#include "master/deployments/judge.h"

#include <algorithm>
#include <map>

#include "master/deployments/update_strategy.h"
#include "master/model/allocation.h"

namespace orch::master {
namespace {

std::string Seconds(int64_t ms) {
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace

GroupProgress ProgressOf(const v1::Deployment& d, const std::string& group,
                         const std::vector<v1::Allocation>& allocs) {
  GroupProgress p;
  for (const auto& a : allocs) {
    if (a.deployment_id() != d.id() || a.group() != group) continue;
    const auto h = a.deployment_status().health();
    if (h == v1::AllocDeploymentStatus::UNHEALTHY) ++p.unhealthy;
    if (!IsLive(a)) continue;
    ++p.placed;
    if (h == v1::AllocDeploymentStatus::HEALTHY) ++p.healthy;
    if (a.deployment_status().canary()) {
      ++p.canaries;
      if (h == v1::AllocDeploymentStatus::HEALTHY) ++p.healthy_canaries;
    }
  }
  return p;
}

std::string AddRevert(const v1::Job& job, const v1::Job* stable, const std::function<std::string()>& new_id,
                      v1::DeploymentUpdateCommand* cmd) {
  if (stable == nullptr) return "no stable version to roll back to";
  auto* r = cmd->mutable_revert();
  v1::Job spec = *stable;
  spec.clear_version();
  spec.clear_status();
  spec.clear_stop();
  spec.clear_create_index();
  spec.clear_modify_index();
  spec.clear_submit_time_ms();
  spec.clear_stable();
  *r->mutable_job() = std::move(spec);
  r->set_reverts_to(stable->version());
  r->set_deployment_id(new_id());
  auto* e = r->mutable_eval();
  e->set_id(new_id());
  e->set_job_id(job.id());
  e->set_triggered_by(v1::Evaluation::JOB_REGISTER);
  return "rolling back to version " + std::to_string(stable->version());
}

std::optional<v1::DeploymentUpdateCommand> JudgeDeployment(const JudgeInput& in) {
  const v1::Deployment& d = *in.deployment;
  if (d.status() != v1::Deployment::RUNNING) return std::nullopt;  // paused, or over
  v1::DeploymentUpdateCommand cmd;
  cmd.set_deployment_id(d.id());
  const v1::Job* job = in.job;
  if (job == nullptr || job->stop() || job->version() != d.job_version()) {
    cmd.set_status(v1::Deployment::CANCELLED);
    cmd.set_status_description(job == nullptr ? "the job was removed"
                               : job->stop()  ? "the job was stopped"
                                              : "superseded by job version " + std::to_string(job->version()));
    return cmd;
  }
  std::map<std::string, RollingUpdate> rules;
  for (const auto& g : job->groups()) rules[g.name()] = EffectiveUpdate(*job, g);
  const int64_t now = in.now_ms;
  std::map<std::string, int> healthy_now, newly_healthy, healthy_canaries;
  std::string failure;
  for (const auto& a : *in.allocs) {
    if (a.deployment_id() != d.id()) continue;
    auto rule = rules.find(a.group());
    if (rule == rules.end() || !rule->second.enabled) continue;
    const RollingUpdate& r = rule->second;
    auto health = a.deployment_status().health();
    if (health == v1::AllocDeploymentStatus::HEALTH_UNSPECIFIED && IsLive(a)) {
      const int64_t since = a.deployment_status().healthy_since_ms();
      const int64_t base = std::max(a.create_time_ms(), d.create_time_ms());
      if (since > 0 && now - since >= r.min_healthy_ms) {
        auto* h = cmd.add_alloc_health();
        h->set_alloc_id(a.id());
        h->set_healthy(true);
        h->set_description("healthy for " + Seconds(r.min_healthy_ms));
        health = v1::AllocDeploymentStatus::HEALTHY;
        ++newly_healthy[a.group()];
      } else if (now - base >= r.healthy_deadline_ms) {
        auto* h = cmd.add_alloc_health();
        h->set_alloc_id(a.id());
        h->set_healthy(false);
        h->set_description("not healthy within healthy_deadline (" + Seconds(r.healthy_deadline_ms) + ")");
        health = v1::AllocDeploymentStatus::UNHEALTHY;
      }
    }
    if (health == v1::AllocDeploymentStatus::UNHEALTHY && failure.empty()) {
      failure = "allocation " + a.name() + " is unhealthy";
      std::string why = a.deployment_status().description();
      if (!cmd.alloc_health().empty() && cmd.alloc_health().rbegin()->alloc_id() == a.id()) {
        why = cmd.alloc_health().rbegin()->description();
      }
      if (!why.empty()) failure += ": " + why;
    }
    if (health == v1::AllocDeploymentStatus::HEALTHY && IsLive(a)) {
      ++healthy_now[a.group()];
      if (a.deployment_status().canary()) ++healthy_canaries[a.group()];
    }
  }
  bool done = true;
  bool auto_revert = false;
  bool progress_changed = false;
  bool awaiting_promotion = false, promotable = true, auto_promote = true;
  for (const auto& g : d.groups()) {
    const RollingUpdate& r = rules[g.name()];
    auto_revert = auto_revert || g.auto_revert();
    // Canaries not promoted yet: the rollout waits (no progress deadline
    // once they are all healthy).
    const bool awaiting = g.desired_canaries() > 0 && !g.promoted();
    const bool canaries_ready = awaiting && healthy_canaries[g.name()] >= g.desired_canaries();
    if (awaiting) {
      awaiting_promotion = true;
      promotable = promotable && canaries_ready;
      auto_promote = auto_promote && g.auto_promote();
    }
    const bool complete = !awaiting && healthy_now[g.name()] >= g.desired_total();
    done = done && complete;
    int64_t by = 0;
    if (newly_healthy[g.name()] > 0) {
      by = now + r.progress_deadline_ms;
      progress_changed = true;
    } else if (!complete && !canaries_ready && g.require_progress_by_ms() > 0 && now > g.require_progress_by_ms() &&
               failure.empty()) {
      failure = "group " + g.name() + " made no progress within progress_deadline (" +
                Seconds(r.progress_deadline_ms) + ")";
    }
    cmd.add_require_progress_by_ms(by);
  }
  if (!progress_changed) cmd.clear_require_progress_by_ms();
  if (!failure.empty()) {
    cmd.set_status(v1::Deployment::FAILED);
    std::string desc = "failed: " + failure;
    if (auto_revert) desc += "; " + AddRevert(*job, in.stable, in.new_id, &cmd);
    cmd.set_status_description(desc);
    return cmd;
  }
  if (done) {
    int total = 0;
    for (const auto& g : d.groups()) total += g.desired_total();
    cmd.set_status(v1::Deployment::SUCCESSFUL);
    cmd.set_status_description("all " + std::to_string(total) + " allocation(s) healthy");
    return cmd;
  }
  if (awaiting_promotion && promotable && auto_promote) {
    cmd.set_promote(true);
    cmd.set_status_description("canaries healthy: promoted automatically");
    auto* e = cmd.add_evals();
    e->set_id(in.new_id());
    e->set_job_id(job->id());
    e->set_triggered_by(v1::Evaluation::DEPLOYMENT_WATCHER);
    return cmd;
  }
  if (cmd.alloc_health().empty()) return std::nullopt;
  if (!newly_healthy.empty()) {
    // The next batch may go now.
    auto* e = cmd.add_evals();
    e->set_id(in.new_id());
    e->set_job_id(job->id());
    e->set_triggered_by(v1::Evaluation::DEPLOYMENT_WATCHER);
  }
  return cmd;
}

}  // namespace orch::master
