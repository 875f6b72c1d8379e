// A whole SQLite database as one byte string (an "image"): what a Raft
// snapshot carries. Serializing a live database, opening an image in
// memory, and replacing a database's content with an image's, written once
// for the master's state store, the snapshot checks and the simulations.
// Thread safety: each call uses only the connections it is given.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace orch::sqlite {

using MemoryDb = std::unique_ptr<sqlite3, decltype(&sqlite3_close)>;

// The image of `db`'s main database as of now (WAL content included).
// `what` names it in errors.
Result<std::string> SerializeImage(sqlite3* db, const std::string& what);

// `image` opened as a private in-memory database. An image of a WAL
// database is read as a rollback-journal one (an in-memory copy has no
// -wal file). InvalidArgument when it is not an SQLite database.
Result<MemoryDb> OpenImage(const std::string& image);

// Replaces the whole content of `db`'s main database with `image`'s, in
// one transaction (a crash leaves the old content or the new one).
Status RestoreImage(sqlite3* db, const std::string& image, const std::string& what);

}  // namespace orch::sqlite
