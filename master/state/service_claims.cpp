// The service_claims table: the name and cluster port of every service of
// every live job, kept with the job (PutJob) so that a submit checks its
// services with index lookups instead of reading every job.
#include "master/services/service_claims.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <set>

#include "master/state/state_store.h"

namespace orch::master {

Status StateStore::PutServiceClaims(const v1::Job& job) {
  ORCH_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM service_claims WHERE job_id=?"));
  del.Bind(1, job.id());
  ORCH_RETURN_IF_ERROR(del.Run());
  for (const auto& c : ClaimsOf(job)) {
    ORCH_ASSIGN_OR_RETURN(auto ins, db_->Prepare("INSERT INTO service_claims(job_id, name, port) VALUES(?, ?, ?)"));
    ins.Bind(1, c.job_id).Bind(2, c.name).Bind(3, static_cast<int64_t>(c.port));
    ORCH_RETURN_IF_ERROR(ins.Run());
  }
  return Status::Ok();
}

std::vector<ServiceClaim> StateStore::ConflictingClaims(const v1::Job& job) const {
  std::lock_guard lock(mu_);
  return ConflictingClaimsLocked(job);
}

std::vector<ServiceClaim> StateStore::ConflictingClaimsLocked(const v1::Job& job) const {
  std::vector<ServiceClaim> out;
  auto collect = [&](const char* sql, auto bind) {
    auto stmt = db_->Prepare(sql);
    if (!stmt.ok()) {
      spdlog::error("state: {}", stmt.status().ToString());
      return;
    }
    stmt->Bind(1, job.id());
    bind(*stmt);
    for (;;) {
      auto row = stmt->Step();
      if (!row.ok() || !*row) break;
      ServiceClaim c{stmt->Text(0), stmt->Text(1), static_cast<int32_t>(stmt->Int(2))};
      if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(std::move(c));
    }
  };
  // A job has a handful of services: a few index lookups each.
  for (const auto& mine : ClaimsOf(job)) {
    collect("SELECT job_id, name, port FROM service_claims WHERE job_id<>? AND name=?",
            [&](sqlite::Stmt& s) { s.Bind(2, mine.name); });
    if (mine.port > 0) {
      collect("SELECT job_id, name, port FROM service_claims WHERE job_id<>? AND port=?",
              [&](sqlite::Stmt& s) { s.Bind(2, static_cast<int64_t>(mine.port)); });
    }
  }
  return out;
}

PortTaken StateStore::PortsTakenLocked(const std::string& job_id, const ServicePortRange& range) const {
  // The range's taken ports in one index scan (at most the range's size);
  // a port outside it (a kept or named one) by a lookup of its own.
  auto in_range = std::make_shared<std::set<int32_t>>();
  auto stmt = db_->Prepare("SELECT port FROM service_claims WHERE port BETWEEN ? AND ? AND job_id<>?");
  if (stmt.ok()) {
    stmt->Bind(1, static_cast<int64_t>(range.first)).Bind(2, static_cast<int64_t>(range.last)).Bind(3, job_id);
    for (;;) {
      auto row = stmt->Step();
      if (!row.ok() || !*row) break;
      in_range->insert(static_cast<int32_t>(stmt->Int(0)));
    }
  }
  return [this, in_range, job_id, range](int32_t port) {
    if (port >= range.first && port <= range.last) return in_range->count(port) > 0;
    auto one = db_->Prepare("SELECT 1 FROM service_claims WHERE port=? AND job_id<>? LIMIT 1");
    if (!one.ok()) return true;  // when in doubt, do not hand the port out
    one->Bind(1, static_cast<int64_t>(port)).Bind(2, job_id);
    auto row = one->Step();
    return !row.ok() || *row;
  };
}

Status StateStore::RebuildServiceClaims() {
  ORCH_RETURN_IF_ERROR(db_->Exec("DELETE FROM service_claims"));
  auto jobs = LoadMany<v1::Job>("SELECT data FROM jobs", {});
  for (const auto& j : jobs) ORCH_RETURN_IF_ERROR(PutServiceClaims(j));
  spdlog::info("state: service claims indexed for {} jobs", jobs.size());
  return Status::Ok();
}

}  // namespace orch::master
