// ACL tokens and policies in the replicated state: the AclCommand's
// transitions and the reads. Validation of what a command carries is the
// REST API's (master/acl/policy.h); apply only keeps the invariants that
// depend on the state: one bootstrap ever, one token per secret.
#include <spdlog/spdlog.h>

#include "master/state/meta_table.h"
#include "master/state/state_store.h"

namespace orch::master {

namespace {
constexpr const char* kBootstrapKey = "acl_bootstrap_index";

Status PutToken(sqlite::Db* db, v1::AclToken t) {
  t.clear_secret_id();  // never stored
  ORCH_ASSIGN_OR_RETURN(
      auto stmt,
      db->Prepare("INSERT OR REPLACE INTO acl_tokens(id, secret_hash, data) VALUES(?, ?, ?)"));
  stmt.Bind(1, t.accessor_id()).Bind(2, t.secret_hash()).BindBlob(3, t.SerializeAsString());
  return stmt.Run();
}
}  // namespace

Status StateStore::ApplyAcl(uint64_t index, const v1::Command& cmd, Status* outcome) {
  const v1::AclCommand& c = cmd.acl();
  acl_changed_ = true;
  // The secret hash must not belong to another token (UNIQUE): a refusal,
  // not a database error that would stop the log.
  auto secret_taken = [&](const v1::AclToken& t) -> Result<bool> {
    ORCH_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT id FROM acl_tokens WHERE secret_hash=?"));
    stmt.Bind(1, t.secret_hash());
    ORCH_ASSIGN_OR_RETURN(bool row, stmt.Step());
    return row && stmt.Text(0) != t.accessor_id();
  };
  switch (c.kind_case()) {
    case v1::AclCommand::kBootstrap: {
      ORCH_ASSIGN_OR_RETURN(std::optional<int64_t> bootstrapped,
                            ReadMeta(db_.get(), kBootstrapKey));
      if (bootstrapped) {
        *outcome = Status::FailedPrecondition("ACLs were already bootstrapped (at index " +
                                              std::to_string(*bootstrapped) +
                                              "); ask a management token's holder");
        return Status::Ok();
      }
      ORCH_ASSIGN_OR_RETURN(bool taken, secret_taken(c.bootstrap()));
      if (taken) {
        *outcome = Status::AlreadyExists("a token with this secret exists");
        return Status::Ok();
      }
      ORCH_RETURN_IF_ERROR(WriteMeta(db_.get(), kBootstrapKey, static_cast<int64_t>(index)));
      v1::AclToken t = c.bootstrap();
      t.set_create_index(index);
      spdlog::info("acl: bootstrapped at index {} (management token {})", index, t.accessor_id());
      return PutToken(db_.get(), t);
    }
    case v1::AclCommand::kUpsertToken: {
      ORCH_ASSIGN_OR_RETURN(bool taken, secret_taken(c.upsert_token()));
      if (taken) {
        *outcome = Status::AlreadyExists("a token with this secret exists");
        return Status::Ok();
      }
      v1::AclToken t = c.upsert_token();
      auto old = LoadOne<v1::AclToken>("acl_tokens", t.accessor_id());
      t.set_create_index(old ? old->create_index() : index);
      return PutToken(db_.get(), t);
    }
    case v1::AclCommand::kDeleteToken:
      if (!LoadOne<v1::AclToken>("acl_tokens", c.delete_token())) {
        *outcome = Status::NotFound("ACL token \"" + c.delete_token() + "\" not found");
        return Status::Ok();
      }
      return DeleteRow("acl_tokens", c.delete_token());
    case v1::AclCommand::kUpsertPolicy: {
      v1::AclPolicy p = c.upsert_policy();
      auto old = LoadOne<v1::AclPolicy>("acl_policies", p.name());
      p.set_create_index(old ? old->create_index() : index);
      p.set_modify_index(index);
      ORCH_ASSIGN_OR_RETURN(
          auto stmt, db_->Prepare("INSERT OR REPLACE INTO acl_policies(id, data) VALUES(?, ?)"));
      stmt.Bind(1, p.name()).BindBlob(2, p.SerializeAsString());
      return stmt.Run();
    }
    case v1::AclCommand::kDeletePolicy:
      if (!LoadOne<v1::AclPolicy>("acl_policies", c.delete_policy())) {
        *outcome = Status::NotFound("ACL policy \"" + c.delete_policy() + "\" not found");
        return Status::Ok();
      }
      return DeleteRow("acl_policies", c.delete_policy());
    case v1::AclCommand::KIND_NOT_SET:
      break;
  }
  *outcome = Status::InvalidArgument("empty ACL command");
  return Status::Ok();
}

void StateStore::RebuildAclLocked() {
  auto tables = std::make_shared<AclTables>();
  for (auto& t : LoadMany<v1::AclToken>("SELECT data FROM acl_tokens", {})) {
    std::string hash = t.secret_hash();
    tables->tokens_by_secret_hash.emplace(std::move(hash), std::move(t));
  }
  for (auto& p : LoadMany<v1::AclPolicy>("SELECT data FROM acl_policies", {})) {
    std::string name = p.name();
    tables->policies.emplace(std::move(name), std::move(p));
  }
  if (auto bootstrapped = ReadMeta(db_.get(), kBootstrapKey);
      bootstrapped.ok() && bootstrapped->has_value())
    tables->bootstrap_index = static_cast<uint64_t>(**bootstrapped);
  std::lock_guard lock(acl_mu_);
  acl_ = std::move(tables);
}

std::shared_ptr<const AclTables> StateStore::Acl() const {
  std::lock_guard lock(acl_mu_);
  return acl_;
}

std::vector<v1::AclToken> StateStore::ListAclTokens() const {
  std::lock_guard lock(mu_);
  auto out = LoadMany<v1::AclToken>("SELECT data FROM acl_tokens ORDER BY rowid DESC", {});
  for (auto& t : out) t.clear_secret_hash();
  return out;
}

std::vector<v1::AclPolicy> StateStore::ListAclPolicies() const {
  std::lock_guard lock(mu_);
  return LoadMany<v1::AclPolicy>("SELECT data FROM acl_policies ORDER BY id", {});
}

Result<v1::AclToken> StateStore::GetAclToken(const std::string& accessor_id) const {
  std::lock_guard lock(mu_);
  auto t = LoadOne<v1::AclToken>("acl_tokens", accessor_id);
  if (!t) return Status::NotFound("ACL token \"" + accessor_id + "\" not found");
  t->clear_secret_hash();
  return *t;
}

}  // namespace orch::master
