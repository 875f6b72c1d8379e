#include "agent/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include "common/ids.h"

namespace orch::agent {

namespace {
constexpr std::chrono::milliseconds kOrphanKillTimeout{5000};

std::chrono::milliseconds KillTimeoutOf(const v1::Allocation& alloc, const std::string& task) {
  for (const auto& t : alloc.task_group().tasks()) {
    if (t.name() != task) continue;
    int64_t ms = t.kill_timeout().seconds() * 1000 + t.kill_timeout().nanos() / 1'000'000;
    if (ms > 0) return std::chrono::milliseconds(ms);
  }
  return kOrphanKillTimeout;
}
}  // namespace

Reconciler::Reconciler(RunnerContext ctx, StateStore* store)
    : ctx_(std::move(ctx)), store_(store) {
  for (const auto& [name, d] : ctx_.drivers) undiscovered_.push_back(name);
  // Read on the reconcile thread only (sticky allocations start in the
  // main pass, never in StartNewConcurrently's workers).
  ctx_.alloc_running = [this](const std::string& id) {
    auto it = runners_.find(id);
    return it != runners_.end() && !it->second->AllTasksDead();
  };
}

void Reconciler::AddDriver(const std::string& name, TaskDriver* driver) {
  ctx_.drivers[name] = driver;
  undiscovered_.push_back(name);
}

std::vector<std::string> Reconciler::StoppingOrphans() const {
  std::vector<std::string> out;
  for (const auto& [id, d] : stopping_orphans_) out.push_back(id);
  return out;
}

namespace {

// Whether a discovered task is this agent's: its output goes under our data
// dir. Another agent sharing the engine (or the host's cgroups) has its own
// data dir; its work is never touched. Unknown (empty) counts as ours only
// for adopting, never for stopping.
enum class Owner { kOurs, kOthers, kUnknown };

Owner OwnerOf(const pb::TaskHandle& h, const std::string& data_dir) {
  if (h.stdout_path().empty()) return Owner::kUnknown;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path ours = fs::absolute(fs::path(data_dir) / "allocs", ec).lexically_normal();
  fs::path path = fs::path(h.stdout_path()).lexically_normal();
  auto [a, b] = std::mismatch(ours.begin(), ours.end(), path.begin(), path.end());
  return a == ours.end() ? Owner::kOurs : Owner::kOthers;
}

}  // namespace

void Reconciler::DiscoverOrphans(const std::string& driver_name, TaskDriver* driver) {
  for (const pb::TaskHandle& h : driver->Discover()) {
    const std::string& alloc_id = h.alloc_id();
    const std::string tid = TaskId(alloc_id, h.task());
    if (alloc_id.empty() || h.task().empty() || stopping_orphans_.count(tid)) continue;
    Owner owner = OwnerOf(h, ctx_.data_dir);
    if (owner == Owner::kOthers) {
      spdlog::debug("alloc {} task {}: found ({}) but another agent's (output at {}), left alone",
                    ShortId(alloc_id), h.task(), driver_name, h.stdout_path());
      continue;
    }
    auto r = runners_.find(alloc_id);
    pb::TaskRecord* rec_task = nullptr;
    if (r != runners_.end()) rec_task = r->second->MutableTask(h.task());
    bool tracked = rec_task != nullptr && rec_task->state().state() == v1::TaskState::RUNNING &&
                   rec_task->handle().driver() == driver_name && driver->Inspect(tid).ok();
    if (tracked) continue;
    auto d = desired_->find(alloc_id);
    bool wanted = d != desired_->end() && d->second.desired_status() != v1::Allocation::STOP;
    bool finished = false;
    if (r != runners_.end()) {
      auto cs = r->second->record().client_status();
      finished = cs == v1::Allocation::COMPLETE || cs == v1::Allocation::FAILED ||
                 cs == v1::Allocation::LOST;
    }
    if (wanted && r != runners_.end() && !r->second->record().started() && !finished) {
      // Its first Step starts the group; the driver's Start adopts this run
      // (same container name / cgroup) instead of starting a second one.
      spdlog::info("alloc {} task {}: found running with no record ({}); adopted when the "
                   "allocation starts",
                   ShortId(alloc_id), h.task(), driver_name);
      continue;
    }
    if (wanted && !finished && r != runners_.end()) {
      if (Status st = driver->Recover(h); !st.ok()) {
        spdlog::warn("alloc {} task {}: found with no record but cannot adopt it: {}",
                     ShortId(alloc_id), h.task(), st.ToString());
        continue;
      }
      if (auto st = driver->Inspect(tid); !st.ok() || !st->running()) {
        // An earlier run that has already exited (docker lists stopped
        // containers too): the driver tracks it now and cleans it up; it
        // is not this allocation's running task.
        spdlog::info("alloc {} task {}: found an exited run with no record ({}); not adopted",
                     ShortId(alloc_id), h.task(), driver_name);
        continue;
      }
      r->second->AdoptTask(h);
      (void)store_->Save(r->second->record());
      spdlog::info("alloc {} task {}: found running with no record ({}); adopted, the masters "
                   "still want it",
                   ShortId(alloc_id), h.task(), driver_name);
      continue;
    }
    // Not wanted: stopped for good; its allocation is gone, stopping, or
    // already finished as far as the masters know.
    std::string why = d == desired_->end() ? "the masters no longer list its allocation"
                      : wanted             ? "its allocation has already finished"
                                           : "its allocation's desired status is stop";
    if (owner == Owner::kUnknown) {
      spdlog::warn("alloc {} task {}: found ({}) with no record and {}, but where its output "
                   "goes is unknown, so it may be another agent's: left alone",
                   ShortId(alloc_id), h.task(), driver_name, why);
      continue;
    }
    if (Status st = driver->Recover(h); !st.ok()) {
      spdlog::warn("alloc {} task {}: orphan ({}) cannot be adopted to stop it: {}",
                   ShortId(alloc_id), h.task(), why, st.ToString());
      continue;
    }
    auto timeout = d != desired_->end() ? KillTimeoutOf(d->second, h.task())
                   : r != runners_.end() ? KillTimeoutOf(r->second->record().alloc(), h.task())
                                         : kOrphanKillTimeout;
    Status st = driver->Stop(tid, timeout);
    spdlog::warn("alloc {} task {}: orphan found with no record ({}), {}: stopping it{}",
                 ShortId(alloc_id), h.task(), driver_name, why,
                 st.ok() ? "" : " failed: " + st.ToString());
    stopping_orphans_[tid] = driver;
  }
}

// Orphans stopped by discovery: once exited, the driver forgets them.
void Reconciler::ReapOrphans() {
  for (auto it = stopping_orphans_.begin(); it != stopping_orphans_.end();) {
    auto st = it->second->Inspect(it->first);
    if (st.ok() && st->running()) {
      ++it;
      continue;
    }
    it->second->Forget(it->first);
    spdlog::info("task {}: orphan stopped{}", it->first,
                 st.ok() ? " (" + (st->message.empty() ? std::string("exited") : st->message) + ")"
                         : "");
    it = stopping_orphans_.erase(it);
  }
}

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

  if (desired_ && !undiscovered_.empty()) {
    std::vector<std::string> names = std::move(undiscovered_);
    undiscovered_.clear();
    for (const auto& name : names) {
      auto d = ctx_.drivers.find(name);
      if (d != ctx_.drivers.end()) DiscoverOrphans(name, d->second);
    }
  }
  ReapOrphans();
  StartNewConcurrently();

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
        // An orphan still stopping is forgotten by ReapOrphans once it exited.
        if (d != ctx_.drivers.end() && !stopping_orphans_.count(TaskId(id, t.name())))
          d->second->Forget(TaskId(id, t.name()));
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
  CountTasks();
  return updates;
}

void Reconciler::CountTasks() const {
  if (ctx_.metrics == nullptr || ctx_.metrics->tasks == nullptr) return;
  std::map<std::string, double> by_state;
  for (int s = v1::TaskState::State_MIN; s <= v1::TaskState::State_MAX; ++s) {
    if (v1::TaskState::State_IsValid(s) && s != 0) by_state[v1::TaskState::State_Name(s)] = 0;
  }
  for (const auto& [id, r] : runners_) {
    for (const auto& t : r->record().tasks())
      by_state[v1::TaskState::State_Name(t.state().state())] += 1;
  }
  for (const auto& [state, n] : by_state) ctx_.metrics->tasks->With({state}).Set(n);
}

std::vector<pb::AllocRecord> Reconciler::Records() const {
  std::vector<pb::AllocRecord> out;
  for (const auto& [id, r] : runners_) out.push_back(r->record());
  return out;
}

namespace {
// Whether the masters assigned every port of the group: then starting it
// picks no port of its own and cannot race another start for one.
bool PortsAssigned(const v1::Allocation& a) {
  int want = a.task_group().network().ports_size();
  int have = 0;
  for (const auto& p : a.ports()) have += p.value() > 0 ? 1 : 0;
  return have >= want;
}
constexpr size_t kMaxConcurrentStarts = 8;
}  // namespace

void Reconciler::StartNewConcurrently() {
  if (!desired_) return;
  std::vector<AllocRunner*> fresh;
  for (auto& [id, r] : runners_) {
    auto d = desired_->find(id);
    if (d == desired_->end() || d->second.desired_status() == v1::Allocation::STOP) continue;
    if (r->record().started() || !PortsAssigned(r->record().alloc())) continue;
    // Waits for (and reads) another allocation's runner: the main pass.
    if (!r->record().alloc().previous_allocation().empty() &&
        KeepsDisk(r->record().alloc().task_group()))
      continue;
    fresh.push_back(r.get());
  }
  if (fresh.size() < 2) return;  // the main pass starts a lone one
  std::atomic<size_t> next{0};
  auto worker = [&] {
    RunnerContext local = ctx_;  // drivers and health are thread-safe
    for (size_t i; (i = next.fetch_add(1)) < fresh.size();) fresh[i]->Step(AllocRunner::Want::kRun, local);
  };
  std::vector<std::thread> threads;
  size_t n = std::min(kMaxConcurrentStarts, fresh.size());
  for (size_t i = 1; i < n; ++i) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  for (AllocRunner* r : fresh) {
    for (const auto& p : r->record().ports()) ctx_.used_ports.push_back(p.value());
    if (Status st = store_->Save(r->record()); !st.ok()) {
      spdlog::error("alloc {}: cannot persist state: {}", ShortId(r->id()), st.ToString());
    }
  }
  spdlog::info("started {} new allocations, up to {} at a time", fresh.size(), n);
}

}  // namespace orch::agent
