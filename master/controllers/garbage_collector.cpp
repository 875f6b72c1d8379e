#include "master/controllers/garbage_collector.h"

#include <spdlog/spdlog.h>

namespace orch::master {
namespace {

// Finds a batch of garbage and proposes its deletion.
Result<GcTotals> CollectBatch(StateStore* store, replication::ReplicatedLog* log, Clock* clock,
                              const GcOptions& o, StateStore::GcCursor* cursor) {
  const int64_t now = clock->NowMs();
  v1::GcCommand cutoffs;
  cutoffs.set_eval_cutoff_ms(now - o.eval_threshold_ms);
  cutoffs.set_alloc_cutoff_ms(now - o.alloc_threshold_ms);
  cutoffs.set_job_cutoff_ms(now - o.job_threshold_ms);
  cutoffs.set_deployment_cutoff_ms(now - o.deployment_threshold_ms);
  v1::Command cmd;
  *cmd.mutable_gc() = store->FindGarbage(cutoffs, o.batch, cursor);
  const v1::GcCommand& gc = cmd.gc();
  GcTotals t;
  t.evaluations = gc.eval_ids_size();
  t.allocations = gc.alloc_ids_size();
  t.jobs = gc.job_ids_size();
  t.deployments = gc.deployment_ids_size();
  if (t.total() == 0) return t;
  cmd.set_time_ms(now);
  auto index = log->Propose(cmd, std::chrono::seconds(10));
  if (!index.ok()) return index.status();
  t.index = *index;
  spdlog::info("gc: {} evaluation(s), {} allocation(s), {} job(s), {} deployment(s) (index {})", t.evaluations,
               t.allocations, t.jobs, t.deployments, t.index);
  return t;
}

void Add(GcTotals* sum, const GcTotals& t) {
  sum->evaluations += t.evaluations;
  sum->allocations += t.allocations;
  sum->jobs += t.jobs;
  sum->deployments += t.deployments;
  if (t.index) sum->index = t.index;
}

}  // namespace

GcTotals GarbageCollector::MaybeRun() {
  const int64_t now = clock_->NowMs();
  if (last_run_ms_ != 0 && now - last_run_ms_ < options_.interval_ms) return {};
  if (last_run_ms_ == 0) {
    last_run_ms_ = now;  // a new leader waits one interval before its first pass
    return {};
  }
  last_run_ms_ = now;
  auto t = RunOnce();
  if (!t.ok()) {
    spdlog::warn("gc: {}", t.status().ToString());
    return {};
  }
  return *t;
}

Result<GcTotals> GarbageCollector::RunOnce() {
  if (!log_->IsLeader()) return GcTotals{};
  return CollectBatch(store_, log_, clock_, options_, &cursor_);
}

Result<GcTotals> CollectAll(StateStore* store, replication::ReplicatedLog* log, Clock* clock,
                            int batch) {
  if (!log->IsLeader()) return Status::Unavailable("not the leader");
  GcOptions force;
  force.eval_threshold_ms = force.alloc_threshold_ms = force.job_threshold_ms = force.deployment_threshold_ms = 0;
  force.batch = batch;
  StateStore::GcCursor cursor;
  GcTotals sum;
  // Dead jobs first take their rows with them; a second round then finds
  // what the first one's deletions freed (an allocation whose job went).
  for (int round = 0; round < 2; ++round) {
    do {
      ORCH_ASSIGN_OR_RETURN(GcTotals t, CollectBatch(store, log, clock, force, &cursor));
      Add(&sum, t);
    } while (cursor.evals != 0 || cursor.allocs != 0 || cursor.jobs != 0 || cursor.deployments != 0);
  }
  return sum;
}

}  // namespace orch::master
