// Counting a test table's rows through a connection, for the SQLite tests
// (the WAL VFS, the checkpointer): what that connection sees committed.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "common/sqlite.h"

namespace orch::sqlite::testing {

inline int64_t CountRows(Db* db, const std::string& table) {
  auto stmt = db->Prepare("SELECT count(*) FROM " + table);
  EXPECT_TRUE(stmt.ok()) << stmt.status().ToString();
  if (!stmt.ok()) return -1;
  auto row = stmt->Step();
  EXPECT_TRUE(row.ok() && *row);
  return stmt->Int(0);
}

}  // namespace orch::sqlite::testing
