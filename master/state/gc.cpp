// Garbage collection in the state: finding old terminal evaluations,
// allocations, dead jobs and ended deployments a batch at a time (the
// leader's collector), and deleting them when the GC command applies,
// each id checked again by the same rules (state/gc_rules.h).
#include <spdlog/spdlog.h>

#include <map>

#include "master/state/gc_rules.h"
#include "master/state/state_store.h"

namespace orch::master {
namespace {

// Scans `sql` (rowid > ? ... LIMIT ?) from `*cursor`: calls `each` with
// every row's data; moves the cursor on, back to 0 after the table's end.
template <typename T, typename F>
void ScanBatch(sqlite::Db* db, const std::string& sql, int batch, int64_t* cursor, F each) {
  auto stmt = db->Prepare(sql);
  if (!stmt.ok()) {
    spdlog::error("state: gc: {}", stmt.status().ToString());
    return;
  }
  stmt->Bind(1, *cursor).Bind(2, static_cast<int64_t>(batch));
  int rows = 0;
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok() || !*row) break;
    ++rows;
    *cursor = stmt->Int(0);
    T item;
    if (item.ParseFromString(stmt->Blob(1))) each(item);
  }
  if (rows < batch) *cursor = 0;  // the end: start over next pass
}

}  // namespace

struct StateStore::JobFacts {
  std::optional<v1::Job> job;
  std::vector<v1::Allocation> allocs;
  std::string active_deployment;
};

StateStore::JobFacts StateStore::JobFactsLocked(const std::string& job_id) const {
  JobFacts f;
  f.job = LoadOne<v1::Job>("jobs", job_id);
  f.allocs = JobAllocationsLocked(job_id);
  if (auto d = ActiveDeploymentLocked(job_id)) f.active_deployment = d->id();
  return f;
}

v1::GcCommand StateStore::FindGarbage(const v1::GcCommand& cutoffs, int batch, GcCursor* cursor) const {
  std::lock_guard lock(mu_);
  v1::GcCommand out = cutoffs;
  out.clear_eval_ids();
  out.clear_alloc_ids();
  out.clear_job_ids();
  out.clear_deployment_ids();
  ScanBatch<v1::Evaluation>(db_.get(),
                            "SELECT rowid, data FROM evaluations WHERE rowid>? AND status IN (" +
                                std::to_string(v1::Evaluation::COMPLETE) + "," +
                                std::to_string(v1::Evaluation::FAILED) + ") ORDER BY rowid LIMIT ?",
                            batch, &cursor->evals, [&](const v1::Evaluation& e) {
                              if (EvalCollectable(e, cutoffs.eval_cutoff_ms())) out.add_eval_ids(e.id());
                            });
  std::map<std::string, JobFacts> facts;  // per job, read once per pass
  auto facts_of = [&](const std::string& job_id) -> const JobFacts& {
    auto it = facts.find(job_id);
    if (it == facts.end()) it = facts.emplace(job_id, JobFactsLocked(job_id)).first;
    return it->second;
  };
  ScanBatch<v1::Allocation>(db_.get(), "SELECT rowid, data FROM allocations WHERE rowid>? ORDER BY rowid LIMIT ?",
                            batch, &cursor->allocs, [&](const v1::Allocation& a) {
                              if (!IsTerminal(a) || a.modify_time_ms() > cutoffs.alloc_cutoff_ms()) return;
                              const JobFacts& f = facts_of(a.job_id());
                              if (AllocCollectable(a, f.job ? &*f.job : nullptr, f.allocs, f.active_deployment,
                                                   cutoffs.alloc_cutoff_ms())) {
                                out.add_alloc_ids(a.id());
                              }
                            });
  ScanBatch<v1::Job>(db_.get(), "SELECT rowid, data FROM jobs WHERE rowid>? ORDER BY rowid LIMIT ?", batch,
                     &cursor->jobs, [&](const v1::Job& j) {
                       if (!j.stop() && j.type() != v1::Job::BATCH) return;
                       const JobFacts& f = facts_of(j.id());
                       auto evals = LoadMany<v1::Evaluation>("SELECT data FROM evaluations WHERE job_id=?", {j.id()});
                       if (JobCollectable(j, f.allocs, evals, cutoffs.job_cutoff_ms())) out.add_job_ids(j.id());
                     });
  ScanBatch<v1::Deployment>(
      db_.get(),
      "SELECT rowid, data FROM deployments WHERE rowid>? AND status IN (" +
          std::to_string(v1::Deployment::SUCCESSFUL) + "," + std::to_string(v1::Deployment::FAILED) + "," +
          std::to_string(v1::Deployment::CANCELLED) + ") ORDER BY rowid LIMIT ?",
      batch, &cursor->deployments, [&](const v1::Deployment& d) {
        auto latest = LatestDeploymentLocked(d.job_id());
        if (DeploymentCollectable(d, latest && latest->id() == d.id(), cutoffs.deployment_cutoff_ms())) {
          out.add_deployment_ids(d.id());
        }
      });
  return out;
}

Status StateStore::ApplyGc(uint64_t index, const v1::Command& cmd, Status* outcome) {
  (void)outcome;
  const v1::GcCommand& c = cmd.gc();
  int evals = 0, allocs = 0, jobs = 0, deployments = 0;
  for (const auto& id : c.eval_ids()) {
    auto e = LoadOne<v1::Evaluation>("evaluations", id);
    if (!e || !EvalCollectable(*e, c.eval_cutoff_ms())) continue;
    ORCH_RETURN_IF_ERROR(DeleteRow("evaluations", id));
    NoteEvent("Evaluation", "EvaluationDeleted", id, e->job_id(), "");
    ++evals;
  }
  for (const auto& id : c.alloc_ids()) {
    auto a = LoadOne<v1::Allocation>("allocations", id);
    if (!a) continue;
    JobFacts f = JobFactsLocked(a->job_id());
    if (!AllocCollectable(*a, f.job ? &*f.job : nullptr, f.allocs, f.active_deployment, c.alloc_cutoff_ms())) {
      continue;
    }
    ORCH_RETURN_IF_ERROR(DeleteRow("allocations", id));
    NoteServicesChangeOfJobLocked(a->job_id());
    ForgetAllocationLocked(*a);
    NoteEvent("Allocation", "AllocationDeleted", id, a->job_id(), "");
    ++allocs;
  }
  for (const auto& id : c.job_ids()) {
    auto j = LoadOne<v1::Job>("jobs", id);
    if (!j) continue;
    auto evs = LoadMany<v1::Evaluation>("SELECT data FROM evaluations WHERE job_id=?", {id});
    if (!JobCollectable(*j, JobAllocationsLocked(id), evs, c.job_cutoff_ms())) continue;
    ORCH_RETURN_IF_ERROR(DeleteJobLocked(id, /*everything=*/true));
    ++jobs;
  }
  for (const auto& id : c.deployment_ids()) {
    auto d = LoadOne<v1::Deployment>("deployments", id);
    if (!d) continue;
    auto latest = LatestDeploymentLocked(d->job_id());
    if (!DeploymentCollectable(*d, latest && latest->id() == id, c.deployment_cutoff_ms())) continue;
    ORCH_RETURN_IF_ERROR(DeleteRow("deployments", id));
    NoteEvent("Deployment", "DeploymentDeleted", id, d->job_id(), "");
    ++deployments;
  }
  spdlog::info("state: index {}: garbage collected {} evaluation(s), {} allocation(s), {} job(s), {} deployment(s)",
               index, evals, allocs, jobs, deployments);
  return Status::Ok();
}

Status StateStore::DeleteJobLocked(const std::string& job_id, bool everything) {
  std::vector<const char*> tables = {
      "DELETE FROM jobs WHERE id=?", "DELETE FROM service_claims WHERE job_id=?",
      "DELETE FROM job_versions WHERE job_id=?", "DELETE FROM deployments WHERE job_id=?",
      "DELETE FROM periodic_launches WHERE job_id=?"};
  if (everything) {
    tables.push_back("DELETE FROM evaluations WHERE job_id=?");
    tables.push_back("DELETE FROM allocations WHERE job_id=?");
    for (const auto& a : JobAllocationsLocked(job_id)) ForgetAllocationLocked(a);
  }
  for (const char* sql : tables) {
    ORCH_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(sql));
    stmt.Bind(1, job_id);
    ORCH_RETURN_IF_ERROR(stmt.Run());
  }
  NoteServicesChangeOfJobLocked(job_id);
  jobs_brief_.erase(job_id);
  NoteEvent("Job", "JobDeleted", job_id, job_id, "");
  return Status::Ok();
}

}  // namespace orch::master
