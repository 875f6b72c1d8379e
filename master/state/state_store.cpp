#include "master/state/state_store.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <map>

#include "common/sqlite_checkpointer.h"
#include "common/sqlite_image.h"
#include "master/state/meta_table.h"

namespace orch::master {

std::vector<const v1::Allocation*> StateStore::Pointers(const std::vector<v1::Allocation>& allocs) {
  std::vector<const v1::Allocation*> out;
  out.reserve(allocs.size());
  for (const auto& a : allocs) out.push_back(&a);
  return out;
}

namespace {
template <typename T>
Status Put(sqlite::Db* db, const char* sql, const T& msg, const std::vector<std::string>& keys,
           std::string* written = nullptr) {
  ORCH_ASSIGN_OR_RETURN(auto stmt, db->Prepare(sql));
  int i = 1;
  for (const auto& k : keys) stmt.Bind(i++, k);
  std::string blob = msg.SerializeAsString();
  stmt.BindBlob(i, blob);
  if (written) *written = std::move(blob);  // SQLite took its own copy
  return stmt.Run();
}
}  // namespace

StateStore::StateStore(std::unique_ptr<sqlite::Db> db) : db_(std::move(db)) {}

sqlite::WalCheckpointCounts StateStore::CheckpointCounts() const {
  return checkpointer_ ? checkpointer_->counts() : sqlite::WalCheckpointCounts{};
}

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& path) {
  // The Raft log (raft.db, fsynced) is the durable record; an apply lost to
  // power failure is replayed from it, since the applied index commits in
  // the same transaction. So state.db need not fsync every apply.
  ORCH_ASSIGN_OR_RETURN(auto db, sqlite::Db::Open(path, sqlite::Db::Sync::kNormal));
  std::unique_ptr<StateStore> s(new StateStore(std::move(db)));
  ORCH_ASSIGN_OR_RETURN(s->checkpointer_, sqlite::WalCheckpointer::Start(s->db_->raw(), path));
  ORCH_RETURN_IF_ERROR(s->MigrateSchema());
  s->RebuildJobBriefsLocked();
  s->RebuildAllocationBriefsLocked();
  s->RebuildAclLocked();
  ORCH_RETURN_IF_ERROR(s->ReadIndexesLocked());
  s->events_.Reset(s->applied_ + s->offset_);  // what came before is not kept
  s->waiters_.Advance(s->applied_ + s->offset_);
  s->waiters_.RaiseKeys(s->applied_ + s->offset_);
  // Every agent's balancer watches the services: a deploy changes them once
  // per allocation placed and again as each starts, and each change answered
  // 5,000 watches with the whole registry. Coalesced like Istio's pushes to
  // its proxies: 100 ms of quiet, 1 s at most.
  s->waiters_.Debounce(ServicesWatchKey(), std::chrono::milliseconds(100), std::chrono::seconds(1));
  return s;
}

Status StateStore::CreateSchema() {
  return db_->Exec(R"sql(
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, data BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS nodes (id TEXT PRIMARY KEY, data BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS allocations (
      id TEXT PRIMARY KEY, job_id TEXT NOT NULL, node_id TEXT NOT NULL, data BLOB NOT NULL,
      terminal INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX IF NOT EXISTS allocations_by_job ON allocations(job_id);
    CREATE INDEX IF NOT EXISTS allocations_on_node ON allocations(node_id, terminal);
    CREATE TABLE IF NOT EXISTS evaluations (
      id TEXT PRIMARY KEY, job_id TEXT NOT NULL, status INTEGER NOT NULL, data BLOB NOT NULL);
    CREATE INDEX IF NOT EXISTS evaluations_by_job ON evaluations(job_id);
    CREATE INDEX IF NOT EXISTS evaluations_by_status ON evaluations(status);
    CREATE TABLE IF NOT EXISTS members (id TEXT PRIMARY KEY, data BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS periodic_launches (job_id TEXT PRIMARY KEY, launch_ms INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS job_versions (
      job_id TEXT NOT NULL, version INTEGER NOT NULL, stable INTEGER NOT NULL DEFAULT 0, data BLOB NOT NULL,
      PRIMARY KEY (job_id, version)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS deployments (
      id TEXT PRIMARY KEY, job_id TEXT NOT NULL, status INTEGER NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL);
    CREATE INDEX IF NOT EXISTS deployments_by_job ON deployments(job_id, seq);
    CREATE INDEX IF NOT EXISTS deployments_by_status ON deployments(status);
    CREATE TABLE IF NOT EXISTS service_claims (
      job_id TEXT NOT NULL, name TEXT NOT NULL, port INTEGER NOT NULL, PRIMARY KEY (job_id, name)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS service_claims_by_name ON service_claims(name);
    CREATE INDEX IF NOT EXISTS service_claims_by_port ON service_claims(port);
    CREATE TABLE IF NOT EXISTS acl_tokens (
      id TEXT PRIMARY KEY, secret_hash TEXT NOT NULL UNIQUE, data BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS acl_policies (id TEXT PRIMARY KEY, data BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS restore_chunks (
      restore_id TEXT NOT NULL, offset INTEGER NOT NULL, data BLOB NOT NULL,
      PRIMARY KEY (restore_id, offset)) WITHOUT ROWID;
  )sql");
}

Status StateStore::MigrateSchema() {
  ORCH_ASSIGN_OR_RETURN(auto has,
                        db_->Prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='service_claims'"));
  ORCH_ASSIGN_OR_RETURN(bool had_claims, has.Step());
  has.Reset();
  // Allocations gained `terminal` (what a node holds is read without its
  // finished work): added, filled, and the node index replaced.
  ORCH_ASSIGN_OR_RETURN(auto columns,
                        db_->Prepare("SELECT name FROM pragma_table_info('allocations')"));
  bool allocations = false, terminal = false;
  for (;;) {
    ORCH_ASSIGN_OR_RETURN(bool row, columns.Step());
    if (!row) break;
    allocations = true;
    terminal |= columns.Text(0) == "terminal";
  }
  columns.Reset();
  if (allocations && !terminal) {
    ORCH_RETURN_IF_ERROR(
        db_->Exec("ALTER TABLE allocations ADD COLUMN terminal INTEGER NOT NULL DEFAULT 0"));
    ORCH_RETURN_IF_ERROR(db_->Exec("DROP INDEX IF EXISTS allocations_by_node"));
    ORCH_RETURN_IF_ERROR(MarkTerminalAllocations());
  }
  ORCH_RETURN_IF_ERROR(CreateSchema());
  if (!had_claims) ORCH_RETURN_IF_ERROR(RebuildServiceClaims());
  return Status::Ok();
}

Status StateStore::MarkTerminalAllocations() {
  std::vector<std::string> ids;
  {
    ORCH_ASSIGN_OR_RETURN(auto all,
                          db_->Prepare("SELECT id, data FROM allocations WHERE terminal=0"));
    v1::Allocation a;
    for (;;) {
      ORCH_ASSIGN_OR_RETURN(bool row, all.Step());
      if (!row) break;
      if (a.ParseFromString(all.Blob(1)) && IsTerminal(a)) ids.push_back(all.Text(0));
    }
  }
  if (ids.empty()) return Status::Ok();
  // One transaction for all of them, inside the caller's if it has one.
  ORCH_RETURN_IF_ERROR(db_->Exec("SAVEPOINT mark_terminal"));
  Status st = [&]() -> Status {
    ORCH_ASSIGN_OR_RETURN(auto mark, db_->Prepare("UPDATE allocations SET terminal=1 WHERE id=?"));
    for (const auto& id : ids) {
      mark.Bind(1, id);
      ORCH_RETURN_IF_ERROR(mark.Run());
      mark.Reset();
    }
    return Status::Ok();
  }();
  if (!st.ok()) {
    (void)db_->Exec("ROLLBACK TO mark_terminal");
    (void)db_->Exec("RELEASE mark_terminal");
    return st;
  }
  return db_->Exec("RELEASE mark_terminal");
}

uint64_t StateStore::AppliedIndex() const { return applied_.load(); }

uint64_t StateStore::StateIndex() const { return applied_.load() + offset_.load(); }

uint64_t StateStore::StateIndexAt(uint64_t raft_index) const { return raft_index + offset_.load(); }

Status StateStore::ReadIndexesLocked() {
  ORCH_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare("SELECT key, value FROM meta WHERE key IN ('applied_index', 'index_offset')"));
  applied_ = 0;
  offset_ = 0;
  for (;;) {
    ORCH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    const auto v = static_cast<uint64_t>(stmt.Int(1));
    if (stmt.Text(0) == "applied_index") {
      applied_ = v;
    } else {
      offset_ = v;
    }
  }
  return Status::Ok();
}

uint64_t StateStore::WaitForIndexAbove(uint64_t index, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return applied_ > index || closed_; });
  return applied_;
}

void StateStore::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    if (Status st = CommitBatchLocked(); !st.ok()) {
      spdlog::error("state: committing the last applies at close: {}", st.ToString());
    }
  }
  cv_.notify_all();
  waiters_.Close();
}

Status StateStore::RecordApplied(uint64_t index) {
  return WriteMeta(db_.get(), "applied_index", static_cast<int64_t>(index));
}

StateStore::~StateStore() {
  std::lock_guard lock(mu_);
  if (Status st = CommitBatchLocked(); !st.ok()) {
    spdlog::error("state: committing the last applies: {}", st.ToString());
  }
}

Status StateStore::OpenBatchLocked() {
  if (batch_open_) return Status::Ok();
  ORCH_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  batch_open_ = true;
  batch_opened_ = std::chrono::steady_clock::now();
  return Status::Ok();
}

Status StateStore::CommitBatchLocked() {
  if (!batch_open_) return Status::Ok();
  Status st = db_->Exec("COMMIT");
  if (st.ok()) {
    batch_open_ = false;
    return st;
  }
  (void)RollBackBatchLocked();
  return st;
}

Status StateStore::CommitBatchIfDueLocked() {
  if (!batch_open_ || std::chrono::steady_clock::now() - batch_opened_ < commit_after_)
    return Status::Ok();
  return CommitBatchLocked();
}

Status StateStore::RollBackBatchLocked() {
  // Back to what state.db holds (the Raft log still has every entry; the
  // node stops on the error that led here and replays them).
  if (batch_open_) (void)db_->Exec("ROLLBACK");
  batch_open_ = false;
  RebuildJobBriefsLocked();
  RebuildAllocationBriefsLocked();
  RebuildAclLocked();
  return ReadIndexesLocked();
}

Status StateStore::CommitApplied() {
  std::lock_guard lock(mu_);
  return CommitBatchLocked();
}

Status StateStore::CommitAppliedIfDue() {
  std::lock_guard lock(mu_);
  return CommitBatchIfDueLocked();
}

template <typename F>
Status StateStore::InTransaction(uint64_t index, F body) {
  std::unique_lock lock(mu_);
  if (index <= applied_) return Status::Ok();  // replay of an applied entry
  ORCH_RETURN_IF_ERROR(CommitBatchLocked());
  sqlite::Transaction tx(db_.get());
  ORCH_RETURN_IF_ERROR(tx.Begin());
  ORCH_RETURN_IF_ERROR(body());
  ORCH_RETURN_IF_ERROR(RecordApplied(index));
  ORCH_RETURN_IF_ERROR(tx.Commit());
  applied_ = index;
  const uint64_t state_index = applied_ + offset_;
  auto node_keys = CommitNodeWatchLocked();
  lock.unlock();
  cv_.notify_all();
  waiters_.Advance(state_index);
  waiters_.AdvanceKeys(node_keys);
  return Status::Ok();
}

Status StateStore::Apply(uint64_t index, const v1::Command& cmd, Status* outcome_out) {
  std::vector<Status> outcomes;
  ORCH_RETURN_IF_ERROR(ApplyBatch({{index, &cmd}}, &outcomes));
  if (outcome_out) *outcome_out = std::move(outcomes[0]);
  return Status::Ok();
}

Status StateStore::ApplyBatch(const std::vector<Entry>& entries, std::vector<Status>* outcomes) {
  outcomes->assign(entries.size(), Status::Ok());
  // A restore's commit replaces the whole state: it applies on its own,
  // between the runs before and after it.
  std::size_t begin = 0;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const v1::Command* cmd = entries[i].cmd;
    if (cmd == nullptr || !cmd->has_restore_snapshot() || !cmd->restore_snapshot().commit())
      continue;
    ORCH_RETURN_IF_ERROR(ApplyRun(entries, begin, i, outcomes));
    ORCH_RETURN_IF_ERROR(ApplyRestoreCommit(entries[i], &(*outcomes)[i]));
    begin = i + 1;
  }
  return ApplyRun(entries, begin, entries.size(), outcomes);
}

Status StateStore::ApplyRun(const std::vector<Entry>& entries, std::size_t begin, std::size_t end,
                            std::vector<Status>* outcomes) {
  if (begin >= end) return Status::Ok();
  std::unique_lock lock(mu_);
  uint64_t last = applied_;
  for (std::size_t i = begin; i < end; ++i) last = std::max(last, entries[i].index);
  if (last == applied_) return Status::Ok();  // all replayed
  Status st = OpenBatchLocked();
  for (std::size_t i = begin; i < end && st.ok(); ++i) {
    const Entry& e = entries[i];
    if (e.index <= applied_ || e.cmd == nullptr) continue;
    // Objects are stamped with the state's index (StateIndex()).
    apply_index_ = e.index + offset_;
    st = ApplyLocked(e.index + offset_, *e.cmd, &(*outcomes)[i]);
  }
  if (st.ok()) st = RecordApplied(last);
  if (st.ok()) {
    applied_ = last;
    st = CommitBatchIfDueLocked();
  } else {
    // The database failed (the node stops on it): the whole open
    // transaction rolls back, with the batches before this one (the log
    // replays them), and memory follows. No savepoint per batch: it would
    // copy every page a batch first touches to a statement journal.
    (void)RollBackBatchLocked();
  }
  if (acl_changed_) {
    acl_changed_ = false;
    RebuildAclLocked();  // applied or rolled back: memory follows
  }
  if (!st.ok()) {
    pending_events_.clear();
    DropNodeWatchLocked();
    return st;
  }
  const uint64_t state_index = applied_ + offset_;
  PublishEventsLocked(state_index);
  auto node_keys = CommitNodeWatchLocked();
  lock.unlock();
  cv_.notify_all();
  waiters_.Advance(state_index);
  waiters_.AdvanceKeys(node_keys);
  return Status::Ok();
}

Status StateStore::MarkApplied(uint64_t index) {
  std::vector<Status> outcomes;
  return ApplyBatch({{index, nullptr}}, &outcomes);
}

Status StateStore::ApplyMembership(uint64_t index, const v1::Member& member, bool removed) {
  return InTransaction(index, [&]() -> Status {
    if (removed) return DeleteRow("members", member.id());
    v1::Member m = member;
    auto old = LoadOne<v1::Member>("members", m.id());
    if (old) {
      if (m.http_address().empty()) m.set_http_address(old->http_address());
      if (m.raft_address().empty()) m.set_raft_address(old->raft_address());
      m.set_create_index(old->create_index());
    } else {
      m.set_create_index(index + offset_);
    }
    m.clear_match_index();
    m.clear_leader();
    return Put(db_.get(), "INSERT OR REPLACE INTO members(id, data) VALUES(?, ?)", m, {m.id()});
  });
}

Status StateStore::ApplyUpdateMember(uint64_t, const v1::Command& cmd, Status* outcome) {
  const auto& c = cmd.update_member();
  auto m = LoadOne<v1::Member>("members", c.id());
  if (!m) {
    *outcome = Status::NotFound("member " + c.id() + " is not in the cluster");
    return Status::Ok();
  }
  m->set_http_address(c.http_address());
  return Put(db_.get(), "INSERT OR REPLACE INTO members(id, data) VALUES(?, ?)", *m, {m->id()});
}

std::vector<v1::Member> StateStore::ListMembers() const {
  std::lock_guard lock(mu_);
  return LoadMany<v1::Member>("SELECT data FROM members ORDER BY id", {});
}

Result<std::string> StateStore::SerializeImage() const {
  std::lock_guard lock(mu_);
  ORCH_RETURN_IF_ERROR(CommitBatchForReadLocked());
  return sqlite::SerializeImage(db_->raw(), db_->path());
}

Result<std::unique_ptr<replication::StateImage>> StateStore::BeginImageRead(
    uint64_t* state_index) const {
  // Under the lock, so no apply commits between reading the index and
  // beginning the read.
  std::lock_guard lock(mu_);
  ORCH_RETURN_IF_ERROR(CommitBatchForReadLocked());  // the read is on a connection of its own
  if (state_index != nullptr) *state_index = applied_ + offset_;
  auto read = ImageRead::Begin(db_->path(), applied_);
  if (!read.ok()) return read.status();
  return std::unique_ptr<replication::StateImage>(std::move(*read));
}

Status StateStore::RestoreImage(const std::string& image) {
  // Loaded into a private in-memory database, then copied over ours with
  // the backup API: one transaction, so a crash leaves either the old
  // state or the new one.
  std::unique_lock lock(mu_);
  ORCH_RETURN_IF_ERROR(CommitBatchLocked());
  ORCH_RETURN_IF_ERROR(sqlite::RestoreImage(db_->raw(), image, db_->path()));
  ORCH_RETURN_IF_ERROR(ReadIndexesLocked());
  // An image from an older master lacks the newer tables.
  ORCH_RETURN_IF_ERROR(MigrateSchema());
  RebuildJobBriefsLocked();
  RebuildAllocationBriefsLocked();
  RebuildAclLocked();
  const uint64_t restored = applied_ + offset_;
  events_.Reset(restored);  // the changes up to the snapshot are not known here
  DropNodeWatchLocked();    // the waiters' keys are raised below
  lock.unlock();
  cv_.notify_all();
  waiters_.Advance(restored);
  waiters_.RaiseKeys(restored);
  spdlog::info("state: restored from snapshot at index {}", restored);
  return Status::Ok();
}

template <typename T>
std::optional<T> StateStore::LoadOne(const char* table, const std::string& id) const {
  auto stmt = db_->Prepare(std::string("SELECT data FROM ") + table + " WHERE id=?");
  if (!stmt.ok()) return std::nullopt;
  stmt->Bind(1, id);
  auto row = stmt->Step();
  if (!row.ok() || !*row) return std::nullopt;
  T out;
  if (!out.ParseFromString(stmt->Blob(0))) return std::nullopt;
  return out;
}

template <typename T>
std::vector<T> StateStore::LoadManyFrom(sqlite::Db& db, const std::string& sql,
                                        const std::vector<std::string>& args) {
  std::vector<T> out;
  auto stmt = db.Prepare(sql);
  if (!stmt.ok()) {
    spdlog::error("state: {}", stmt.status().ToString());
    return out;
  }
  for (std::size_t i = 0; i < args.size(); ++i) stmt->Bind(static_cast<int>(i + 1), args[i]);
  for (;;) {
    auto row = stmt->Step();
    if (!row.ok()) {
      spdlog::error("state: {}", row.status().ToString());
      break;
    }
    if (!*row) break;
    T item;
    if (item.ParseFromString(stmt->Blob(0))) out.push_back(std::move(item));
  }
  return out;
}

void StateStore::NoteEvent(const char* topic, const char* type, const std::string& key,
                           const std::string& job_id, std::string payload) {
  pending_events_.emplace_back(apply_index_,
                               StateEvent{topic, type, key, job_id, std::move(payload)});
}

void StateStore::PublishEventsLocked(uint64_t state_index) {
  std::size_t i = 0;
  while (i < pending_events_.size()) {
    const uint64_t index = pending_events_[i].first;
    std::vector<StateEvent> batch;
    for (; i < pending_events_.size() && pending_events_[i].first == index; ++i) {
      batch.push_back(std::move(pending_events_[i].second));
    }
    events_.Publish(index, std::move(batch));
  }
  pending_events_.clear();
  events_.Publish(state_index, {});
}

Status StateStore::PutJob(const v1::Job& job, const char* event_type) {
  std::string bytes;
  ORCH_RETURN_IF_ERROR(Put(db_.get(), "INSERT OR REPLACE INTO jobs(id, data) VALUES(?, ?)", job,
                           {job.id()}, &bytes));
  NoteJobLocked(job);  // ApplyBatch rebuilds the briefs when its transaction rolls back
  NoteEvent("Job", event_type, job.id(), job.id(), std::move(bytes));
  return PutServiceClaims(job);
}

Status StateStore::PutNode(const v1::Node& node, const char* event_type) {
  std::string bytes;
  ORCH_RETURN_IF_ERROR(Put(db_.get(), "INSERT OR REPLACE INTO nodes(id, data) VALUES(?, ?)", node,
                           {node.id()}, &bytes));
  std::optional<v1::Node::Status> was;
  {
    std::lock_guard lock(node_brief_mu_);
    if (auto it = node_status_.find(node.id()); it != node_status_.end()) was = it->second;
    node_status_[node.id()] = node.status();
    node_secret_hash_[node.id()] = node.secret_hash();
  }
  if (event_type == nullptr) {
    if (!was) {
      event_type = "NodeRegistered";
    } else if (node.status() == v1::Node::DOWN && *was != v1::Node::DOWN) {
      event_type = "NodeDown";
    } else if (node.status() == v1::Node::READY && *was == v1::Node::DOWN) {
      event_type = "NodeReady";
    } else {
      event_type = "NodeUpdated";
    }
  }
  NoteEvent("Node", event_type, node.id(), "", std::move(bytes));  // shown without its secret hash
  NoteNodeChangeLocked(node.id());
  if (was) NoteServicesChangeLocked();  // its address or status may move endpoints
  return Status::Ok();
}

Status StateStore::PutAllocation(const v1::Allocation& a, bool agent_report) {
  std::string bytes;
  ORCH_RETURN_IF_ERROR(
      Put(db_.get(),
          "INSERT OR REPLACE INTO allocations(id, job_id, node_id, terminal, data) "
          "VALUES(?, ?, ?, ?, ?)",
          a, {a.id(), a.job_id(), a.node_id(), IsTerminal(a) ? "1" : "0"}, &bytes));
  NoteEvent("Allocation", "AllocationUpdated", a.id(), a.job_id(), std::move(bytes));
  if (!agent_report) NoteNodeChangeLocked(a.node_id());
  NoteServicesChangeOfJobLocked(a.job_id());
  NoteAllocationLocked(a);
  return Status::Ok();
}

Status StateStore::PutEvaluation(const v1::Evaluation& e) {
  ORCH_ASSIGN_OR_RETURN(
      auto stmt, db_->Prepare("INSERT OR REPLACE INTO evaluations(id, job_id, status, data) VALUES(?, ?, ?, ?)"));
  stmt.Bind(1, e.id()).Bind(2, e.job_id()).Bind(3, static_cast<int64_t>(e.status()));
  std::string bytes;
  if (e.modify_time_ms() == apply_time_ms_) {
    bytes = e.SerializeAsString();
  } else {
    v1::Evaluation stamped = e;  // when it last changed: for garbage collection
    stamped.set_modify_time_ms(apply_time_ms_);
    bytes = stamped.SerializeAsString();
  }
  stmt.BindBlob(4, bytes);
  ORCH_RETURN_IF_ERROR(stmt.Run());
  NoteEvent("Evaluation", "EvaluationUpdated", e.id(), e.job_id(), std::move(bytes));
  return Status::Ok();
}

Status StateStore::DeleteRow(const char* table, const std::string& id) {
  ORCH_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(std::string("DELETE FROM ") + table + " WHERE id=?"));
  stmt.Bind(1, id);
  return stmt.Run();
}

void StateStore::DeriveJob(v1::Job* job, const std::vector<const v1::Allocation*>& allocs) {
  bool any_running = false, any_live = false;
  for (const v1::Allocation* a : allocs) {
    if (a->job_version() != job->version()) continue;
    any_running |= a->client_status() == v1::Allocation::RUNNING;
    any_live |= IsLive(*a);
  }
  if (job->stop()) {
    job->set_status(any_live ? v1::Job::RUNNING : v1::Job::DEAD);
  } else if (any_running || job->has_periodic() || job->has_parameterized()) {
    // A periodic or parameterized job runs as long as it launches children.
    job->set_status(v1::Job::RUNNING);
  } else if (job->type() == v1::Job::BATCH && !allocs.empty() && !any_live) {
    job->set_status(v1::Job::DEAD);
  } else {
    job->set_status(v1::Job::PENDING);
  }
}

Result<v1::Job> StateStore::GetJob(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto job = LoadOne<v1::Job>("jobs", id);
  if (!job) return Status::NotFound("job \"" + id + "\" not found");
  auto allocs = LoadMany<v1::Allocation>("SELECT data FROM allocations WHERE job_id=?", {id});
  DeriveJob(&*job, Pointers(allocs));
  return *job;
}

std::vector<v1::Job> StateStore::ListJobs() const {
  std::lock_guard lock(mu_);
  auto jobs = LoadMany<v1::Job>("SELECT data FROM jobs ORDER BY id", {});
  // One read of the allocations for all jobs, not one per job.
  auto allocs = LoadMany<v1::Allocation>("SELECT data FROM allocations", {});
  std::map<std::string, std::vector<const v1::Allocation*>> by_job;
  for (const auto& a : allocs) by_job[a.job_id()].push_back(&a);
  for (auto& j : jobs) DeriveJob(&j, by_job[j.id()]);
  return jobs;
}

Result<v1::Node> StateStore::GetNode(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto node = LoadOne<v1::Node>("nodes", id);
  if (!node) return Status::NotFound("node \"" + id + "\" not found");
  SetAllocatedLocked(&*node);
  return *node;
}

std::vector<v1::Node> StateStore::ListNodes() const {
  std::lock_guard lock(mu_);
  auto nodes = LoadMany<v1::Node>("SELECT data FROM nodes ORDER BY id", {});
  // What each node's live allocations claim, kept in memory: no read of
  // the allocations.
  for (auto& n : nodes) SetAllocatedLocked(&n);
  return nodes;
}

Result<v1::Allocation> StateStore::GetAllocation(const std::string& id) const {
  std::lock_guard lock(mu_);
  auto a = LoadOne<v1::Allocation>("allocations", id);
  if (!a) return Status::NotFound("allocation \"" + id + "\" not found");
  return *a;
}

std::vector<v1::Allocation> StateStore::ListAllocations(const std::string& job_id,
                                                        const std::string& node_id) const {
  std::lock_guard lock(mu_);
  if (!job_id.empty() && !node_id.empty()) {
    return LoadMany<v1::Allocation>("SELECT data FROM allocations WHERE job_id=? AND node_id=? ORDER BY id",
                                    {job_id, node_id});
  }
  if (!job_id.empty()) {
    return LoadMany<v1::Allocation>("SELECT data FROM allocations WHERE job_id=? ORDER BY id", {job_id});
  }
  if (!node_id.empty()) {
    return LoadMany<v1::Allocation>("SELECT data FROM allocations WHERE node_id=? ORDER BY id", {node_id});
  }
  return LoadMany<v1::Allocation>("SELECT data FROM allocations ORDER BY id", {});
}

std::vector<v1::Evaluation> StateStore::ListEvaluations(const std::string& job_id) const {
  std::lock_guard lock(mu_);
  if (!job_id.empty()) {
    return LoadMany<v1::Evaluation>("SELECT data FROM evaluations WHERE job_id=? ORDER BY rowid", {job_id});
  }
  return LoadMany<v1::Evaluation>("SELECT data FROM evaluations ORDER BY rowid", {});
}

Result<v1::Evaluation> StateStore::GetEvaluation(const std::string& id) const {
  std::lock_guard lock(mu_);
  if (auto e = LoadOne<v1::Evaluation>("evaluations", id)) return *e;
  if (id.size() >= 4 && id.size() < 36 && id.find_first_of("%_") == std::string::npos) {
    auto es = LoadMany<v1::Evaluation>("SELECT data FROM evaluations WHERE id LIKE ? LIMIT 2",
                                       {id + "%"});
    if (es.size() == 1) return es.front();
    if (es.size() > 1)
      return Status::InvalidArgument("evaluation \"" + id +
                                     "\" is ambiguous: several ids start with it");
  }
  return Status::NotFound("evaluation \"" + id + "\" not found");
}

std::vector<v1::Evaluation> StateStore::PendingEvaluations() const {
  std::lock_guard lock(mu_);
  return LoadMany<v1::Evaluation>(
      "SELECT data FROM evaluations WHERE status=" + std::to_string(v1::Evaluation::PENDING) +
          " ORDER BY rowid",
      {});
}

// apply.cpp uses the loaders too.
template std::optional<v1::Job> StateStore::LoadOne<v1::Job>(const char*, const std::string&) const;
template std::optional<v1::Node> StateStore::LoadOne<v1::Node>(const char*, const std::string&) const;
template std::optional<v1::Allocation> StateStore::LoadOne<v1::Allocation>(const char*,
                                                                          const std::string&) const;
template std::optional<v1::Evaluation> StateStore::LoadOne<v1::Evaluation>(const char*,
                                                                          const std::string&) const;
template std::vector<v1::Allocation> StateStore::LoadManyFrom<v1::Allocation>(sqlite::Db&, const std::string&,
    const std::vector<std::string>&);
template std::optional<v1::Member> StateStore::LoadOne<v1::Member>(const char*, const std::string&) const;
template std::optional<v1::Deployment> StateStore::LoadOne<v1::Deployment>(const char*, const std::string&) const;
template std::vector<v1::Deployment> StateStore::LoadManyFrom<v1::Deployment>(sqlite::Db&, const std::string&,
    const std::vector<std::string>&);
template std::vector<v1::Evaluation> StateStore::LoadManyFrom<v1::Evaluation>(sqlite::Db&, const std::string&,
    const std::vector<std::string>&);
template std::vector<v1::Job> StateStore::LoadManyFrom<v1::Job>(sqlite::Db&, const std::string&,
    const std::vector<std::string>&);
template std::vector<v1::Node> StateStore::LoadManyFrom<v1::Node>(sqlite::Db&, const std::string&,
    const std::vector<std::string>&);
template std::optional<v1::AclToken> StateStore::LoadOne<v1::AclToken>(const char*,
                                                                       const std::string&) const;
template std::optional<v1::AclPolicy> StateStore::LoadOne<v1::AclPolicy>(const char*,
                                                                         const std::string&) const;
template std::vector<v1::AclToken> StateStore::LoadManyFrom<v1::AclToken>(sqlite::Db&, const std::string&,
    const std::vector<std::string>&);
template std::vector<v1::AclPolicy> StateStore::LoadManyFrom<v1::AclPolicy>(sqlite::Db&, const std::string&,
    const std::vector<std::string>&);

}  // namespace orch::master
