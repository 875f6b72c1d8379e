// An operator's restore of a state image (RestoreSnapshotCommand): chunks
// staged in restore_chunks as they commit, then one commit entry that
// checks the whole image and replaces every table with the image's, in one
// transaction, on every master at the same index.
//
// What the restore keeps of the running cluster: its members (membership
// is the Raft log's, not the image's) and its index. The image's objects
// are stamped with the restore's index (they all changed there), and when
// the image counted further than this cluster's log (an image of another
// cluster), StateIndex() jumps past it, so every index an agent or a
// client has seen, from either cluster, stays behind.
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "common/ids.h"
#include "master/state/state_store.h"

namespace orch::master {

namespace {

// The tables an image brings (members stay the cluster's; restore_chunks
// is staging).
constexpr const char* kImageTables[] = {"jobs",           "nodes",        "allocations",
                                        "evaluations",    "job_versions", "deployments",
                                        "service_claims", "acl_tokens",   "acl_policies"};

// Sets modify_index (when `m` has one) to `index`.
void Stamp(google::protobuf::Message* m, uint64_t index) {
  const auto* f = m->GetDescriptor()->FindFieldByName("modify_index");
  if (f != nullptr && f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_UINT64) {
    m->GetReflection()->SetUInt64(m, f, index);
  }
}

}  // namespace

Status StateStore::ApplyRestoreChunk(uint64_t, const v1::Command& cmd, Status* outcome) {
  const auto& c = cmd.restore_snapshot();
  if (c.commit()) {  // ApplyBatch applies commits on their own: never expected here
    *outcome = Status::Internal("a restore's commit inside a batch");
    return Status::Ok();
  }
  if (c.offset() == 0) {
    ORCH_RETURN_IF_ERROR(db_->Exec("DELETE FROM restore_chunks"));
  } else {
    ORCH_ASSIGN_OR_RETURN(
        auto staged,
        db_->Prepare(
            "SELECT COALESCE(SUM(length(data)), 0) FROM restore_chunks WHERE restore_id=?"));
    staged.Bind(1, c.restore_id());
    ORCH_RETURN_IF_ERROR(staged.Step().status());
    const auto have = static_cast<uint64_t>(staged.Int(0));
    if (have != c.offset()) {
      *outcome = Status::FailedPrecondition("restore " + c.restore_id() + ": a chunk at offset " +
                                            std::to_string(c.offset()) + " does not follow the " +
                                            std::to_string(have) +
                                            " bytes staged (another restore began?)");
      return Status::Ok();
    }
  }
  ORCH_ASSIGN_OR_RETURN(
      auto put,
      db_->Prepare("INSERT INTO restore_chunks(restore_id, offset, data) VALUES(?, ?, ?)"));
  put.Bind(1, c.restore_id()).Bind(2, static_cast<int64_t>(c.offset())).BindBlob(3, c.data());
  return put.Run();
}

Status StateStore::AssembleRestore(const v1::RestoreSnapshotCommand& c, std::string* image) {
  ORCH_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare("SELECT offset, data FROM restore_chunks WHERE restore_id=? ORDER BY offset"));
  stmt.Bind(1, c.restore_id());
  image->clear();
  for (;;) {
    ORCH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    if (static_cast<uint64_t>(stmt.Int(0)) != image->size()) {
      return Status::FailedPrecondition("restore " + c.restore_id() +
                                        ": its chunks have a gap at " +
                                        std::to_string(image->size()));
    }
    *image += stmt.Blob(1);
  }
  if (image->size() != c.size()) {
    return Status::FailedPrecondition(
        "restore " + c.restore_id() + ": " + std::to_string(image->size()) +
        " bytes staged, the image has " + std::to_string(c.size()) + " (another restore began?)");
  }
  if (Sha256Hex(*image) != c.sha256()) {
    return Status::InvalidArgument("restore " + c.restore_id() +
                                   ": the staged image's SHA-256 is not " + c.sha256());
  }
  return Status::Ok();
}

Status StateStore::ApplyRestoreCommit(const Entry& e, Status* outcome) {
  std::unique_lock lock(mu_);
  if (e.index <= applied_) return Status::Ok();  // replay
  ORCH_RETURN_IF_ERROR(
      CommitBatchLocked());  // the image replaces the state in a transaction of its own
  const auto& c = e.cmd->restore_snapshot();
  std::string image;
  Status st = AssembleRestore(c, &image);
  if (st.ok()) st = ReplaceStateWithImage(image, e.index);
  if (!st.ok()) {
    // Not restored: the outcome says why; the staged chunks go, the index moves.
    if (st.code() == StatusCode::kInternal) return st;  // the database failed: stop, as any apply
    *outcome = st;
    spdlog::warn("state: index {}: restore refused: {}", e.index, st.message());
    sqlite::Transaction tx(db_.get());
    ORCH_RETURN_IF_ERROR(tx.Begin());
    ORCH_RETURN_IF_ERROR(db_->Exec("DELETE FROM restore_chunks"));
    ORCH_RETURN_IF_ERROR(RecordApplied(e.index));
    ORCH_RETURN_IF_ERROR(tx.Commit());
    applied_ = e.index;
  }
  const uint64_t state_index = applied_ + offset_;
  if (st.ok()) events_.Reset(state_index);  // every object replaced: resume by reading the state
  if (st.ok()) DropNodeWatchLocked();       // the waiters' keys are raised below
  lock.unlock();
  cv_.notify_all();
  waiters_.Advance(state_index);
  if (st.ok()) waiters_.RaiseKeys(state_index);
  return Status::Ok();
}

Status StateStore::ReplaceStateWithImage(const std::string& image, uint64_t raft_index) {
  // The image as a schema "img" of our own connection, so one transaction
  // can copy it over ours. ATTACH cannot run inside a transaction.
  ORCH_RETURN_IF_ERROR(db_->Exec("ATTACH DATABASE ':memory:' AS img"));
  struct Detach {
    sqlite::Db* db;
    ~Detach() {
      if (Status st = db->Exec("DETACH DATABASE img"); !st.ok())
        spdlog::error("state: {}", st.message());
    }
  } detach{db_.get()};
  auto* buf = static_cast<unsigned char*>(sqlite3_malloc64(image.size()));
  if (buf == nullptr)
    return Status::ResourceExhausted("an image of " + std::to_string(image.size()) + " bytes");
  std::memcpy(buf, image.data(), image.size());
  if (image.size() >= 100)
    buf[18] = buf[19] = 1;  // a WAL image, read without its -wal (see RestoreImage)
  if (sqlite3_deserialize(db_->raw(), "img", buf, static_cast<sqlite3_int64>(image.size()),
                          static_cast<sqlite3_int64>(image.size()),
                          SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) !=
      SQLITE_OK) {
    return Status::InvalidArgument("the image is not a SQLite database");
  }
  // Sound, and ours.
  {
    auto check = db_->Prepare("PRAGMA img.integrity_check(1)");
    if (!check.ok())
      return Status::InvalidArgument("the image is not a SQLite database: " +
                                     check.status().message());
    auto row = check->Step();
    if (!row.ok() || !*row || check->Text(0) != "ok") {
      return Status::InvalidArgument("the image fails SQLite's integrity check: " +
                                     (row.ok() && *row ? check->Text(0) : row.status().message()));
    }
  }
  std::set<std::string> tables;
  {
    ORCH_ASSIGN_OR_RETURN(auto list,
                          db_->Prepare("SELECT name FROM img.sqlite_master WHERE type='table'"));
    for (;;) {
      ORCH_ASSIGN_OR_RETURN(bool row, list.Step());
      if (!row) break;
      tables.insert(list.Text(0));
    }
  }
  uint64_t image_applied = 0, image_offset = 0;
  bool has_applied = false;
  if (tables.count("meta") != 0 && tables.count("jobs") != 0) {
    ORCH_ASSIGN_OR_RETURN(
        auto meta,
        db_->Prepare(
            "SELECT key, value FROM img.meta WHERE key IN ('applied_index', 'index_offset')"));
    for (;;) {
      ORCH_ASSIGN_OR_RETURN(bool row, meta.Step());
      if (!row) break;
      const bool applied = meta.Text(0) == "applied_index";
      has_applied |= applied;
      (applied ? image_applied : image_offset) = static_cast<uint64_t>(meta.Int(1));
    }
  }
  if (!has_applied)
    return Status::InvalidArgument("the image is not a state image of orch (no applied index)");

  // Past every index of the image and of this cluster so far.
  const uint64_t image_index = image_applied + image_offset;
  const uint64_t offset = std::max<uint64_t>(
      offset_.load(), image_index >= raft_index ? image_index + 1 - raft_index : 0);
  const uint64_t index = raft_index + offset;

  sqlite::Transaction tx(db_.get());
  ORCH_RETURN_IF_ERROR(tx.Begin());
  for (const char* t : kImageTables) {
    ORCH_RETURN_IF_ERROR(db_->Exec(std::string("DELETE FROM main.") + t));
    if (tables.count(t) == 0) continue;  // an image from an older master
    // Its columns by name (a table may have gained one since).
    std::string cols;
    ORCH_ASSIGN_OR_RETURN(auto info, db_->Prepare(std::string("PRAGMA img.table_info(") + t + ")"));
    for (;;) {
      ORCH_ASSIGN_OR_RETURN(bool row, info.Step());
      if (!row) break;
      cols += (cols.empty() ? "" : ", ") + ("\"" + info.Text(1) + "\"");
    }
    Status copied = db_->Exec(std::string("INSERT INTO main.") + t + "(" + cols + ") SELECT " +
                              cols + " FROM img." + t);
    if (!copied.ok()) {
      return Status::InvalidArgument(
          std::string("the image's table ") + t +
          " does not fit this master's (an image of a newer orch?): " + copied.message());
    }
  }
  ORCH_RETURN_IF_ERROR(db_->Exec("DELETE FROM main.restore_chunks"));
  ORCH_RETURN_IF_ERROR(db_->Exec("DELETE FROM main.meta"));
  ORCH_RETURN_IF_ERROR(
      db_->Exec("INSERT INTO main.meta(key, value) SELECT key, value FROM img.meta "
                "WHERE key NOT IN ('applied_index', 'index_offset')"));
  ORCH_ASSIGN_OR_RETURN(
      auto put_offset, db_->Prepare("INSERT INTO main.meta(key, value) VALUES('index_offset', ?)"));
  ORCH_RETURN_IF_ERROR(put_offset.Bind(1, static_cast<int64_t>(offset)).Run());
  ORCH_RETURN_IF_ERROR(RecordApplied(raft_index));
  if (tables.count("service_claims") == 0) ORCH_RETURN_IF_ERROR(RebuildServiceClaims());
  // An image from before allocations had `terminal` left it 0 on every row.
  ORCH_RETURN_IF_ERROR(MarkTerminalAllocations());

  // Everything changed at the restore: stamp it, so watchers wake.
  auto restamp = [&](const char* table, google::protobuf::Message* proto) -> Status {
    std::vector<std::pair<int64_t, std::string>> rows;
    {
      ORCH_ASSIGN_OR_RETURN(auto read,
                            db_->Prepare(std::string("SELECT rowid, data FROM main.") + table));
      for (;;) {
        ORCH_ASSIGN_OR_RETURN(bool row, read.Step());
        if (!row) break;
        rows.emplace_back(read.Int(0), read.Blob(1));
      }
    }
    ORCH_ASSIGN_OR_RETURN(auto write, db_->Prepare(std::string("UPDATE main.") + table +
                                                   " SET data=? WHERE rowid=?"));
    for (const auto& [rowid, data] : rows) {
      if (!proto->ParseFromString(data)) {
        return Status::InvalidArgument(std::string("the image's table ") + table +
                                       " holds a row that does not parse");
      }
      Stamp(proto, index);
      write.Reset();
      ORCH_RETURN_IF_ERROR(write.BindBlob(1, proto->SerializeAsString()).Bind(2, rowid).Run());
    }
    return Status::Ok();
  };
  v1::Job job;
  v1::Node node;
  v1::Allocation alloc;
  v1::Evaluation eval;
  v1::Deployment deployment;
  v1::AclToken token;
  v1::AclPolicy policy;
  const std::pair<const char*, google::protobuf::Message*> stamped[] = {
      {"jobs", &job},
      {"nodes", &node},
      {"allocations", &alloc},
      {"evaluations", &eval},
      {"deployments", &deployment},
      {"acl_tokens", &token},
      {"acl_policies", &policy}};
  for (const auto& [table, proto] : stamped) ORCH_RETURN_IF_ERROR(restamp(table, proto));
  ORCH_RETURN_IF_ERROR(tx.Commit());

  applied_ = raft_index;
  offset_ = offset;
  RebuildJobBriefsLocked();
  RebuildAllocationBriefsLocked();
  RebuildAclLocked();
  spdlog::info(
      "state: restored an operator's image (taken at index {}) at Raft index {}; the state's index "
      "is {}",
      image_index, raft_index, index);
  return Status::Ok();
}

}  // namespace orch::master
