#include "tests/sim/register_store.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <sqlite3.h>

#include "common/sqlite_image.h"

namespace orch::sim {
namespace {

// A state image serialized when it is begun (the simulation's states are
// small): consistent as of that moment whatever applies afterwards.
class CopiedImage : public replication::StateImage {
 public:
  CopiedImage(std::string image, uint64_t applied) : image_(std::move(image)), applied_(applied) {}
  Result<std::string> Serialize() override { return image_; }
  uint64_t applied() const override { return applied_; }

 private:
  std::string image_;
  uint64_t applied_;
};

}  // namespace

Result<std::unique_ptr<RegisterStore>> RegisterStore::Open(const std::string& path,
                                                           ApplyObserver observer) {
  ORCH_ASSIGN_OR_RETURN(auto db, sqlite::Db::Open(path, sqlite::Db::Sync::kNormal));
  std::unique_ptr<RegisterStore> s(new RegisterStore(std::move(db), std::move(observer)));
  ORCH_RETURN_IF_ERROR(s->db_->Exec(
      "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
      "CREATE TABLE IF NOT EXISTS registers(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS ops(id INTEGER PRIMARY KEY);"
      "CREATE TABLE IF NOT EXISTS members(id TEXT PRIMARY KEY, data BLOB NOT NULL);"
      "INSERT OR IGNORE INTO meta(key, value) VALUES('applied_index', 0);"));
  ORCH_RETURN_IF_ERROR(s->LoadApplied());
  return s;
}

Status RegisterStore::LoadApplied() {
  ORCH_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT value FROM meta WHERE key='applied_index'"));
  ORCH_ASSIGN_OR_RETURN(bool row, st.Step());
  applied_ = row ? static_cast<uint64_t>(st.Int(0)) : 0;
  return Status::Ok();
}

Status RegisterStore::SetApplied(uint64_t index) {
  ORCH_ASSIGN_OR_RETURN(auto st, db_->Prepare("UPDATE meta SET value=? WHERE key='applied_index'"));
  ORCH_RETURN_IF_ERROR(st.Bind(1, static_cast<int64_t>(index)).Run());
  return Status::Ok();
}

v1::Command RegisterStore::WriteCommand(const std::string& key, const std::string& value,
                                        uint64_t op_id) {
  v1::Command cmd;
  auto* job = cmd.mutable_register_job()->mutable_job();
  job->set_id(key);
  (*job->mutable_meta())["value"] = value;
  (*job->mutable_meta())["op"] = std::to_string(op_id);
  return cmd;
}

Status RegisterStore::ApplyOne(uint64_t index, const v1::Command& cmd, Status* outcome) {
  if (observer_) {
    v1::Command bare = cmd;
    bare.clear_request_id();  // the same command proposed twice carries two ids
    std::string bytes;
    {
      // Deterministic: maps otherwise serialize in no fixed order.
      google::protobuf::io::StringOutputStream out(&bytes);
      google::protobuf::io::CodedOutputStream coded(&out);
      coded.SetSerializationDeterministic(true);
      bare.SerializeToCodedStream(&coded);
    }
    observer_(index, bytes);
  }
  if (cmd.has_register_job()) {
    const auto& job = cmd.register_job().job();
    auto op = job.meta().find("op");
    auto value = job.meta().find("value");
    if (op == job.meta().end() || value == job.meta().end()) {
      *outcome = Status::InvalidArgument("not a register write");
      return Status::Ok();
    }
    ORCH_ASSIGN_OR_RETURN(auto seen, db_->Prepare("INSERT OR IGNORE INTO ops(id) VALUES(?)"));
    ORCH_RETURN_IF_ERROR(seen.Bind(1, static_cast<int64_t>(std::stoull(op->second))).Run());
    if (sqlite3_changes(db_->raw()) == 0) return Status::Ok();  // applied before
    ORCH_ASSIGN_OR_RETURN(
        auto put, db_->Prepare("INSERT OR REPLACE INTO registers(key, value) VALUES(?, ?)"));
    return put.Bind(1, job.id()).Bind(2, value->second).Run();
  }
  if (cmd.has_update_member()) {
    for (v1::Member m : ListMembers()) {
      if (m.id() != cmd.update_member().id()) continue;
      m.set_http_address(cmd.update_member().http_address());
      ORCH_ASSIGN_OR_RETURN(auto put,
                            db_->Prepare("INSERT OR REPLACE INTO members(id, data) VALUES(?, ?)"));
      return put.Bind(1, m.id()).BindBlob(2, m.SerializeAsString()).Run();
    }
    *outcome = Status::NotFound("member " + cmd.update_member().id() + " is not in the cluster");
  }
  return Status::Ok();
}

Status RegisterStore::ApplyBatch(const std::vector<Entry>& entries, std::vector<Status>* outcomes) {
  outcomes->assign(entries.size(), Status::Ok());
  sqlite::Transaction tx(db_.get());
  ORCH_RETURN_IF_ERROR(tx.Begin());
  uint64_t last = applied_;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].index <= last) continue;  // a replay of what state.db holds
    if (entries[i].cmd != nullptr) {
      ORCH_RETURN_IF_ERROR(ApplyOne(entries[i].index, *entries[i].cmd, &(*outcomes)[i]));
    }
    last = entries[i].index;
  }
  ORCH_RETURN_IF_ERROR(SetApplied(last));
  ORCH_RETURN_IF_ERROR(tx.Commit());
  applied_ = last;
  return Status::Ok();
}

Status RegisterStore::MarkApplied(uint64_t index) {
  if (index <= applied_) return Status::Ok();
  ORCH_RETURN_IF_ERROR(SetApplied(index));
  applied_ = index;
  return Status::Ok();
}

Status RegisterStore::ApplyMembership(uint64_t index, const v1::Member& member, bool removed) {
  if (index <= applied_) return Status::Ok();
  sqlite::Transaction tx(db_.get());
  ORCH_RETURN_IF_ERROR(tx.Begin());
  if (removed) {
    ORCH_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM members WHERE id=?"));
    ORCH_RETURN_IF_ERROR(del.Bind(1, member.id()).Run());
  } else {
    v1::Member m = member;
    m.clear_match_index();
    m.clear_leader();
    ORCH_ASSIGN_OR_RETURN(auto put,
                          db_->Prepare("INSERT OR REPLACE INTO members(id, data) VALUES(?, ?)"));
    ORCH_RETURN_IF_ERROR(put.Bind(1, m.id()).BindBlob(2, m.SerializeAsString()).Run());
  }
  ORCH_RETURN_IF_ERROR(SetApplied(index));
  ORCH_RETURN_IF_ERROR(tx.Commit());
  applied_ = index;
  return Status::Ok();
}

std::vector<v1::Member> RegisterStore::ListMembers() const {
  std::vector<v1::Member> out;
  auto st = db_->Prepare("SELECT data FROM members ORDER BY id");
  if (!st.ok()) return out;
  while (true) {
    auto row = st->Step();
    if (!row.ok() || !*row) break;
    v1::Member m;
    if (m.ParseFromString(st->Blob(0))) out.push_back(std::move(m));
  }
  return out;
}

Result<std::string> RegisterStore::Get(const std::string& key) {
  ORCH_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT value FROM registers WHERE key=?"));
  st.Bind(1, key);
  ORCH_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.Text(0) : std::string();
}

Result<std::string> RegisterStore::Dump() {
  ORCH_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT key, value FROM registers ORDER BY key"));
  std::string out;
  while (true) {
    ORCH_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out += st.Text(0) + "=" + st.Text(1) + ";";
  }
  return out;
}

Result<std::string> RegisterStore::SerializeImage() const {
  return sqlite::SerializeImage(db_->raw(), db_->path());
}

Result<std::unique_ptr<replication::StateImage>> RegisterStore::BeginImageRead(
    uint64_t* state_index) const {
  if (state_index != nullptr) *state_index = applied_;
  ORCH_ASSIGN_OR_RETURN(std::string image, SerializeImage());
  return std::unique_ptr<replication::StateImage>(new CopiedImage(std::move(image), applied_));
}

Status RegisterStore::RestoreImage(const std::string& image) {
  ORCH_RETURN_IF_ERROR(sqlite::RestoreImage(db_->raw(), image, db_->path()));
  return LoadApplied();
}

}  // namespace orch::sim
