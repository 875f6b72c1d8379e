#include "master/log/local_log.h"

#include <spdlog/spdlog.h>

namespace orch::master {

namespace {
// Entries older than this many below the applied index are deleted: the
// state machine holds their effect durably.
constexpr uint64_t kRetainEntries = 1000;
}  // namespace

Result<std::unique_ptr<LocalLog>> LocalLog::Open(const std::string& path, std::string member_id,
                                                 StateStore* store) {
  ORCH_ASSIGN_OR_RETURN(auto db, sqlite::Db::Open(path));
  ORCH_RETURN_IF_ERROR(db->Exec(
      "CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, "
      "data BLOB NOT NULL)"));
  std::unique_ptr<LocalLog> log(new LocalLog(std::move(db), std::move(member_id), store));
  ORCH_RETURN_IF_ERROR(log->Replay());
  return log;
}

Status LocalLog::Replay() {
  ORCH_ASSIGN_OR_RETURN(auto last, db_->Prepare("SELECT COALESCE(MAX(idx), 0) FROM entries"));
  ORCH_ASSIGN_OR_RETURN(bool row, last.Step());
  last_index_ = row ? static_cast<uint64_t>(last.Int(0)) : 0;
  // The state machine may be ahead of a log compacted to nothing.
  last_index_ = std::max(last_index_, store_->AppliedIndex());
  uint64_t applied = store_->AppliedIndex();
  ORCH_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT idx, data FROM entries WHERE idx > ? ORDER BY idx"));
  stmt.Bind(1, static_cast<int64_t>(applied));
  uint64_t replayed = 0;
  for (;;) {
    ORCH_ASSIGN_OR_RETURN(bool more, stmt.Step());
    if (!more) break;
    v1::Command cmd;
    uint64_t idx = static_cast<uint64_t>(stmt.Int(0));
    if (!cmd.ParseFromString(stmt.Blob(1))) {
      return Status::Internal("log entry " + std::to_string(idx) + " is corrupt");
    }
    // The outcome is dropped: its proposer is gone; the state is what matters.
    ORCH_RETURN_IF_ERROR(store_->Apply(idx, cmd));
    ++replayed;
  }
  if (replayed > 0) spdlog::info("log: replayed {} entries up to index {}", replayed, last_index_);
  return Status::Ok();
}

Result<uint64_t> LocalLog::Propose(const v1::Command& cmd, std::chrono::milliseconds) {
  std::lock_guard lock(mu_);
  if (closed_) return Status::Unavailable("master is shutting down");
  uint64_t index = last_index_ + 1;
  {
    ORCH_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("INSERT INTO entries(idx, term, data) VALUES(?, 1, ?)"));
    stmt.Bind(1, static_cast<int64_t>(index)).BindBlob(2, cmd.SerializeAsString());
    Status st = stmt.Run();
    if (!st.ok()) return st.WithContext("cannot append to the log");
  }
  last_index_ = index;
  Status outcome;
  Status applied = store_->Apply(index, cmd, &outcome);
  if (!applied.ok()) {
    // The entry is durable but not applied: it will be replayed on restart.
    // Refuse further writes rather than serve state that misses it.
    closed_ = true;
    spdlog::error("log: applying index {} failed, refusing writes until restart: {}", index,
                  applied.ToString());
    return applied;
  }
  if (index % kRetainEntries == 0 && index > kRetainEntries) {
    Status st = Compact(index - kRetainEntries);
    if (!st.ok()) spdlog::warn("log: compaction failed: {}", st.ToString());
  }
  if (!outcome.ok()) return outcome;
  return index;
}

Status LocalLog::Compact(uint64_t upto) {
  ORCH_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("DELETE FROM entries WHERE idx <= ?"));
  stmt.Bind(1, static_cast<int64_t>(upto));
  return stmt.Run();
}

void LocalLog::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
}

uint64_t LocalLog::LastIndex() const {
  std::lock_guard lock(mu_);
  return last_index_;
}

}  // namespace orch::master
