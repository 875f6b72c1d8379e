// A thin RAII layer over the SQLite C API: a connection, prepared statements
// and transactions. Errors come back as Status naming the statement.
// Thread safety: a Db is used by one thread at a time (callers hold a lock).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

namespace orch::sqlite {

class Stmt;

class Db {
 public:
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // How hard a commit waits for the disk.
  enum class Sync {
    kFull,    // a committed transaction survives power loss
    kNormal,  // WAL: atomic and crash-safe; power loss may undo the newest
              // commits (fine when they can be replayed from elsewhere)
  };
  // Opens (creating if needed) in WAL mode.
  static Result<std::unique_ptr<Db>> Open(const std::string& path, Sync sync = Sync::kFull);

  Status Exec(std::string_view sql);
  // A statement for `sql`, compiled once per connection: a Stmt hands its
  // compiled statement back to the Db when it goes away, and the next
  // Prepare of the same text reuses it (reset, bindings cleared).
  Result<Stmt> Prepare(std::string_view sql);
  sqlite3* raw() { return db_; }
  const std::string& path() const { return path_; }

 private:
  friend class Stmt;
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  void Release(sqlite3_stmt* stmt);  // back to the cache (or finalized)
  sqlite3* db_;
  std::string path_;
  // Idle compiled statements by their SQL text; a statement in use is not
  // here, so two live Stmts never share one.
  std::unordered_multimap<std::string, sqlite3_stmt*> cache_;
};

class Stmt {
 public:
  Stmt(Db* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt();

  Stmt& Bind(int i, int64_t v);
  Stmt& Bind(int i, std::string_view text);
  Stmt& BindBlob(int i, std::string_view bytes);

  // Steps once: true when a row is available, false when done.
  Result<bool> Step();
  // Steps to completion (for statements without rows).
  Status Run();
  void Reset();

  int64_t Int(int col) const;
  std::string Text(int col) const;
  std::string Blob(int col) const;

 private:
  Db* db_;
  sqlite3_stmt* stmt_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Db* db) : db_(db) {}
  ~Transaction();
  Status Begin();
  Status Commit();

 private:
  Db* db_;
  bool open_ = false;
};

}  // namespace orch::sqlite
