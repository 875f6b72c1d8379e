#include "master/controllers/eval_worker.h"

#include <spdlog/spdlog.h>

#include <map>

#include "common/ids.h"
#include "master/scheduler/node_table.h"
#include "master/scheduler/scheduler.h"

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
  auto last_watch = clock_->Steady();
  while (!stop_) {
    // Wake on every apply, and at least twice a second to notice stop_.
    seen = store_->WaitForIndexAbove(seen, std::chrono::milliseconds(250));
    if (stop_ || !log_->IsLeader()) {
      watch_.Reset();
      continue;
    }
    RunOnce();
    // The controllers read the whole state: at most once a second.
    if (clock_->Steady() - last_watch >= std::chrono::seconds(1)) {
      last_watch = clock_->Steady();
      watch_.RunOnce();
    }
  }
}

int EvalWorker::RunOnce() {
  std::vector<v1::Evaluation> pending = store_->PendingEvaluations();
  if (pending.empty() || stop_ || !log_->IsLeader()) return 0;
  // De-duplicate per job: the newest evaluation is scheduled, the older
  // ones are answered by the same plan.
  std::vector<std::string> order;
  std::map<std::string, std::vector<v1::Evaluation>> by_job;
  for (auto& e : pending) {
    auto& v = by_job[e.job_id()];
    if (v.empty()) order.push_back(e.job_id());
    v.push_back(std::move(e));
  }
  // One read of the state for the whole pass.
  auto t_read = std::chrono::steady_clock::now();
  std::vector<v1::Node> nodes = store_->ListNodes();
  if (load_) {
    for (auto& n : nodes) *n.mutable_load() = load_(n.id());
  }
  std::vector<v1::Allocation> all = store_->ListAllocations();
  std::map<std::string, v1::Job> jobs;
  std::map<std::string, int32_t> priority;
  for (auto& j : store_->ListJobs()) {
    priority[j.id()] = j.priority();
    jobs.emplace(j.id(), std::move(j));
  }
  std::map<std::string, std::vector<v1::Allocation>> allocs_by_job;
  std::vector<v1::Allocation> live;
  for (const auto& a : all) {
    if (IsLive(a)) live.push_back(a);
    if (by_job.count(a.job_id())) allocs_by_job[a.job_id()].push_back(a);
  }
  auto t_sched = std::chrono::steady_clock::now();
  sched::SchedulerConfig cfg = cfg_;
  cfg.seed = cfg_.seed ^ store_->AppliedIndex();
  sched::NodeTable table(std::move(nodes), live, priority, cfg);
  sched::Scheduler scheduler(&table, cfg, [] { return NewUuid(); });
  int64_t now = clock_->NowMs();

  std::vector<v1::PlanCommand> plans;
  for (const auto& job_id : order) {
    const auto& evals = by_job[job_id];
    sched::JobInput in;
    in.eval = evals.back();
    auto j = jobs.find(job_id);
    in.job_exists = j != jobs.end();
    if (in.job_exists) in.job = j->second;
    in.allocs = std::move(allocs_by_job[job_id]);
    in.now_ms = now;
    v1::PlanCommand plan = scheduler.Schedule(in);
    for (size_t i = 0; i + 1 < evals.size(); ++i) plan.add_coalesced_eval_ids(evals[i].id());
    plan.set_followup_eval_id(NewUuid());
    plans.push_back(std::move(plan));
  }
  auto t_propose = std::chrono::steady_clock::now();
  int proposed = 0;
  size_t bytes = 0;  // of the proposed entries
  for (size_t start = 0; start < plans.size() && !stop_ && log_->IsLeader(); start += kPlansPerEntry) {
    size_t end = std::min(plans.size(), start + static_cast<size_t>(kPlansPerEntry));
    v1::Command cmd;
    cmd.set_time_ms(clock_->NowMs());
    if (end - start == 1) {
      *cmd.mutable_plan() = plans[start];
    } else {
      for (size_t i = start; i < end; ++i) *cmd.mutable_plan_batch()->add_plans() = plans[i];
    }
    bytes += cmd.ByteSizeLong();
    auto index = log_->Propose(cmd, std::chrono::seconds(10));
    proposed += static_cast<int>(end - start);
    plans_ += end - start;
    ++entries_;
    for (size_t i = start; i < end; ++i) {
      const auto& plan = plans[i];
      if (!index.ok()) {
        spdlog::warn("eval {} job {}: plan not applied: {}", ShortId(plan.eval_id()), plan.job_id(),
                     index.status().ToString());
        continue;
      }
      spdlog::info("eval {} job {}: placed {}, stopped {}, preempted {}{}{} (index {})", ShortId(plan.eval_id()),
                   plan.job_id(), plan.place_size(), plan.stop_size(), plan.preempt_size(),
                   plan.coalesced_eval_ids_size() ? ", coalesced " + std::to_string(plan.coalesced_eval_ids_size())
                                                  : "",
                   plan.eval_status() == v1::Evaluation::BLOCKED ? "; blocked: " + plan.eval_description() : "",
                   *index);
    }
  }
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  if (plans.size() > 1) {
    spdlog::info(
        "eval worker: {} plan(s) for {} evaluation(s): read state {} ms, schedule {} ms, commit {} ms ({:.1f} MB "
        "proposed)",
        plans.size(), pending.size(), ms(t_sched - t_read), ms(t_propose - t_sched),
        ms(std::chrono::steady_clock::now() - t_propose), static_cast<double>(bytes) / 1e6);
  }
  return proposed;
}

}  // namespace orch::master
