#include "master/controllers/job_watch.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "common/ids.h"
#include "master/scheduler/reschedule.h"

namespace orch::master {

void JobWatch::Reset() {
  primed_ = false;
  ready_.clear();
  failure_seen_.clear();
}

int JobWatch::RunOnce() {
  if (!log_->IsLeader()) return 0;
  int64_t now = clock_->NowMs();
  // Node statuses, failed allocations and replacements come from the
  // store's memory; only the draining nodes' allocations and the failed
  // ones are read: a pass costs what it looks at, not the state's size.
  const auto statuses = store_->NodeStatusesBrief();
  // Jobs with a pending or blocked evaluation (the status index).
  const std::set<std::string> waiting = store_->JobsWithWaitingEvaluations();
  // Jobs are read by id when an allocation or a drain needs them, once.
  std::map<std::string, std::optional<v1::Job>> jobs;
  auto job_of = [&](const std::string& id) -> const v1::Job* {
    auto it = jobs.find(id);
    if (it == jobs.end()) {
      auto j = store_->GetJob(id);
      it = jobs.emplace(id, j.ok() ? std::optional<v1::Job>(std::move(*j)) : std::nullopt).first;
    }
    return it->second ? &*it->second : nullptr;
  };

  std::map<std::string, std::pair<v1::Evaluation::Trigger, std::string>> want;  // job -> trigger, node
  auto ask = [&](const std::string& job, v1::Evaluation::Trigger t, const std::string& node) {
    if (!waiting.count(job) && !want.count(job)) want[job] = {t, node};
  };

  // Drain progress: per group, the live allocations still on draining
  // nodes and their replacements not yet running.
  std::map<std::pair<std::string, std::string>, int> in_flight, to_move;
  std::map<std::string, std::string> node_of_job;
  std::set<std::string> expired;
  for (const auto& [id, status] : statuses) {
    if (status != v1::Node::DRAINING) continue;
    auto node = store_->GetNode(id);
    if (!node.ok()) continue;
    const int64_t deadline = node->drain().deadline_ms();
    for (const auto& a : store_->ListAllocations("", id)) {
      auto key = std::make_pair(a.job_id(), a.group());
      if (IsLive(a)) {
        ++to_move[key];
        node_of_job[a.job_id()] = id;
        if (deadline > 0 && now >= deadline) expired.insert(a.job_id());
      }
      if (auto next = store_->ReplacementOf(a.id())) {
        auto r = store_->GetAllocation(*next);
        if (r.ok() && r->client_status() != v1::Allocation::RUNNING)
          ++in_flight[std::make_pair(r->job_id(), r->group())];
      }
    }
  }
  for (const auto& [key, n] : to_move) {
    const v1::Job* j = job_of(key.first);
    int max_parallel = 1;
    if (j != nullptr) {
      for (const auto& g : j->groups()) {
        if (g.name() == key.second) max_parallel = std::max(1, g.migrate().max_parallel());
      }
    }
    if (expired.count(key.first) || in_flight[key] < max_parallel) {
      ask(key.first, v1::Evaluation::DRAINED, node_of_job[key.first]);
    }
  }

  // System jobs on nodes that became ready.
  std::set<std::string> ready;
  for (const auto& [id, status] : statuses) {
    if (status == v1::Node::READY) ready.insert(id);
  }
  std::string joined;
  for (const auto& id : ready) {
    if (!ready_.count(id)) joined = id;
  }
  ready_ = std::move(ready);
  if (!joined.empty()) {
    for (const auto& id : store_->LiveSystemJobs()) ask(id, v1::Evaluation::NODE_JOINED, joined);
  }

  // Failed allocations to replace: evaluated once when they fail, and once
  // more when their reschedule delay is over (the first evaluation only
  // notes the delay).
  std::set<std::string> failed_now;
  for (const auto& [id, replaced] : store_->FailedAllocations()) {
    failed_now.insert(id);
    if (replaced) continue;
    auto found = store_->GetAllocation(id);
    if (!found.ok()) continue;
    const v1::Allocation& a = *found;
    const v1::Job* j = job_of(a.job_id());
    if (j == nullptr || j->stop() || j->type() == v1::Job::SYSTEM) continue;
    const v1::TaskGroup* group = nullptr;
    for (const auto& g : j->groups()) {
      if (g.name() == a.group()) group = &g;
    }
    if (group == nullptr) continue;
    auto decision = sched::DecideReschedule(sched::EffectiveReschedule(*j, *group), a, now);
    if (decision.give_up) continue;
    auto& seen = failure_seen_[a.id()];
    const uint64_t stage = now >= decision.at_ms ? 2 : 1;
    if (seen >= stage) continue;
    if (!primed_) {
      seen = 1;  // a new leader: the failure itself was evaluated; the delay's end is ours
      if (stage == 1) continue;
    }
    if (waiting.count(a.job_id())) continue;  // the pending evaluation sees it anyway
    seen = stage;
    ask(a.job_id(), v1::Evaluation::ALLOC_FAILED, a.node_id());
  }
  std::erase_if(failure_seen_, [&](const auto& kv) { return !failed_now.count(kv.first); });
  primed_ = true;

  if (want.empty()) return 0;
  v1::Command cmd;
  cmd.set_time_ms(now);
  for (const auto& [job, why] : want) {
    auto* e = cmd.mutable_evaluate()->add_evals();
    e->set_id(NewUuid());
    e->set_job_id(job);
    e->set_triggered_by(why.first);
    e->set_node_id(why.second);
    e->set_status(v1::Evaluation::PENDING);
  }
  auto index = log_->Propose(cmd, std::chrono::seconds(5));
  if (!index.ok()) {
    spdlog::warn("job watch: cannot create {} evaluation(s): {}", want.size(), index.status().ToString());
    return 0;
  }
  for (const auto& [job, why] : want) {
    spdlog::info("job {}: evaluating ({}{})", job, v1::Evaluation::Trigger_Name(why.first),
                 why.second.empty() ? "" : ", node " + ShortId(why.second));
  }
  return static_cast<int>(want.size());
}

}  // namespace orch::master
