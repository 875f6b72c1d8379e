#include "master/replication/snapshot_check.h"

#include <sqlite3.h>

#include <cstring>
#include <memory>
#include <set>

#include "common/sqlite_image.h"
#include "orch/v1/types.pb.h"

namespace orch::replication {
namespace {

using Db = std::unique_ptr<sqlite3, decltype(&sqlite3_close)>;

struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

// `image` opened in memory once it proved a sound SQLite database of ours
// (integrity_check reads every page: a corrupt image fails here, not half-way
// through a restore), with its applied index.
Status OpenImage(const std::string& image, Db* db, uint64_t* applied) {
  if (image.size() < 512)
    return Status::InvalidArgument("snapshot image is too short to be a database");
  if (std::memcmp(image.data(), "SQLite format 3", 16) != 0) {
    return Status::InvalidArgument("snapshot image is not a SQLite database");
  }
  auto opened = sqlite::OpenImage(image);
  if (!opened.ok()) return opened.status().WithContext("snapshot image");
  *db = std::move(opened).value();
  sqlite3* raw = db->get();
  {
    Stmt st;
    if (sqlite3_prepare_v2(raw, "PRAGMA integrity_check(1)", -1, &st.s, nullptr) != SQLITE_OK ||
        sqlite3_step(st.s) != SQLITE_ROW) {
      return Status::InvalidArgument(std::string("snapshot image is corrupt: ") +
                                     sqlite3_errmsg(raw));
    }
    const char* ok = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 0));
    if (ok == nullptr || std::strcmp(ok, "ok") != 0) {
      return Status::InvalidArgument(std::string("snapshot image fails its integrity check: ") +
                                     (ok ? ok : "?"));
    }
  }
  Stmt st;
  if (sqlite3_prepare_v2(raw, "SELECT value FROM meta WHERE key='applied_index'", -1, &st.s,
                         nullptr) != SQLITE_OK ||
      sqlite3_step(st.s) != SQLITE_ROW) {
    return Status::InvalidArgument("snapshot image has no applied index: not a state database");
  }
  *applied = static_cast<uint64_t>(sqlite3_column_int64(st.s, 0));
  return Status::Ok();
}

// The value of `sql` (one integer), or 0 when it fails (an older image
// lacking a table).
uint64_t Count(sqlite3* db, const char* sql) {
  Stmt st;
  if (sqlite3_prepare_v2(db, sql, -1, &st.s, nullptr) != SQLITE_OK ||
      sqlite3_step(st.s) != SQLITE_ROW)
    return 0;
  return static_cast<uint64_t>(sqlite3_column_int64(st.s, 0));
}

}  // namespace

Result<StateImageInfo> CheckStateImage(const std::string& image) {
  Db db(nullptr, sqlite3_close);
  StateImageInfo info;
  ORCH_RETURN_IF_ERROR(OpenImage(image, &db, &info.applied_index));
  info.index =
      info.applied_index + Count(db.get(), "SELECT value FROM meta WHERE key='index_offset'");
  info.jobs = Count(db.get(), "SELECT count(*) FROM jobs");
  info.nodes = Count(db.get(), "SELECT count(*) FROM nodes");
  info.allocations = Count(db.get(), "SELECT count(*) FROM allocations");
  info.evaluations = Count(db.get(), "SELECT count(*) FROM evaluations");
  info.deployments = Count(db.get(), "SELECT count(*) FROM deployments");
  info.acl_tokens = Count(db.get(), "SELECT count(*) FROM acl_tokens");
  info.size = image.size();
  return info;
}

Status CheckSnapshotImage(const orch::v1::Snapshot& snapshot) {
  const auto& md = snapshot.metadata();
  Db db(nullptr, sqlite3_close);
  uint64_t applied = 0;
  ORCH_RETURN_IF_ERROR(OpenImage(snapshot.data(), &db, &applied));
  sqlite3* raw = db.get();
  if (applied != md.index()) {
    return Status::InvalidArgument("snapshot image was taken at index " + std::to_string(applied) +
                                   ", not at the snapshot's index " + std::to_string(md.index()));
  }
  std::set<uint64_t> members;
  {
    Stmt st;
    if (sqlite3_prepare_v2(raw, "SELECT data FROM members", -1, &st.s, nullptr) != SQLITE_OK) {
      return Status::InvalidArgument("snapshot image has no members table");
    }
    while (sqlite3_step(st.s) == SQLITE_ROW) {
      v1::Member m;
      const void* blob = sqlite3_column_blob(st.s, 0);
      int n = sqlite3_column_bytes(st.s, 0);
      if (blob == nullptr || !m.ParseFromArray(blob, n))
        return Status::InvalidArgument("snapshot image: bad member row");
      members.insert(m.raft_id());
    }
  }
  const auto& cs = md.conf_state();
  if (cs.voters_size() == 0) return Status::InvalidArgument("snapshot configuration has no voters");
  for (const auto* ids : {&cs.voters(), &cs.learners()}) {
    for (uint64_t id : *ids) {
      if (!members.count(id)) {
        return Status::InvalidArgument("snapshot configuration names member " + std::to_string(id) +
                                       " that the image does not hold");
      }
    }
  }
  return Status::Ok();
}

}  // namespace orch::replication
