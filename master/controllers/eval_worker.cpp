#include "master/controllers/eval_worker.h"

#include <spdlog/spdlog.h>

#include <map>

#include "common/ids.h"
#include "common/thread_priority.h"
#include "common/thread_name.h"
#include "master/model/job_limits.h"
#include "master/scheduler/node_table.h"
#include "master/scheduler/scheduler.h"

namespace orch::master {
namespace {

// A job the scheduler must not try: one stored before today's limits (or
// written around them) would make it build billions of slots.
std::string Unschedulable(const v1::Job& job) {
  if (job.groups_size() > JobLimits::kMaxGroups) return "more than " + std::to_string(JobLimits::kMaxGroups) + " groups";
  int64_t total = 0;
  for (const auto& g : job.groups()) {
    if (g.count() > JobLimits::kMaxCount || g.count() < 0) {
      return "group " + g.name() + " count " + std::to_string(g.count()) + " is outside 0.." +
             std::to_string(JobLimits::kMaxCount);
    }
    if (g.tasks_size() > JobLimits::kMaxTasks) return "group " + g.name() + " has too many tasks";
    total += g.count();
  }
  if (total > JobLimits::kMaxTotalCount) return "the group counts add up to " + std::to_string(total);
  return "";
}

// The plan that closes an evaluation the scheduler could not run.
v1::PlanCommand FailedPlan(const sched::JobInput& in, const std::string& why) {
  v1::PlanCommand plan;
  plan.set_eval_id(in.eval.id());
  plan.set_job_id(in.eval.job_id());
  if (in.job_exists) plan.set_job_modify_index(in.job.modify_index());
  plan.set_eval_status(v1::Evaluation::FAILED);
  plan.set_eval_description("scheduler failed: " + why);
  return plan;
}

}  // namespace

void EvalWorker::SetMetrics(metrics::Registry* m) {
  if (m == nullptr) return;
  evaluations_ = &m->AddCounter(
      "orch_scheduler_evaluations_total",
      "Evaluations the leader's scheduler closed, by the status its plan gave them "
      "(COMPLETE, BLOCKED: not all placed, FAILED); coalesced ones count as their plan's.",
      {"status"});
  placements_ =
      &m->AddCounter("orch_scheduler_placements_total", "Allocations placed by applied plans.")
           .With({});
  plans_refused_ =
      &m->AddCounter("orch_scheduler_plans_refused_total",
                     "Plans not applied (refused at apply, e.g. a node filled meanwhile, or not "
                     "committed); their evaluations are retried.")
           .With({});
  pass_seconds_ =
      &m->AddHistogram("orch_scheduler_pass_duration_seconds",
                       "One scheduling pass with work: read the state, schedule, commit the plans.",
                       {}, metrics::LatencyBuckets())
           .With({});
}

void EvalWorker::Start() {
  stop_ = false;
  thread_ = std::thread([this] {
    NameThisThread("eval-worker");
    RunThisThreadAsBulkWork();
    Loop();
  });
}

void EvalWorker::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void EvalWorker::Loop() {
  uint64_t seen = 0;
  auto last_watch = clock_->Steady();
  auto last_deployments = last_watch;
  while (!stop_) {
    // Wake on every apply, and at least twice a second to notice stop_.
    seen = store_->WaitForIndexAbove(seen, std::chrono::milliseconds(250));
    if (stop_ || !log_->IsLeader()) {
      store_->ForgetForScheduling();
      watch_.Reset();
      gc_.Reset();
      periodic_.Reset();
      continue;
    }
    // Nothing an evaluation does may take the leader down: a failure here
    // is logged and the next pass tries again (evaluations that failed
    // alone were already closed with their reason by RunOnce).
    try {
      // What passes keep follows the state even while nothing is to be
      // scheduled (the events it needs are kept only so long).
      store_->FollowForScheduling();
      RunOnce();
      // Deployments in progress: every pass (it reads only those).
      if (clock_->Steady() - last_deployments >= std::chrono::milliseconds(100)) {
        last_deployments = clock_->Steady();
        deployments_.RunOnce();
      }
      // The job watch: at most once a second.
      if (clock_->Steady() - last_watch >= std::chrono::seconds(1)) {
        last_watch = clock_->Steady();
        watch_.RunOnce();
      }
      gc_.MaybeRun();
      periodic_.MaybeRun();
    } catch (const std::exception& e) {
      spdlog::error("eval worker: pass failed: {}", e.what());
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
  // One read of the nodes and allocations for the whole pass, and of the
  // jobs evaluated, off the lock applies take.
  auto t_read = std::chrono::steady_clock::now();
  StateStore::SchedulingRead read = store_->ReadForScheduling(order);
  if (!read.ok) return 0;  // logged; the evaluations wait for the next pass
  StateStore::SchedulingState& state = read.state;
  std::map<std::string, v1::Job>& jobs = read.jobs;
  std::map<std::string, std::vector<v1::Allocation>>& allocs_by_job = read.allocs_by_job;
  auto t_sched = std::chrono::steady_clock::now();
  sched::SchedulerConfig cfg = cfg_;
  cfg.seed = cfg_.seed ^ store_->AppliedIndex();
  // What a node holds, claims and measures is read when the scheduler
  // first looks at the node.
  sched::NodeTable table(
      std::move(state.nodes),
      [&held = *state.held, this](uint32_t, const v1::Node& node, sched::Holdings* out) {
        if (load_) out->load = load_(node.id());
        auto h = held.find(node.id());
        out->allocated = h != held.end() ? h->second->Claimed() : v1::Resources();
        if (h == held.end()) return;
        for (const auto& [id, a] : h->second->allocs)
          (IsLive(*a) ? out->live : out->stopping).push_back(a.get());
      },
      [&priority = *state.priority](const std::string& job_id) {
        auto it = priority.find(job_id);
        return it == priority.end() ? 0 : it->second;
      },
      cfg);
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
    if (in.job_exists) in.deployment = read.deployments[job_id];
    // Each evaluation alone: one that cannot be scheduled is marked failed
    // with the reason, and the others of the pass go on.
    v1::PlanCommand plan;
    std::string why = in.job_exists ? Unschedulable(in.job) : "";
    if (why.empty()) {
      try {
        if (schedule_hook_) schedule_hook_(in);
        plan = scheduler.Schedule(in);
        if (plan.ByteSizeLong() > kMaxPlanBytes) {
          why = "the plan is " + std::to_string(plan.ByteSizeLong()) + " bytes, more than the limit of " +
                std::to_string(kMaxPlanBytes);
        }
      } catch (const std::exception& e) {
        why = e.what();
      } catch (...) {
        why = "unknown error";
      }
    }
    if (!why.empty()) {
      spdlog::error("eval {} job {}: {}", ShortId(in.eval.id()), job_id, why);
      plan = FailedPlan(in, why);
    }
    for (size_t i = 0; i + 1 < evals.size(); ++i) plan.add_coalesced_eval_ids(evals[i].id());
    plan.set_followup_eval_id(NewUuid());
    plans.push_back(std::move(plan));
  }
  auto t_propose = std::chrono::steady_clock::now();
  int proposed = 0;
  size_t bytes = 0;  // of the proposed entries
  for (size_t start = 0, end = 0; start < plans.size() && !stop_ && log_->IsLeader(); start = end) {
    // Up to kPlansPerEntry plans, and no more bytes than kMaxEntryBytes, per
    // log entry (one plan alone may take up to kMaxPlanBytes).
    size_t entry_bytes = plans[start].ByteSizeLong();
    for (end = start + 1; end < plans.size() && end - start < static_cast<size_t>(kPlansPerEntry); ++end) {
      size_t b = plans[end].ByteSizeLong();
      if (entry_bytes + b > kMaxEntryBytes) break;
      entry_bytes += b;
    }
    v1::Command cmd;
    cmd.set_time_ms(clock_->NowMs());
    if (end - start == 1) {
      *cmd.mutable_plan() = plans[start];
    } else {
      for (size_t i = start; i < end; ++i) *cmd.mutable_plan_batch()->add_plans() = plans[i];
    }
    bytes += cmd.ByteSizeLong();
    // Lingers a moment for a proposal to share its disk write with (the
    // next submission, at low load).
    auto index = log_->ProposeBackground(cmd, std::chrono::seconds(10));
    proposed += static_cast<int>(end - start);
    plans_ += end - start;
    ++entries_;
    for (size_t i = start; i < end; ++i) {
      const auto& plan = plans[i];
      if (!index.ok()) {
        if (plans_refused_) plans_refused_->Inc();
        spdlog::warn("eval {} job {}: plan not applied: {}", ShortId(plan.eval_id()), plan.job_id(),
                     index.status().ToString());
        continue;
      }
      if (evaluations_) {
        evaluations_->With({v1::Evaluation::Status_Name(plan.eval_status())})
            .Inc(1 + static_cast<double>(plan.coalesced_eval_ids_size()));
        placements_->Inc(plan.place_size());
      }
      spdlog::info("eval {} job {}: placed {}, stopped {}, updated in place {}, preempted {}{}{} (index {})",
                   ShortId(plan.eval_id()), plan.job_id(), plan.place_size(), plan.stop_size(),
                   plan.update_in_place_size(), plan.preempt_size(),
                   plan.coalesced_eval_ids_size() ? ", coalesced " + std::to_string(plan.coalesced_eval_ids_size())
                                                  : "",
                   plan.eval_status() == v1::Evaluation::BLOCKED ? "; blocked: " + plan.eval_description() : "",
                   *index);
    }
  }
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  if (pass_seconds_) {
    pass_seconds_->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_read).count());
  }
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
