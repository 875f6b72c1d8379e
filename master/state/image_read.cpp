#include "master/state/image_read.h"

#include "common/sqlite_image.h"

namespace orch::master {

Result<std::unique_ptr<ImageRead>> ImageRead::Begin(const std::string& path, uint64_t applied) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) !=
      SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::Unavailable("cannot open " + path + " to read a snapshot: " + why);
  }
  std::unique_ptr<ImageRead> r(new ImageRead(db, path, applied));
  sqlite3_busy_timeout(db, 5000);
  // A deferred transaction's first read fixes what it sees: reading the
  // applied index both begins it and checks it is the caller's.
  if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return Status::Unavailable("cannot begin a read of " + path + ": " + sqlite3_errmsg(db));
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='applied_index'", -1, &stmt,
                         nullptr) != SQLITE_OK) {
    return Status::Unavailable("cannot read " + path + ": " + sqlite3_errmsg(db));
  }
  int rc = sqlite3_step(stmt);
  uint64_t seen = rc == SQLITE_ROW ? static_cast<uint64_t>(sqlite3_column_int64(stmt, 0)) : 0;
  sqlite3_finalize(stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return Status::Unavailable("cannot read " + path + ": " + sqlite3_errmsg(db));
  }
  if (seen != applied) {
    return Status::Internal(path + " is at index " + std::to_string(seen) + ", expected " +
                            std::to_string(applied) + " for a snapshot");
  }
  return r;
}

ImageRead::~ImageRead() {
  sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db_);
}

Result<std::string> ImageRead::Serialize() { return sqlite::SerializeImage(db_, path_); }

}  // namespace orch::master
