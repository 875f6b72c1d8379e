#include "master/controllers/eval_worker.h"

#include <spdlog/spdlog.h>

#include "common/ids.h"
#include "master/scheduler/placement.h"

namespace orch::master {

void EvalWorker::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void EvalWorker::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void EvalWorker::Loop() {
  uint64_t seen = 0;
  while (!stop_) {
    // Wake on every apply, and at least twice a second to notice stop_.
    seen = store_->WaitForIndexAbove(seen, std::chrono::milliseconds(500));
    if (stop_ || !log_->IsLeader()) continue;
    RunOnce();
  }
}

int EvalWorker::RunOnce() {
  int proposed = 0;
  for (const v1::Evaluation& eval : store_->PendingEvaluations()) {
    if (stop_ || !log_->IsLeader()) break;
    SchedulerInput in;
    in.eval = eval;
    auto job = store_->GetJob(eval.job_id());
    in.job_exists = job.ok();
    if (job.ok()) in.job = *job;
    in.allocs = store_->ListAllocations(eval.job_id());
    in.nodes = store_->ListNodes();
    in.new_id = [] { return NewUuid(); };
    v1::Command cmd;
    cmd.set_time_ms(clock_->NowMs());
    *cmd.mutable_plan() = ComputePlan(in);
    const auto& plan = cmd.plan();
    auto index = log_->Propose(cmd, std::chrono::seconds(10));
    ++proposed;
    if (!index.ok()) {
      spdlog::warn("eval {} job {}: plan not applied: {}", ShortId(eval.id()), eval.job_id(),
                   index.status().ToString());
      continue;
    }
    spdlog::info("eval {} job {}: placed {}, stopped {}{} (index {})", ShortId(eval.id()), eval.job_id(),
                 plan.place_size(), plan.stop_size(),
                 plan.eval_status() == v1::Evaluation::BLOCKED ? "; blocked: " + plan.eval_description() : "",
                 *index);
  }
  return proposed;
}

}  // namespace orch::master
