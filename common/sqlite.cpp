#include "common/sqlite.h"

#include "common/sqlite_wal_vfs.h"

namespace orch::sqlite {

namespace {
constexpr std::size_t kMaxCachedStatements = 256;
}

Db::~Db() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

void Db::Release(sqlite3_stmt* stmt) {
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (cache_.size() >= kMaxCachedStatements) {
    sqlite3_finalize(stmt);
    return;
  }
  cache_.emplace(sqlite3_sql(stmt), stmt);
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, Sync sync) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           WalGatheringVfs());
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return Status::Unavailable("cannot open database " + path + ": " + msg);
  }
  std::unique_ptr<Db> db(new Db(raw, path));
  sqlite3_busy_timeout(raw, 5000);
  ORCH_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL"));
  ORCH_RETURN_IF_ERROR(
      db->Exec(sync == Sync::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  ORCH_RETURN_IF_ERROR(db->Exec("PRAGMA foreign_keys=ON"));
  // 32 MiB of page cache (SQLite's default is 2 MiB): the B-tree pages a
  // write walks stay in memory as the state grows past a few thousand jobs.
  ORCH_RETURN_IF_ERROR(db->Exec("PRAGMA cache_size=-32768"));
  return db;
}

Status Db::Exec(std::string_view sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    if (rc == SQLITE_FULL) return Status::ResourceExhausted(path_ + ": disk full: " + msg);
    return Status::Internal(path_ + ": " + msg + " in: " + std::string(sql.substr(0, 80)));
  }
  return Status::Ok();
}

Result<Stmt> Db::Prepare(std::string_view sql) {
  if (auto it = cache_.find(std::string(sql)); it != cache_.end()) {
    sqlite3_stmt* stmt = it->second;
    cache_.erase(it);
    return Stmt(this, stmt);
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return Status::Internal(path_ + ": cannot prepare \"" + std::string(sql.substr(0, 80)) +
                            "\": " + sqlite3_errmsg(db_));
  }
  if (stmt == nullptr)
    return Status::InvalidArgument(path_ + ": no statement in \"" + std::string(sql.substr(0, 80)) +
                                   "\"");
  return Stmt(this, stmt);
}

Stmt::~Stmt() {
  if (stmt_) db_->Release(stmt_);
}

Stmt& Stmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

Stmt& Stmt::Bind(int i, std::string_view text) {
  sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  return *this;
}

Stmt& Stmt::BindBlob(int i, std::string_view bytes) {
  sqlite3_bind_blob(stmt_, i, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
  return *this;
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  std::string msg = sqlite3_errmsg(db_->raw());
  if (rc == SQLITE_FULL) return Status::ResourceExhausted("disk full: " + msg);
  return Status::Internal("sqlite step failed: " + msg);
}

Status Stmt::Run() {
  for (;;) {
    auto r = Step();
    if (!r.ok()) return r.status();
    if (!*r) break;
  }
  Reset();
  return Status::Ok();
}

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Stmt::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : "";
}

std::string Stmt::Blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), sqlite3_column_bytes(stmt_, col)) : "";
}

Transaction::~Transaction() {
  if (open_) (void)db_->Exec("ROLLBACK");
}

Status Transaction::Begin() {
  ORCH_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  open_ = true;
  return Status::Ok();
}

Status Transaction::Commit() {
  Status st = db_->Exec("COMMIT");
  if (st.ok()) open_ = false;
  return st;
}

}  // namespace orch::sqlite
