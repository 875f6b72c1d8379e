#include "agent/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/ids.h"

namespace orch::agent {

Reconciler::Reconciler(RunnerContext ctx, StateStore* store)
    : ctx_(std::move(ctx)), store_(store) {}

Status Reconciler::Restore() {
  ORCH_ASSIGN_OR_RETURN(auto records, store_->LoadAll());
  for (auto& rec : records) {
    for (const auto& t : rec.tasks()) {
      if (t.state().state() != v1::TaskState::RUNNING) continue;
      auto it = ctx_.drivers.find(t.handle().driver());
      Status st =
          it == ctx_.drivers.end()
              ? Status::FailedPrecondition("driver \"" + t.handle().driver() + "\" is not enabled")
              : it->second->Recover(t.handle());
      if (!st.ok()) {
        spdlog::warn("alloc {} task {}: cannot adopt: {}", ShortId(rec.alloc().id()), t.name(),
                     st.ToString());
      }
    }
    for (const auto& p : rec.ports()) ctx_.used_ports.push_back(p.value());
    std::string id = rec.alloc().id();
    spdlog::info("alloc {}: restored ({} tasks, {})", ShortId(id), rec.tasks_size(),
                 v1::Allocation::ClientStatus_Name(rec.client_status()));
    runners_[id] = std::make_unique<AllocRunner>(std::move(rec));
  }
  return Status::Ok();
}

void Reconciler::SetDesired(std::vector<v1::Allocation> allocs) {
  std::map<std::string, v1::Allocation> m;
  for (auto& a : allocs) {
    std::string id = a.id();
    m[id] = std::move(a);
  }
  desired_ = std::move(m);
}

std::vector<v1::AllocationUpdate> Reconciler::Reconcile() {
  if (desired_) {
    for (const auto& [id, alloc] : *desired_) {
      auto it = runners_.find(id);
      if (it == runners_.end()) {
        pb::AllocRecord rec;
        *rec.mutable_alloc() = alloc;
        // One the masters already know as finished (its record here was
        // lost) is not run again.
        auto cs = alloc.client_status();
        bool finished = cs == v1::Allocation::COMPLETE || cs == v1::Allocation::FAILED ||
                        cs == v1::Allocation::LOST;
        rec.set_client_status(finished ? cs : v1::Allocation::PENDING);
        rec.set_client_description(finished ? alloc.client_description() : "");
        spdlog::info("alloc {}: new ({} of job {}, desired {})", ShortId(id), alloc.group(),
                     alloc.job_id(), v1::Allocation::DesiredStatus_Name(alloc.desired_status()));
        runners_[id] = std::make_unique<AllocRunner>(std::move(rec));
      } else {
        it->second->SetAlloc(alloc);
      }
    }
  }

  std::vector<v1::AllocationUpdate> updates;
  for (auto it = runners_.begin(); it != runners_.end();) {
    AllocRunner& r = *it->second;
    const std::string id = it->first;
    AllocRunner::Want want = AllocRunner::Want::kObserve;
    bool listed = false;
    if (desired_) {
      auto d = desired_->find(id);
      listed = d != desired_->end();
      want = listed && d->second.desired_status() != v1::Allocation::STOP
                 ? AllocRunner::Want::kRun
                 : AllocRunner::Want::kStop;
    }
    std::string before = r.record().SerializeAsString();
    r.Step(want, ctx_);
    if (r.record().SerializeAsString() != before) {
      if (Status st = store_->Save(r.record()); !st.ok()) {
        spdlog::error("alloc {}: cannot persist state: {}", ShortId(id), st.ToString());
      }
    }
    if (desired_ && !listed && r.AllTasksDead()) {
      // The masters forgot it and nothing runs: forget it too (its logs and
      // directories stay on disk).
      for (const auto& t : r.record().tasks()) {
        auto d = ctx_.drivers.find(t.handle().driver());
        if (d != ctx_.drivers.end()) d->second->Forget(TaskId(id, t.name()));
      }
      for (const auto& p : r.record().ports()) {
        auto& used = ctx_.used_ports;
        auto u = std::find(used.begin(), used.end(), p.value());
        if (u != used.end()) used.erase(u);
      }
      (void)store_->Remove(id);
      reported_.erase(id);
      usage_sent_ms_.erase(id);
      spdlog::info("alloc {}: no longer listed by the masters, forgotten", ShortId(id));
      it = runners_.erase(it);
      continue;
    }
    if (listed) {
      v1::AllocationUpdate u = r.Update();
      std::string s = u.SerializeAsString();  // the state, before usage is attached
      auto rep = reported_.find(id);
      bool usage_due = false;
      if (auto load = usage_ ? usage_(id) : std::nullopt) {
        *u.mutable_usage() = *load;
        auto sent = usage_sent_ms_.find(id);
        usage_due = sent == usage_sent_ms_.end() ||
                    ctx_.clock->NowMs() - sent->second >= kUsageReportMs;
      }
      if (rep == reported_.end() || rep->second != s || usage_due) {
        reported_[id] = std::move(s);
        if (u.has_usage()) usage_sent_ms_[id] = ctx_.clock->NowMs();
        updates.push_back(std::move(u));
      }
    }
    ++it;
  }
  return updates;
}

std::vector<pb::AllocRecord> Reconciler::Records() const {
  std::vector<pb::AllocRecord> out;
  for (const auto& [id, r] : runners_) out.push_back(r->record());
  return out;
}

}  // namespace orch::agent
