// What the leader's eval worker and job watch read each pass, cut to what
// they need: one read of the allocations instead of three, no read of the
// jobs (their priorities and kinds are kept in memory, maintained with every
// job write and rebuilt on open and restore), the waiting evaluations from
// the status index.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <set>

#include "master/state/state_store.h"

namespace orch::master {

void StateStore::NoteJobLocked(const v1::Job& job) {
  bool services = false;
  for (const auto& g : job.groups()) {
    for (const auto& t : g.tasks()) services |= t.has_service();
  }
  JobBrief& b = jobs_brief_[job.id()];
  if (services || b.services) NoteServicesChangeLocked();
  b = JobBrief{job.priority(), job.type() == v1::Job::SYSTEM && !job.stop(), services};
}

void StateStore::RebuildJobBriefsLocked() {
  jobs_brief_.clear();
  for (const auto& j : LoadMany<v1::Job>("SELECT data FROM jobs", {})) NoteJobLocked(j);
  std::unordered_map<std::string, v1::Node::Status> nodes;
  std::unordered_map<std::string, std::string> secrets;
  for (const auto& n : LoadMany<v1::Node>("SELECT data FROM nodes", {})) {
    nodes[n.id()] = n.status();
    secrets[n.id()] = n.secret_hash();
  }
  std::lock_guard lock(node_brief_mu_);
  node_status_.swap(nodes);
  node_secret_hash_.swap(secrets);
}

std::string StateStore::NodeSecretHashBrief(const std::string& id) const {
  std::lock_guard lock(node_brief_mu_);
  auto it = node_secret_hash_.find(id);
  return it == node_secret_hash_.end() ? "" : it->second;
}

std::unordered_map<std::string, v1::Node::Status> StateStore::NodeStatusesBrief() const {
  std::lock_guard lock(node_brief_mu_);
  return node_status_;
}

std::optional<v1::Node::Status> StateStore::NodeStatusBrief(const std::string& id) const {
  std::lock_guard lock(node_brief_mu_);
  auto it = node_status_.find(id);
  if (it == node_status_.end()) return std::nullopt;
  return it->second;
}

StateStore::SchedulingRead StateStore::ReadForScheduling(const std::vector<std::string>& job_ids) const {
  std::lock_guard read_lock(read_mu_);
  uint64_t epoch = 0, state_index = 0;
  bool refill = false;
  std::vector<std::shared_ptr<const EventBatch>> changes;
  {
    // The read transaction begins under the apply lock, so it sees the
    // state as of one applied index, the index the events published so far
    // reach; the lock is let go before the reading.
    std::lock_guard lock(mu_);
    // It reads what state.db holds: the applies so far, committed.
    if (Status st = CommitBatchForReadLocked(); !st.ok()) {
      spdlog::error("state: scheduling read: {}", st.ToString());
      return {};
    }
    if (!read_db_) {
      auto db = sqlite::Db::Open(db_->path(), sqlite::Db::Sync::kNormal);
      if (!db.ok()) {
        spdlog::error("state: scheduling read: {}", db.status().ToString());
        return {};
      }
      read_db_ = std::move(db).value();
    }
    Status begun = read_db_->Exec("BEGIN");
    if (begun.ok()) begun = read_db_->Exec("SELECT value FROM meta WHERE key='applied_index'");
    if (!begun.ok()) {
      spdlog::error("state: scheduling read: {}", begun.ToString());
      (void)read_db_->Exec("ROLLBACK");
      return {};
    }
    epoch = briefs_epoch_.load();
    state_index = applied_ + offset_;
    refill = !sched_cache_.Holds(epoch);
    if (!refill) {
      EventBuffer::Read since =
          events_.After(sched_cache_.index(), std::numeric_limits<std::size_t>::max());
      refill = since.too_old;
      changes = std::move(since.batches);
    }
  }
  struct EndRead {
    sqlite::Db* db;
    ~EndRead() { (void)db->Exec("COMMIT"); }
  } end_read{read_db_.get()};

  // The nodes and the allocations holding resources: what changed since
  // the last pass, or everything when the cache cannot follow.
  if (!refill) {
    sched_cache_.Apply(changes, state_index);
    // Jobs deleted since the last read (here or in a catch-up): their
    // allocations as the tables hold them now.
    std::map<std::string, std::vector<v1::Allocation>> deleted;
    for (const auto& job_id : sched_cache_.TakeDeletedJobs()) {
      deleted[job_id] = LoadManyFrom<v1::Allocation>(
          *read_db_, "SELECT data FROM allocations WHERE job_id=?", {job_id});
    }
    sched_cache_.ReplaceJobs(deleted);
    refill = !sched_cache_.Holds(epoch);
  }
  if (refill) {
    if (!FillSchedulingCache(epoch, state_index)) return {};
    ++scheduling_fills_;
  }

  SchedulingRead r;
  SchedulingState& s = r.state;
  s.nodes = sched_cache_.Nodes();
  s.held = sched_cache_.Held();
  s.priority = sched_cache_.priorities();
  for (const auto& id : job_ids) {
    auto& allocs = r.allocs_by_job[id];
    allocs = LoadManyFrom<v1::Allocation>(*read_db_, "SELECT data FROM allocations WHERE job_id=?",
                                          {id});
    std::sort(allocs.begin(), allocs.end(),
              [](const v1::Allocation& a, const v1::Allocation& b) { return a.id() < b.id(); });
    auto job = LoadManyFrom<v1::Job>(*read_db_, "SELECT data FROM jobs WHERE id=?", {id});
    if (!job.empty()) {
      DeriveJob(&job.front(), Pointers(allocs));
      r.jobs.emplace(id, std::move(job.front()));
    }
    auto d = LoadManyFrom<v1::Deployment>(
        *read_db_, "SELECT data FROM deployments WHERE job_id=? ORDER BY seq DESC LIMIT 1", {id});
    r.deployments[id] = d.empty() ? std::nullopt : std::optional<v1::Deployment>(std::move(d.front()));
  }
  r.ok = true;
  return r;
}

void StateStore::FollowForScheduling() const {
  std::lock_guard read_lock(read_mu_);
  // No apply lock and no read of state.db: the events alone. A restore
  // racing with this leaves the cache at the old epoch (read again by the
  // next pass) or finds the events dropped.
  if (!sched_cache_.Holds(briefs_epoch_.load())) return;  // the next pass fills it
  EventBuffer::Read since =
      events_.After(sched_cache_.index(), std::numeric_limits<std::size_t>::max());
  if (since.too_old) {
    sched_cache_.Clear();
    return;
  }
  if (since.last > sched_cache_.index()) sched_cache_.Apply(since.batches, since.last);
}

void StateStore::ForgetForScheduling() const {
  std::lock_guard read_lock(read_mu_);
  sched_cache_.Clear();
}

bool StateStore::FillSchedulingCache(uint64_t epoch, uint64_t state_index) const {
  sched_cache_.Start(epoch);
  {
    // The priorities from memory (kept with every job write), as of this
    // read or a little later (the events up to then put the same).
    std::lock_guard lock(mu_);
    for (const auto& [id, b] : jobs_brief_) sched_cache_.PutPriority(id, b.priority);
  }
  for (const auto& n : LoadManyFrom<v1::Node>(*read_db_, "SELECT data FROM nodes", {}))
    sched_cache_.PutNode(n);
  // One allocation parsed at a time: the table may hold many.
  auto stmt = read_db_->Prepare("SELECT data FROM allocations");
  if (!stmt.ok()) {
    spdlog::error("state: scheduling read: {}", stmt.status().ToString());
    sched_cache_.Clear();
    return false;
  }
  v1::Allocation a;
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok()) {
      spdlog::error("state: scheduling read: {}", row.status().ToString());
      sched_cache_.Clear();
      return false;
    }
    if (!*row) break;
    if (a.ParseFromString(stmt->Blob(0))) sched_cache_.PutAllocation(a);
  }
  sched_cache_.Filled(state_index);
  return true;
}

std::vector<v1::Node> StateStore::ListNodesAsStored() const {
  std::lock_guard lock(mu_);
  return LoadMany<v1::Node>("SELECT data FROM nodes ORDER BY id", {});
}

std::set<std::string> StateStore::JobsWithWaitingEvaluations() const {
  std::lock_guard lock(mu_);
  std::set<std::string> out;
  auto stmt = db_->Prepare("SELECT DISTINCT job_id FROM evaluations WHERE status IN (" +
                           std::to_string(v1::Evaluation::PENDING) + "," + std::to_string(v1::Evaluation::BLOCKED) +
                           ")");
  if (!stmt.ok()) {
    spdlog::error("state: {}", stmt.status().ToString());
    return out;
  }
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok() || !*row) break;
    out.insert(stmt->Text(0));
  }
  return out;
}

std::vector<std::string> StateStore::LiveSystemJobs() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, b] : jobs_brief_) {
    if (b.live_system) out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

StateStore::Counts StateStore::CountState() const {
  Counts out;
  for (const auto& [id, status] : NodeStatusesBrief())
    out.nodes[v1::Node::Status_Name(status)] += 1;
  std::lock_guard lock(mu_);
  out.jobs = static_cast<double>(jobs_brief_.size());
  if (auto stmt = db_->Prepare("SELECT status, count(*) FROM evaluations GROUP BY status");
      stmt.ok()) {
    for (auto row = stmt->Step(); row.ok() && *row; row = stmt->Step()) {
      const auto status = static_cast<v1::Evaluation::Status>(stmt->Int(0));
      out.evaluations[v1::Evaluation::Status_IsValid(status) ? v1::Evaluation::Status_Name(status)
                                                             : "UNKNOWN"] +=
          static_cast<double>(stmt->Int(1));
    }
  }
  for (int status = 0; status < v1::Allocation::ClientStatus_ARRAYSIZE; ++status) {
    const int64_t n = alloc_status_count_[static_cast<size_t>(status)];
    if (n > 0 && v1::Allocation::ClientStatus_IsValid(status)) {
      out.allocations[v1::Allocation::ClientStatus_Name(
          static_cast<v1::Allocation::ClientStatus>(status))] = static_cast<double>(n);
    }
  }
  return out;
}

}  // namespace orch::master
