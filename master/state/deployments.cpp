// Job versions and deployments in the state machine: the history of each
// job's specs, the deployment that rolls each new version out, and the
// health bookkeeping of the allocations it places. Apply stays
// deterministic: ids come from the commands, time from cmd.time_ms().
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "common/ids.h"
#include "master/deployments/judge.h"
#include "master/deployments/update_strategy.h"
#include "master/state/state_store.h"

namespace orch::master {
namespace {

constexpr uint32_t kDefaultKeepVersions = 10;

bool Active(const v1::Deployment& d) {
  return d.status() == v1::Deployment::RUNNING || d.status() == v1::Deployment::PAUSED;
}

}  // namespace

Status StateStore::PutDeployment(const v1::Deployment& d) {
  ORCH_ASSIGN_OR_RETURN(
      auto stmt, db_->Prepare("INSERT OR REPLACE INTO deployments(id, job_id, status, seq, data) VALUES(?, ?, ?, ?, ?)"));
  stmt.Bind(1, d.id());
  stmt.Bind(2, d.job_id());
  stmt.Bind(3, static_cast<int64_t>(d.status()));
  stmt.Bind(4, static_cast<int64_t>(d.create_index()));
  std::string bytes = d.SerializeAsString();
  stmt.BindBlob(5, bytes);
  ORCH_RETURN_IF_ERROR(stmt.Run());
  NoteEvent("Deployment", "DeploymentUpdated", d.id(), d.job_id(), std::move(bytes));
  return Status::Ok();
}

std::optional<v1::Deployment> StateStore::ActiveDeploymentLocked(const std::string& job_id) const {
  auto ds = LoadMany<v1::Deployment>("SELECT data FROM deployments WHERE job_id=? AND status IN (" +
                                         std::to_string(v1::Deployment::RUNNING) + "," +
                                         std::to_string(v1::Deployment::PAUSED) + ") ORDER BY seq DESC LIMIT 1",
                                     {job_id});
  if (ds.empty()) return std::nullopt;
  return ds.front();
}

Status StateStore::CancelActiveDeployment(uint64_t index, int64_t time_ms, const std::string& job_id,
                                          const std::string& why) {
  auto d = ActiveDeploymentLocked(job_id);
  if (!d) return Status::Ok();
  d->set_status(v1::Deployment::CANCELLED);
  d->set_status_description(why);
  d->set_modify_index(index);
  d->set_modify_time_ms(time_ms);
  return PutDeployment(*d);
}

Status StateStore::RecordJobVersion(uint64_t index, int64_t time_ms, const v1::Job& job, const v1::Job* old,
                                    const v1::RegisterJobCommand& c) {
  {
    ORCH_ASSIGN_OR_RETURN(auto stmt,
                          db_->Prepare("INSERT OR REPLACE INTO job_versions(job_id, version, stable, data) "
                                       "VALUES(?, ?, 0, ?)"));
    stmt.Bind(1, job.id());
    stmt.Bind(2, static_cast<int64_t>(job.version()));
    stmt.BindBlob(3, job.SerializeAsString());
    ORCH_RETURN_IF_ERROR(stmt.Run());
  }
  const uint32_t keep = c.keep_versions() > 0 ? c.keep_versions() : kDefaultKeepVersions;
  if (job.version() >= keep) {
    ORCH_ASSIGN_OR_RETURN(
        auto stmt, db_->Prepare("DELETE FROM job_versions WHERE job_id=?1 AND version<=?2 AND version<>"
                                "(SELECT COALESCE(MAX(version), -1) FROM job_versions WHERE job_id=?1 AND stable=1)"));
    stmt.Bind(1, job.id());
    stmt.Bind(2, static_cast<int64_t>(job.version() - keep));
    ORCH_RETURN_IF_ERROR(stmt.Run());
  }
  ORCH_RETURN_IF_ERROR(CancelActiveDeployment(index, time_ms, job.id(),
                                              "superseded by job version " + std::to_string(job.version())));
  if (!JobRolls(job) || c.deployment_id().empty()) return Status::Ok();
  v1::Deployment d;
  d.set_id(c.deployment_id());
  d.set_job_id(job.id());
  d.set_job_version(job.version());
  d.set_status(v1::Deployment::RUNNING);
  d.set_status_description(c.has_reverts_to() ? "rolling back to version " + std::to_string(c.reverts_to())
                                               : "deployment in progress");
  if (c.has_reverts_to()) d.set_reverts_to(c.reverts_to());
  d.set_create_index(index);
  d.set_modify_index(index);
  d.set_create_time_ms(time_ms);
  d.set_modify_time_ms(time_ms);
  for (const auto& g : job.groups()) {
    RollingUpdate r = EffectiveUpdate(job, g);
    if (!r.enabled) continue;
    auto* dg = d.add_groups();
    dg->set_name(g.name());
    dg->set_desired_total(g.count());
    dg->set_auto_revert(r.auto_revert);
    dg->set_max_parallel(r.max_parallel);
    dg->set_require_progress_by_ms(time_ms + r.progress_deadline_ms);
    dg->set_auto_promote(r.auto_promote);
    // Canaries only where what the tasks run changes (an old version with
    // this group still running).
    if (r.canary > 0 && old != nullptr && !old->stop()) {
      for (const auto& og : old->groups()) {
        if (og.name() == g.name() && og.count() > 0 && DestructiveChange(og, g)) dg->set_desired_canaries(r.canary);
      }
    }
  }
  return PutDeployment(d);
}

void StateStore::TrackDeploymentHealth(const v1::Allocation& before, int64_t time_ms, v1::Allocation* a) {
  if (a->deployment_id().empty()) return;
  auto* ds = a->mutable_deployment_status();
  if (ds->health() != v1::AllocDeploymentStatus::HEALTH_UNSPECIFIED) return;
  if (IsTerminal(*a)) {
    ds->set_health(v1::AllocDeploymentStatus::UNHEALTHY);
    ds->set_decided_ms(time_ms);
    ds->set_healthy_since_ms(0);
    std::string why = a->client_description();
    ds->set_description("allocation " + std::string(v1::Allocation::ClientStatus_Name(a->client_status())) +
                        (why.empty() ? "" : ": " + why));
    return;
  }
  const bool checks = a->task_group().has_update() ? a->task_group().update().health_check() != "task_states" : true;
  bool restarted = false;
  for (const auto& t : a->task_states()) {
    for (const auto& o : before.task_states()) {
      if (o.name() == t.name() && t.restarts() > o.restarts()) restarted = true;
    }
  }
  if (!RunningHealthy(*a, checks)) {
    ds->set_healthy_since_ms(0);
  } else if (ds->healthy_since_ms() == 0 || restarted) {
    ds->set_healthy_since_ms(time_ms);
  }
}

void StateStore::JoinActiveDeployment(const std::optional<v1::Deployment>& d, bool in_place, int64_t time_ms,
                                      v1::Allocation* a) const {
  if (!d || d->job_version() != a->job_version()) return;
  bool rolls = false;
  for (const auto& g : d->groups()) rolls = rolls || g.name() == a->group();
  if (!rolls) return;
  a->set_deployment_id(d->id());
  const bool canary = !in_place && a->deployment_status().canary();
  a->clear_deployment_status();
  a->mutable_deployment_status()->set_canary(canary);
  if (in_place && RunningHealthy(*a, a->task_group().update().health_check() != "task_states")) {
    // Nothing restarts: it is as healthy as it was.
    auto* ds = a->mutable_deployment_status();
    ds->set_health(v1::AllocDeploymentStatus::HEALTHY);
    ds->set_decided_ms(time_ms);
    ds->set_description("updated in place");
  }
}

Status StateStore::ApplyDeploymentUpdate(uint64_t index, const v1::Command& cmd, Status* outcome) {
  const auto& c = cmd.deployment_update();
  auto d = LoadOne<v1::Deployment>("deployments", c.deployment_id());
  if (!d) {
    *outcome = Status::NotFound("deployment \"" + c.deployment_id() + "\" not found");
    return Status::Ok();
  }
  if (!Active(*d)) {
    *outcome = Status::FailedPrecondition("deployment " + ShortId(d->id()) + " is over (" +
                                          v1::Deployment::Status_Name(d->status()) + ")");
    return Status::Ok();
  }
  const int64_t now = cmd.time_ms();
  for (const auto& h : c.alloc_health()) {
    auto a = LoadOne<v1::Allocation>("allocations", h.alloc_id());
    if (!a || a->deployment_id() != d->id() ||
        a->deployment_status().health() != v1::AllocDeploymentStatus::HEALTH_UNSPECIFIED) {
      continue;
    }
    auto* ds = a->mutable_deployment_status();
    ds->set_health(h.healthy() ? v1::AllocDeploymentStatus::HEALTHY : v1::AllocDeploymentStatus::UNHEALTHY);
    ds->set_decided_ms(now);
    ds->set_description(h.description());
    a->set_modify_index(index);
    a->set_modify_time_ms(now);
    ORCH_RETURN_IF_ERROR(PutAllocation(*a));
  }
  for (int i = 0; i < c.require_progress_by_ms_size() && i < d->groups_size(); ++i) {
    if (c.require_progress_by_ms(i) > 0) d->mutable_groups(i)->set_require_progress_by_ms(c.require_progress_by_ms(i));
  }
  if (c.status() != v1::Deployment::STATUS_UNSPECIFIED) {
    d->set_status(c.status());
    d->set_status_description(c.status_description());
  }
  if (c.promote()) {
    // The canaries become ordinary allocations of the new version; the
    // old ones they stood beside may go.
    for (auto& g : *d->mutable_groups()) {
      if (g.desired_canaries() > 0) g.set_promoted(true);
    }
    for (auto& a : JobAllocationsLocked(d->job_id())) {
      if (a.deployment_id() != d->id() || !a.deployment_status().canary()) continue;
      a.mutable_deployment_status()->set_canary(false);
      a.set_modify_index(index);
      a.set_modify_time_ms(now);
      ORCH_RETURN_IF_ERROR(PutAllocation(a));
    }
    if (c.status() == v1::Deployment::STATUS_UNSPECIFIED) {
      d->set_status_description(c.status_description().empty() ? "promoted; deployment in progress"
                                                               : c.status_description());
    }
  }
  d->set_modify_index(index);
  d->set_modify_time_ms(now);
  ORCH_RETURN_IF_ERROR(PutDeployment(*d));
  if (c.status() == v1::Deployment::SUCCESSFUL) {
    auto job = LoadOne<v1::Job>("jobs", d->job_id());
    if (job && job->version() == d->job_version()) {
      job->set_stable(true);
      ORCH_RETURN_IF_ERROR(PutJob(*job));
    }
    ORCH_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT data FROM job_versions WHERE job_id=? AND version=?"));
    stmt.Bind(1, d->job_id());
    stmt.Bind(2, static_cast<int64_t>(d->job_version()));
    ORCH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (row) {
      v1::Job v;
      if (v.ParseFromString(stmt.Blob(0))) {
        v.set_stable(true);
        ORCH_ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE job_versions SET stable=1, data=? WHERE job_id=? AND "
                                                    "version=?"));
        up.BindBlob(1, v.SerializeAsString());
        up.Bind(2, d->job_id());
        up.Bind(3, static_cast<int64_t>(d->job_version()));
        ORCH_RETURN_IF_ERROR(up.Run());
      }
    }
  }
  ORCH_RETURN_IF_ERROR(PutNewEvaluations(index, c.evals()));
  if (!c.revert().job().id().empty()) {
    Status revert;
    ORCH_RETURN_IF_ERROR(ApplyRegisterJobCommand(index, now, c.revert(), &revert));
    if (!revert.ok()) {
      spdlog::warn("state: index {}: revert of job {} refused: {}", index, d->job_id(), revert.message());
      if (outcome != nullptr) *outcome = revert;
    }
  }
  return Status::Ok();
}

// --- Reads --------------------------------------------------------------

std::vector<v1::Allocation> StateStore::JobAllocationsLocked(const std::string& job_id) const {
  return LoadMany<v1::Allocation>("SELECT data FROM allocations WHERE job_id=?", {job_id});
}

void StateStore::DeriveDeployment(v1::Deployment* d, const std::vector<v1::Allocation>& allocs) {
  for (auto& g : *d->mutable_groups()) {
    GroupProgress p = ProgressOf(*d, g.name(), allocs);
    g.set_placed(p.placed);
    g.set_healthy(p.healthy);
    g.set_unhealthy(p.unhealthy);
    g.set_placed_canaries(p.canaries);
    g.set_healthy_canaries(p.healthy_canaries);
  }
}

std::vector<v1::Job> StateStore::ListJobVersions(const std::string& job_id) const {
  std::lock_guard lock(mu_);
  auto out = LoadMany<v1::Job>("SELECT data FROM job_versions WHERE job_id=? ORDER BY version DESC", {job_id});
  if (out.empty()) {
    // Stored before versions were kept: the current one is the history.
    if (auto j = LoadOne<v1::Job>("jobs", job_id)) out.push_back(*j);
  }
  return out;
}

Result<v1::Job> StateStore::GetJobVersion(const std::string& job_id, uint64_t version) const {
  std::lock_guard lock(mu_);
  auto out = LoadMany<v1::Job>("SELECT data FROM job_versions WHERE job_id=? AND version=?",
                               {job_id, std::to_string(version)});
  if (out.empty()) {
    auto j = LoadOne<v1::Job>("jobs", job_id);
    if (j && j->version() == version) return *j;
    return Status::NotFound("job \"" + job_id + "\" has no version " + std::to_string(version) +
                            (j ? " (the masters keep the last --job-versions)" : ""));
  }
  return out.front();
}

std::optional<v1::Job> StateStore::LatestStableVersion(const std::string& job_id, uint64_t below) const {
  std::lock_guard lock(mu_);
  auto out = LoadMany<v1::Job>(
      "SELECT data FROM job_versions WHERE job_id=? AND stable=1 AND version<? ORDER BY version DESC LIMIT 1",
      {job_id, std::to_string(below)});
  if (out.empty()) return std::nullopt;
  return out.front();
}

std::vector<v1::Deployment> StateStore::ListDeployments(const std::string& job_id, int limit) const {
  std::lock_guard lock(mu_);
  std::vector<v1::Deployment> out;
  if (job_id.empty()) {
    out = LoadMany<v1::Deployment>(
        "SELECT data FROM deployments ORDER BY seq DESC LIMIT " + std::to_string(std::max(1, limit)), {});
  } else {
    out = LoadMany<v1::Deployment>(
        "SELECT data FROM deployments WHERE job_id=? ORDER BY seq DESC LIMIT " + std::to_string(std::max(1, limit)),
        {job_id});
  }
  // One read of each job's allocations, however many of its deployments.
  std::map<std::string, std::vector<v1::Allocation>> allocs;
  for (auto& d : out) {
    auto it = allocs.find(d.job_id());
    if (it == allocs.end()) it = allocs.emplace(d.job_id(), JobAllocationsLocked(d.job_id())).first;
    DeriveDeployment(&d, it->second);
  }
  return out;
}

Result<v1::Deployment> StateStore::GetDeployment(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto d = LoadOne<v1::Deployment>("deployments", id);
  if (!d) {
    // A unique prefix of an id (as orchctl prints them) also names it.
    if (id.size() >= 4 && id.size() < 36 && id.find_first_of("%_") == std::string::npos) {
      auto ds = LoadMany<v1::Deployment>("SELECT data FROM deployments WHERE id LIKE ? LIMIT 2", {id + "%"});
      if (ds.size() == 1) d = ds.front();
    }
    if (!d) return Status::NotFound("deployment \"" + id + "\" not found");
  }
  DeriveDeployment(&*d, JobAllocationsLocked(d->job_id()));
  return *d;
}

std::optional<v1::Deployment> StateStore::ActiveDeployment(const std::string& job_id) const {
  std::lock_guard lock(mu_);
  return ActiveDeploymentLocked(job_id);
}

std::optional<v1::Deployment> StateStore::LatestDeployment(const std::string& job_id) const {
  std::lock_guard lock(mu_);
  return LatestDeploymentLocked(job_id);
}

std::optional<v1::Deployment> StateStore::LatestDeploymentLocked(const std::string& job_id) const {
  auto ds = LoadMany<v1::Deployment>("SELECT data FROM deployments WHERE job_id=? ORDER BY seq DESC LIMIT 1", {job_id});
  if (ds.empty()) return std::nullopt;
  return ds.front();
}

std::vector<v1::Deployment> StateStore::RunningDeployments() const {
  std::lock_guard lock(mu_);
  return LoadMany<v1::Deployment>(
      "SELECT data FROM deployments WHERE status=" + std::to_string(v1::Deployment::RUNNING) + " ORDER BY seq", {});
}

}  // namespace orch::master
