// The meta table's integer values by key (the applied index, the ACL
// bootstrap's index, the last unblocking's index): one read and one write
// for every user, inside whatever transaction the caller has open.
// Thread safety: as the connection's (the caller holds it).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/sqlite.h"
#include "common/status.h"

namespace orch::master {

inline Result<std::optional<int64_t>> ReadMeta(sqlite::Db* db, std::string_view key) {
  ORCH_ASSIGN_OR_RETURN(auto stmt, db->Prepare("SELECT value FROM meta WHERE key=?"));
  stmt.Bind(1, key);
  ORCH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<int64_t>();
  return std::optional<int64_t>(stmt.Int(0));
}

inline Status WriteMeta(sqlite::Db* db, std::string_view key, int64_t value) {
  ORCH_ASSIGN_OR_RETURN(auto stmt,
                        db->Prepare("INSERT INTO meta(key, value) VALUES(?, ?) "
                                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value"));
  stmt.Bind(1, key).Bind(2, value);
  return stmt.Run();
}

}  // namespace orch::master
