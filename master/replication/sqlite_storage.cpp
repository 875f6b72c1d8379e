#include "master/replication/sqlite_storage.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iterator>

#include "master/raft/cluster_id.h"
#include "master/replication/snapshot_file.h"

namespace orch::replication {
namespace {

// The tail kept in memory: enough for followers that lag a little (the
// common case of Entries()), bounded so huge entries cannot pin memory.
constexpr uint64_t kTailMaxBytes = 16u << 20;
constexpr size_t kTailMaxEntries = 16384;

constexpr char kHardStateKey[] = "hard_state";
constexpr char kSnapMetaKey[] = "snapshot";
constexpr char kSnapFileKey[] = "snapshot_file";
constexpr char kSnapCrcKey[] = "snapshot_crc32";
constexpr char kClusterIdKey[] = "cluster_id";

// Meta values written as decimal text; false if `text` is not one.
bool ParseU64(const std::string& text, uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

// The core treats any storage read error other than kCompacted as lost
// data and aborts; say which file failed before it does.
[[noreturn]] void FatalRead(const std::string& path, const std::string& what) {
  std::fprintf(stderr, "raft storage %s: cannot read the log: %s\n", path.c_str(), what.c_str());
  std::abort();
}

orch::Status Run(sqlite::Stmt& s) {
  orch::Status st = s.Run();
  if (!st.ok()) s.Reset();  // Run() resets only on success
  return st;
}

}  // namespace

struct SqliteStorage::Stmts {
  sqlite::Stmt insert_entry;
  sqlite::Stmt delete_from;    // idx >= ?
  sqlite::Stmt delete_before;  // idx < ?
  sqlite::Stmt put_meta;
  sqlite::Stmt range;  // data of idx in [?, ?)
  // No prepared PRAGMA synchronous: SQLite applies that pragma when it is
  // prepared, so preparing the NORMAL one would silently drop every fsync.
};

SqliteStorage::SqliteStorage(std::string dir, std::unique_ptr<sqlite::Db> db)
    : dir_(std::move(dir)), snap_dir_(dir_ + "/snap"), db_(std::move(db)) {}

SqliteStorage::~SqliteStorage() = default;

orch::Status SqliteStorage::DbError(const orch::Status& st) const {
  // Db::Exec already names the file; Stmt errors do not.
  const bool named = st.message().rfind(db_->path(), 0) == 0;
  std::string msg = named ? st.message() : db_->path() + ": " + st.message();
  if (st.code() == StatusCode::kResourceExhausted) return orch::Status::ResourceExhausted(msg);
  return orch::Status::Unavailable(msg);
}

orch::Result<std::unique_ptr<SqliteStorage>> SqliteStorage::Open(const std::string& dir) {
  ORCH_RETURN_IF_ERROR(snapfile::EnsureDir(dir));
  ORCH_RETURN_IF_ERROR(snapfile::EnsureDir(dir + "/snap"));
  auto db = sqlite::Db::Open(dir + "/raft.db");
  if (!db.ok()) return db.status();
  std::unique_ptr<SqliteStorage> s(new SqliteStorage(dir, std::move(db).value()));
  ORCH_RETURN_IF_ERROR(s->Init());
  ORCH_RETURN_IF_ERROR(s->Load());
  return s;
}

orch::Status SqliteStorage::Init() {
  {
    sqlite::Transaction tx(db_.get());
    orch::Status st = tx.Begin();
    // A fresh log holds the dummy entry 0 (term 0), as MemoryStorage does.
    // meta is WITHOUT ROWID so a hard state update dirties one page, not
    // two (table + key index): one WAL frame less per Save.
    if (st.ok()) {
      st = db_->Exec(
          "CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, "
          "data BLOB);"
          "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;"
          "INSERT INTO entries SELECT 0, 0, NULL WHERE NOT EXISTS (SELECT 1 FROM entries);");
    }
    if (st.ok()) st = tx.Commit();
    if (!st.ok()) return DbError(st);
  }
  auto prep = [&](const char* sql) -> orch::Result<sqlite::Stmt> {
    auto r = db_->Prepare(sql);
    if (!r.ok()) return DbError(r.status());
    return r;
  };
  ORCH_ASSIGN_OR_RETURN(auto ins, prep("INSERT INTO entries (idx, term, data) VALUES (?, ?, ?)"));
  ORCH_ASSIGN_OR_RETURN(auto del_from, prep("DELETE FROM entries WHERE idx >= ?"));
  ORCH_ASSIGN_OR_RETURN(auto del_before, prep("DELETE FROM entries WHERE idx < ?"));
  ORCH_ASSIGN_OR_RETURN(auto put, prep("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"));
  ORCH_ASSIGN_OR_RETURN(auto range,
                        prep("SELECT data FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx"));
  stmts_.reset(new Stmts{std::move(ins), std::move(del_from), std::move(del_before), std::move(put),
                         std::move(range)});
  return orch::Status::Ok();
}

orch::Status SqliteStorage::Load() {
  const std::string corrupt = db_->path() + ": inconsistent raft log: ";
  {
    ORCH_ASSIGN_OR_RETURN(auto q, db_->Prepare("SELECT key, value FROM meta"));
    for (;;) {
      auto row = q.Step();
      if (!row.ok()) return DbError(row.status());
      if (!*row) break;
      const std::string key = q.Text(0);
      const std::string value = q.Blob(1);
      bool parsed = true;
      if (key == kHardStateKey) {
        parsed = hard_state_.ParseFromString(value);
        has_hard_state_ = true;
      } else if (key == kSnapMetaKey) {
        parsed = snap_meta_.ParseFromString(value);
      } else if (key == kSnapFileKey) {
        snap_file_ = value;
      } else if (key == kSnapCrcKey) {
        uint64_t crc = 0;
        parsed = ParseU64(value, &crc) && crc <= UINT32_MAX;
        snap_crc_ = static_cast<uint32_t>(crc);
      } else if (key == kClusterIdKey) {
        parsed = ParseU64(value, &cluster_id_);
      }
      if (!parsed) return orch::Status::Internal(corrupt + "cannot parse " + key);
    }
  }
  {
    // Rebuilds the term runs; this reads the whole log once per start,
    // which compaction keeps short.
    ORCH_ASSIGN_OR_RETURN(auto q, db_->Prepare("SELECT idx, term FROM entries ORDER BY idx"));
    bool first = true;
    uint64_t count = 0;
    for (;;) {
      auto row = q.Step();
      if (!row.ok()) return DbError(row.status());
      if (!*row) break;
      const auto idx = static_cast<uint64_t>(q.Int(0));
      const auto term = static_cast<uint64_t>(q.Int(1));
      if (first) offset_ = idx;
      first = false;
      last_ = idx;
      ++count;
      if (term_runs_.empty() || term_runs_.back().second != term)
        term_runs_.emplace_back(idx, term);
    }
    if (count == 0) return orch::Status::Internal(corrupt + "no entries, not even the dummy");
    if (count != last_ - offset_ + 1) return orch::Status::Internal(corrupt + "entries have a gap");
  }
  const uint64_t si = snap_meta_.index();
  if (si > 0 && snap_file_.empty()) return orch::Status::Internal(corrupt + "no snapshot file");
  if (si == 0 && offset_ != 0) return orch::Status::Internal(corrupt + "compacted, no snapshot");
  if (si > 0 && (offset_ > si || si > last_)) {
    return orch::Status::Internal(corrupt + "snapshot index outside the log");
  }
  if (hard_state_.commit() > last_) {
    return orch::Status::Internal(corrupt + "commit index past the last entry");
  }
  // A crash may leave a tmp file, a snapshot whose metadata never committed
  // or an old one not yet deleted: only the committed one counts. What was
  // read may not be durable yet (a COMMIT whose fsync failed before a kill
  // -9 is read back from the WAL): make it so before deleting the file an
  // older raft.db would name, or a power loss now could leave raft.db
  // naming a file that is gone (found by tests/sim/driver_sim_test).
  if (orch::Status st = db_->Exec("PRAGMA wal_checkpoint(FULL)"); !st.ok()) {
    return DbError(st);
  }
  auto removed = snapfile::RemoveAllBut(snap_dir_, snap_file_);
  if (!removed.ok()) return removed.status();
  if (si > 0) {
    struct stat sb;
    if (::stat((snap_dir_ + "/" + snap_file_).c_str(), &sb) != 0) {
      return orch::Status::Internal(corrupt + "snapshot file " + snap_dir_ + "/" + snap_file_ +
                                    " is missing");
    }
  }
  // Warm the tail cache with the newest entries.
  if (last_ > offset_) {
    const uint64_t lo =
        std::max(offset_ + 1, last_ >= kTailMaxEntries ? last_ - kTailMaxEntries + 1 : uint64_t{1});
    auto ents = Entries(lo, last_ + 1, raft::kNoLimit);
    AppendInMemory(ents.value, 0);
    // AppendInMemory re-derives the runs of what it appends: same terms.
  }
  return orch::Status::Ok();
}

raft::InitialState SqliteStorage::GetInitialState() const {
  return raft::InitialState{hard_state_, snap_meta_.conf_state()};
}

uint64_t SqliteStorage::FirstIndex() const { return offset_ + 1; }

uint64_t SqliteStorage::LastIndex() const { return last_; }

bool SqliteStorage::IsEmpty() const {
  return !has_hard_state_ && last_ == 0 && snap_meta_.index() == 0;
}

raft::Result<uint64_t> SqliteStorage::Term(uint64_t i) const {
  if (i < offset_) return raft::Error::kCompacted;
  if (i > last_) return raft::Error::kUnavailable;
  // The last run starting at or before i.
  auto it = std::upper_bound(term_runs_.begin(), term_runs_.end(), i,
                             [](uint64_t v, const auto& run) { return v < run.first; });
  return std::prev(it)->second;
}

raft::Result<std::vector<raft::Entry>> SqliteStorage::Entries(uint64_t lo, uint64_t hi,
                                                              uint64_t max_bytes) const {
  if (lo <= offset_) return raft::Error::kCompacted;
  if (hi > last_ + 1) return raft::Error::kUnavailable;
  if (last_ == offset_) return raft::Error::kUnavailable;  // only the dummy
  std::vector<raft::Entry> out;
  uint64_t size = 0;
  // Keeps at least one entry, then stops before exceeding max_bytes
  // (LimitSize's rule, applied while reading so SQLite stops early).
  auto add = [&](const raft::Entry& e) {
    const uint64_t s = raft::EntrySize(e);
    if (!out.empty() && (size + s > max_bytes || size + s < size)) return false;
    size += s;
    out.push_back(e);
    return true;
  };
  if (!tail_.empty() && lo >= tail_.front().index()) {
    const uint64_t first = tail_.front().index();
    for (uint64_t i = lo; i < hi; ++i) {
      if (!add(tail_[i - first])) break;
    }
    return out;
  }
  auto& q = stmts_->range;
  q.Bind(1, static_cast<int64_t>(lo)).Bind(2, static_cast<int64_t>(hi));
  bool limited = false;
  for (;;) {
    auto row = q.Step();
    if (!row.ok()) FatalRead(db_->path(), row.status().message());
    if (!*row) break;
    raft::Entry e;
    if (!e.ParseFromString(q.Blob(0))) FatalRead(db_->path(), "corrupt entry");
    if (!add(e)) {
      limited = true;
      break;
    }
  }
  q.Reset();
  if (!limited && out.size() != hi - lo) FatalRead(db_->path(), "entries missing in the log");
  return out;
}

raft::Result<raft::Snapshot> SqliteStorage::GetSnapshot() const {
  if (snap_meta_.index() == 0) return raft::Snapshot();
  if (!snap_cache_) {
    auto data = snapfile::Read(snap_dir_, snap_file_);
    if (!data.ok()) {
      std::fprintf(stderr, "raft storage: %s\n", data.status().message().c_str());
      return raft::Error::kSnapshotTemporarilyUnavailable;
    }
    // A file damaged on disk is never installed nor sent to a peer.
    if (snap_crc_ && snapfile::Crc32(*data) != *snap_crc_) {
      std::fprintf(stderr, "raft storage: %s/%s: snapshot file corrupt (CRC-32 mismatch)\n",
                   snap_dir_.c_str(), snap_file_.c_str());
      return raft::Error::kSnapshotTemporarilyUnavailable;
    }
    raft::Snapshot snap;
    *snap.mutable_metadata() = snap_meta_;
    snap.set_data(std::move(data).value());
    CacheSnapshot(std::move(snap));
  }
  return *snap_cache_;
}

void SqliteStorage::CacheSnapshot(raft::Snapshot snap) const {
  snap_cache_ = std::make_unique<raft::Snapshot>(std::move(snap));
}

orch::Status SqliteStorage::SetSynchronous(bool full) {
  if (full == synchronous_full_) return orch::Status::Ok();
  orch::Status st = db_->Exec(full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  if (!st.ok()) return DbError(st);
  synchronous_full_ = full;
  return orch::Status::Ok();
}

orch::Status SqliteStorage::PutMeta(const char* key, const std::string& value) {
  stmts_->put_meta.Bind(1, std::string_view(key)).BindBlob(2, value);
  return Run(stmts_->put_meta);
}

orch::Status SqliteStorage::WriteSnapshotRows(const raft::Snapshot& snap, const std::string& file) {
  stmts_->delete_from.Bind(1, int64_t{0});
  ORCH_RETURN_IF_ERROR(Run(stmts_->delete_from));
  stmts_->insert_entry.Bind(1, static_cast<int64_t>(snap.metadata().index()))
      .Bind(2, static_cast<int64_t>(snap.metadata().term()))
      .BindBlob(3, std::string_view());
  ORCH_RETURN_IF_ERROR(Run(stmts_->insert_entry));
  ORCH_RETURN_IF_ERROR(PutMeta(kSnapMetaKey, snap.metadata().SerializeAsString()));
  ORCH_RETURN_IF_ERROR(PutMeta(kSnapCrcKey, std::to_string(snapfile::Crc32(snap.data()))));
  return PutMeta(kSnapFileKey, file);
}

orch::Status SqliteStorage::WriteEntryRows(const std::vector<raft::Entry>& entries, size_t skip,
                                           uint64_t last) {
  if (skip >= entries.size()) return orch::Status::Ok();
  // The common case appends right after last: nothing to delete.
  if (entries[skip].index() <= last) {
    stmts_->delete_from.Bind(1, static_cast<int64_t>(entries[skip].index()));
    ORCH_RETURN_IF_ERROR(Run(stmts_->delete_from));
  }
  for (size_t k = skip; k < entries.size(); ++k) {
    const raft::Entry& e = entries[k];
    buf_.clear();
    e.AppendToString(&buf_);
    stmts_->insert_entry.Bind(1, static_cast<int64_t>(e.index()))
        .Bind(2, static_cast<int64_t>(e.term()))
        .BindBlob(3, buf_);
    ORCH_RETURN_IF_ERROR(Run(stmts_->insert_entry));
  }
  return orch::Status::Ok();
}

orch::Status SqliteStorage::Save(const raft::HardState* hs, const std::vector<raft::Entry>& entries,
                                 const raft::Snapshot* snap, bool sync) {
  if (snap != nullptr && snap->metadata().index() <= snap_meta_.index()) {
    return orch::Status::FailedPrecondition(
        dir_ + ": snapshot at " + std::to_string(snap->metadata().index()) +
        " is not newer than the stored one at " + std::to_string(snap_meta_.index()));
  }
  // The log as it will be once the snapshot (if any) is installed.
  const uint64_t off = snap ? snap->metadata().index() : offset_;
  const uint64_t last = snap ? off : last_;
  // Like MemoryStorage::Append: skip what is compacted, refuse a gap.
  size_t skip = 0;
  if (!entries.empty()) {
    const uint64_t first_new = entries[0].index();
    if (first_new + entries.size() - 1 <= off) {
      skip = entries.size();
    } else {
      skip = off + 1 > first_new ? off + 1 - first_new : 0;
      if (entries[skip].index() > last + 1) {
        return orch::Status::FailedPrecondition(dir_ + ": entries start at " +
                                                std::to_string(entries[skip].index()) +
                                                ", leaving a gap after " + std::to_string(last));
      }
    }
  }
  raft::HardState new_hs = hs ? *hs : hard_state_;
  bool write_hs = hs != nullptr;
  if (snap && new_hs.commit() < off) {
    new_hs.set_commit(off);  // the snapshot is committed by definition
    write_hs = true;
  }
  if (!write_hs && !snap && skip >= entries.size()) return orch::Status::Ok();

  std::string file;
  if (snap) {
    file = snapfile::FileName(snap->metadata().term(), off);
    ORCH_RETURN_IF_ERROR(snapfile::WriteAtomic(snap_dir_, file, snap->data()));
  }
  orch::Status st = SetSynchronous(sync || snap != nullptr);
  {
    sqlite::Transaction tx(db_.get());
    if (st.ok()) st = tx.Begin();
    if (st.ok() && snap) st = WriteSnapshotRows(*snap, file);
    if (st.ok()) st = WriteEntryRows(entries, skip, last);
    if (st.ok() && write_hs) st = PutMeta(kHardStateKey, new_hs.SerializeAsString());
    if (st.ok()) st = tx.Commit();
  }
  if (!st.ok()) {
    // The metadata may or may not have reached the disk (a failed COMMIT
    // can be durable): the new file stays until that is known.
    if (snap) doubtful_files_.push_back(file);
    return DbError(st);
  }
  if (snap) {
    const std::string old = snap_file_;
    ResetTo(off, snap->metadata().term());
    snap_meta_ = snap->metadata();
    snap_file_ = file;
    snap_crc_ = snapfile::Crc32(snap->data());
    CacheSnapshot(*snap);
    RemoveSupersededFiles(old);
  }
  AppendInMemory(entries, skip);
  if (write_hs) {
    hard_state_ = std::move(new_hs);
    has_hard_state_ = true;
  }
  return orch::Status::Ok();
}

orch::Status SqliteStorage::CreateSnapshot(uint64_t index, const raft::ConfState& cs,
                                           std::string data) {
  ORCH_ASSIGN_OR_RETURN(PendingSnapshot p, PrepareSnapshot(index, cs, std::move(data)));
  ORCH_RETURN_IF_ERROR(WriteSnapshotFile(&p));
  return CommitSnapshot(std::move(p));
}

orch::Result<SqliteStorage::PendingSnapshot> SqliteStorage::PrepareSnapshot(
    uint64_t index, const raft::ConfState& cs, std::string data) const {
  if (index <= snap_meta_.index() || index > last_ || index < offset_) {
    return orch::Status::FailedPrecondition(
        dir_ + ": cannot snapshot at " + std::to_string(index) + ": current snapshot at " +
        std::to_string(snap_meta_.index()) + ", log (" + std::to_string(offset_) + ", " +
        std::to_string(last_) + "]");
  }
  PendingSnapshot p;
  p.dir = snap_dir_;
  auto* md = p.snap.mutable_metadata();
  md->set_index(index);
  md->set_term(Term(index).value);
  *md->mutable_conf_state() = cs;
  p.file = snapfile::FileName(md->term(), index);
  p.snap.set_data(std::move(data));
  return p;
}

orch::Status SqliteStorage::WriteSnapshotFile(PendingSnapshot* p) {
  ORCH_RETURN_IF_ERROR(snapfile::WriteAtomic(p->dir, p->file, p->snap.data()));
  p->crc = snapfile::Crc32(p->snap.data());
  return orch::Status::Ok();
}

orch::Status SqliteStorage::CommitSnapshot(PendingSnapshot p) {
  const SnapshotMetadata& md = p.snap.metadata();
  if (md.index() <= snap_meta_.index() || md.index() > last_ || md.index() < offset_) {
    (void)snapfile::Remove(snap_dir_, p.file);
    return orch::Status::FailedPrecondition(dir_ + ": snapshot at " + std::to_string(md.index()) +
                                            " superseded: current snapshot at " +
                                            std::to_string(snap_meta_.index()));
  }
  orch::Status st = SetSynchronous(true);
  {
    sqlite::Transaction tx(db_.get());
    if (st.ok()) st = tx.Begin();
    if (st.ok()) st = PutMeta(kSnapMetaKey, md.SerializeAsString());
    if (st.ok()) st = PutMeta(kSnapCrcKey, std::to_string(p.crc));
    if (st.ok()) st = PutMeta(kSnapFileKey, p.file);
    if (st.ok()) st = tx.Commit();
  }
  if (!st.ok()) {
    doubtful_files_.push_back(p.file);  // the COMMIT may have reached the disk
    return DbError(st);
  }
  const std::string old = snap_file_;
  snap_meta_ = md;
  snap_file_ = p.file;
  snap_crc_ = p.crc;
  CacheSnapshot(std::move(p.snap));
  RemoveSupersededFiles(old);
  return orch::Status::Ok();
}

void SqliteStorage::RemoveSupersededFiles(const std::string& old) {
  // Best effort: a failure leaves a stale file that Open removes.
  if (!old.empty() && old != snap_file_) (void)snapfile::Remove(snap_dir_, old);
  for (const auto& f : doubtful_files_) {
    if (f != snap_file_) (void)snapfile::Remove(snap_dir_, f);
  }
  doubtful_files_.clear();
}

orch::Status SqliteStorage::SetClusterId(uint64_t id) {
  if (id == cluster_id_) return orch::Status::Ok();
  if (cluster_id_ != 0) {
    return orch::Status::FailedPrecondition(dir_ + " belongs to cluster " +
                                            raft::FormatClusterId(cluster_id_) + ", not " +
                                            raft::FormatClusterId(id));
  }
  orch::Status st = SetSynchronous(true);
  {
    sqlite::Transaction tx(db_.get());
    if (st.ok()) st = tx.Begin();
    if (st.ok()) st = PutMeta(kClusterIdKey, std::to_string(id));
    if (st.ok()) st = tx.Commit();
  }
  if (!st.ok()) return DbError(st);
  cluster_id_ = id;
  return orch::Status::Ok();
}

orch::Status SqliteStorage::Compact(uint64_t compact_index) {
  if (compact_index <= FirstIndex()) return orch::Status::Ok();
  if (compact_index > snap_meta_.index() + 1) {
    return orch::Status::FailedPrecondition(
        dir_ + ": cannot compact to " + std::to_string(compact_index) +
        ": the snapshot covers only up to " + std::to_string(snap_meta_.index()));
  }
  // Entry compact_index-1 stays as the dummy holding the snapshot-side term.
  orch::Status st = SetSynchronous(true);
  {
    sqlite::Transaction tx(db_.get());
    if (st.ok()) st = tx.Begin();
    if (st.ok()) {
      stmts_->delete_before.Bind(1, static_cast<int64_t>(compact_index - 1));
      st = Run(stmts_->delete_before);
    }
    if (st.ok()) st = tx.Commit();
  }
  if (!st.ok()) return DbError(st);
  CompactInMemory(compact_index);
  return orch::Status::Ok();
}

void SqliteStorage::ResetTo(uint64_t index, uint64_t term) {
  offset_ = last_ = index;
  term_runs_.assign(1, {index, term});
  tail_.clear();
  tail_bytes_ = 0;
}

void SqliteStorage::AppendInMemory(const std::vector<raft::Entry>& entries, size_t skip) {
  if (skip >= entries.size()) return;
  const uint64_t start = entries[skip].index();
  // Drop the conflicting suffix: entries from `start` on.
  while (!term_runs_.empty() && term_runs_.back().first >= start && term_runs_.size() > 1) {
    term_runs_.pop_back();
  }
  if (!tail_.empty() && start <= tail_.front().index()) {
    tail_.clear();
    tail_bytes_ = 0;
  }
  while (!tail_.empty() && tail_.back().index() >= start) {
    tail_bytes_ -= raft::EntrySize(tail_.back());
    tail_.pop_back();
  }
  // The tail must stay contiguous up to last_; if it ended before start-1
  // it cannot be extended (it is empty in that case, see above).
  if (!tail_.empty() && tail_.back().index() + 1 != start) {
    tail_.clear();
    tail_bytes_ = 0;
  }
  for (size_t k = skip; k < entries.size(); ++k) {
    const raft::Entry& e = entries[k];
    if (term_runs_.back().second != e.term()) term_runs_.emplace_back(e.index(), e.term());
    tail_bytes_ += raft::EntrySize(e);
    tail_.push_back(e);
  }
  last_ = entries.back().index();
  while (!tail_.empty() && (tail_bytes_ > kTailMaxBytes || tail_.size() > kTailMaxEntries)) {
    tail_bytes_ -= raft::EntrySize(tail_.front());
    tail_.pop_front();
  }
}

void SqliteStorage::CompactInMemory(uint64_t compact_index) {
  offset_ = compact_index - 1;
  // Keep the run containing offset_ (restarted at offset_) and later ones.
  auto it = std::upper_bound(term_runs_.begin(), term_runs_.end(), offset_,
                             [](uint64_t v, const auto& run) { return v < run.first; });
  term_runs_.erase(term_runs_.begin(), std::prev(it));
  term_runs_.front().first = offset_;
  while (!tail_.empty() && tail_.front().index() <= offset_) {
    tail_bytes_ -= raft::EntrySize(tail_.front());
    tail_.pop_front();
  }
}

}  // namespace orch::replication
