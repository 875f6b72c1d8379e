#include "master/controllers/periodic_launcher.h"

#include <spdlog/spdlog.h>

#include <set>

#include "common/ids.h"
#include "master/controllers/child_jobs.h"

namespace orch::master {

const PeriodicLauncher::Schedule* PeriodicLauncher::ScheduleOf(const v1::Job& job) {
  if (job.stop() || !job.has_periodic()) return nullptr;
  auto it = schedules_.find(job.id());
  if (it != schedules_.end() && it->second.modify_index == job.modify_index()) return &it->second;
  if (it != schedules_.end()) schedules_.erase(it);
  // Validated at submit; a zone file removed since shows up here.
  auto cron = CronSchedule::Parse(job.periodic().cron());
  auto tz = TimeZone::Load(job.periodic().time_zone());
  if (!cron.ok() || !tz.ok()) {
    spdlog::error("periodic: job {}: not launched: {}", job.id(),
                  (!cron.ok() ? cron.status() : tz.status()).message());
    return nullptr;
  }
  return &schedules_
              .emplace(job.id(), Schedule{job.modify_index(), std::move(*cron), std::move(*tz)})
              .first->second;
}

int PeriodicLauncher::MaybeRun(std::chrono::milliseconds interval) {
  int64_t now = clock_->NowMs();
  if (last_run_ms_ != 0 && now - last_run_ms_ < interval.count() && now >= last_run_ms_) return 0;
  last_run_ms_ = now;
  return RunOnce();
}

int PeriodicLauncher::RunOnce() {
  if (!log_->IsLeader()) return 0;
  int proposed = 0;
  std::set<std::string> seen;
  for (const auto& launch : store_->PeriodicLaunches()) {
    seen.insert(launch.job_id);
    auto job = store_->GetJob(launch.job_id);
    if (!job.ok()) continue;
    const Schedule* s = ScheduleOf(*job);
    if (s == nullptr) continue;
    const int64_t now_s = clock_->NowMs() / 1000;
    // Launch times are whole minutes: the first after the last launch.
    auto next = s->cron.Next(launch.launch_ms / 1000, s->tz);
    if (!next || *next > now_s) continue;
    // Times missed while no leader ran: only the latest is launched.
    int64_t due = *next;
    int missed = 0;
    while (missed < 100000) {
      auto after = s->cron.Next(due, s->tz);
      if (!after || *after > now_s) break;
      due = *after;
      ++missed;
    }
    if (missed > 0) {
      spdlog::warn(
          "periodic: job {}: {} launch time(s) passed unlaunched (no leader); launching the latest",
          job->id(), missed);
    }
    bool skip = false;
    if (job->periodic().prohibit_overlap()) {
      for (const auto& child : store_->ListChildJobs(job->id())) {
        if (child.status() != v1::Job::DEAD) {
          skip = true;
          spdlog::info("periodic: job {}: launch skipped, {} is still {}", job->id(), child.id(),
                       v1::Job::Status_Name(child.status()));
          break;
        }
      }
    }
    v1::Command cmd;
    *cmd.mutable_periodic_launch() =
        MakePeriodicLaunch(*job, due * 1000, /*forced=*/false, skip, NewUuid());
    cmd.set_time_ms(clock_->NowMs());
    auto index = log_->Propose(cmd, std::chrono::seconds(5));
    ++proposed;
    if (!index.ok()) {
      spdlog::warn("periodic: job {}: launch at {} not made: {}", job->id(), due,
                   index.status().message());
    } else if (!skip) {
      spdlog::info("periodic: job {}: launched {} (index {})", job->id(),
                   cmd.periodic_launch().child().job().id(), *index);
    }
  }
  for (auto it = schedules_.begin(); it != schedules_.end();) {
    it = seen.count(it->first) ? std::next(it) : schedules_.erase(it);
  }
  return proposed;
}

}  // namespace orch::master
