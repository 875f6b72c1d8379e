// Periodic and parameterized jobs in the state: the periodic_launches table
// (one row per periodic job: the launch time recorded last), the launch
// command, and a job's children by a range of the jobs' primary key.
#include <spdlog/spdlog.h>

#include "master/state/state_store.h"

namespace orch::master {

std::vector<StateStore::PeriodicLaunch> StateStore::PeriodicLaunches() const {
  std::lock_guard lock(mu_);
  std::vector<PeriodicLaunch> out;
  auto stmt = db_->Prepare("SELECT job_id, launch_ms FROM periodic_launches ORDER BY job_id");
  if (!stmt.ok()) {
    spdlog::error("state: {}", stmt.status().ToString());
    return out;
  }
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok() || !*row) break;
    out.push_back({stmt->Text(0), stmt->Int(1)});
  }
  return out;
}

std::vector<v1::Job> StateStore::ListChildJobs(const std::string& parent_id) const {
  std::lock_guard lock(mu_);
  // Children are "<parent>/...": the ids from "<parent>/" up to "<parent>0"
  // ('0' follows '/'), one range of the primary key.
  auto jobs = LoadMany<v1::Job>("SELECT data FROM jobs WHERE id > ? AND id < ? ORDER BY id",
                                {parent_id + "/", parent_id + "0"});
  for (auto& j : jobs) {
    auto allocs = LoadMany<v1::Allocation>("SELECT data FROM allocations WHERE job_id=?", {j.id()});
    DeriveJob(&j, Pointers(allocs));
  }
  return jobs;
}

Status StateStore::TrackPeriodicLocked(const v1::Job& job, const v1::Job* old, int64_t time_ms) {
  if (!job.has_periodic()) {
    if (old == nullptr || !old->has_periodic()) return Status::Ok();
    ORCH_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM periodic_launches WHERE job_id=?"));
    del.Bind(1, job.id());
    return del.Run();
  }
  // New (or periodic again, or running again after a stop): its first
  // launch is the first time after now. A changed periodic job keeps its
  // place in the schedule.
  bool restart = old == nullptr || !old->has_periodic() || old->stop();
  ORCH_ASSIGN_OR_RETURN(
      auto put,
      db_->Prepare(restart ? "INSERT OR REPLACE INTO periodic_launches(job_id, launch_ms) "
                             "VALUES(?, ?)"
                           : "INSERT OR IGNORE INTO periodic_launches(job_id, launch_ms) "
                             "VALUES(?, ?)"));
  put.Bind(1, job.id()).Bind(2, time_ms);
  return put.Run();
}

Status StateStore::ApplyPeriodicLaunch(uint64_t index, const v1::Command& cmd, Status* outcome) {
  const auto& c = cmd.periodic_launch();
  auto job = LoadOne<v1::Job>("jobs", c.job_id());
  if (!job || job->stop() || !job->has_periodic()) {
    *outcome =
        Status::FailedPrecondition("job \"" + c.job_id() + "\" is not a running periodic job");
    return Status::Ok();
  }
  if (job->modify_index() != c.job_modify_index()) {
    *outcome = Status::FailedPrecondition("job \"" + c.job_id() +
                                          "\" changed since its launch was planned");
    return Status::Ok();
  }
  if (c.has_child() &&
      (c.child().job().parent_id() != job->id() || c.child().job().has_periodic())) {
    *outcome = Status::InvalidArgument("periodic launch: the child is not one of job \"" +
                                       job->id() + "\"");
    return Status::Ok();
  }
  if (!c.forced()) {
    ORCH_ASSIGN_OR_RETURN(auto get,
                          db_->Prepare("SELECT launch_ms FROM periodic_launches WHERE job_id=?"));
    get.Bind(1, job->id());
    ORCH_ASSIGN_OR_RETURN(bool found, get.Step());
    int64_t last = found ? get.Int(0) : 0;
    if (c.launch_ms() <= last) {
      *outcome = Status::AlreadyExists(
          "job \"" + job->id() + "\": the launch at " + std::to_string(c.launch_ms()) +
          " ms is not after the last one (" + std::to_string(last) + " ms)");
      return Status::Ok();
    }
    ORCH_ASSIGN_OR_RETURN(
        auto put, db_->Prepare("INSERT OR REPLACE INTO periodic_launches(job_id, launch_ms) "
                               "VALUES(?, ?)"));
    put.Bind(1, job->id()).Bind(2, c.launch_ms());
    ORCH_RETURN_IF_ERROR(put.Run());
  }
  if (!c.has_child()) {
    spdlog::info("state: index {}: periodic job {}: launch at {} ms skipped (prohibit_overlap)",
                 index, job->id(), c.launch_ms());
    return Status::Ok();
  }
  if (LoadOne<v1::Job>("jobs", c.child().job().id())) {
    *outcome = Status::AlreadyExists("job \"" + c.child().job().id() + "\" exists already");
    return Status::Ok();
  }
  return ApplyRegisterJobCommand(index, cmd.time_ms(), c.child(), outcome);
}

}  // namespace orch::master
