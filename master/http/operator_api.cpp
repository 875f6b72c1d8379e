#include "master/http/operator_api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

#include "common/ids.h"
#include "master/model/secrets.h"
#include "master/replication/snapshot_check.h"
#include "orch/v1/api.pb.h"

namespace orch::master {
namespace {

HttpResponse SaveSnapshot(const HttpRequest& req, const ApiDeps& d) {
  if (req.Query("stale") != "true") {
    Status st = d.log->ReadBarrier(std::chrono::seconds(5));
    if (!st.ok()) return HttpResponse::Error(st);
  }
  uint64_t index = 0;
  auto read = d.store->BeginImageRead(&index);
  if (!read.ok()) return HttpResponse::Error(read.status());
  auto image = (*read)->Serialize();  // applies go on meanwhile
  if (!image.ok()) return HttpResponse::Error(image.status());
  HttpResponse resp;
  resp.status = 200;
  resp.content_type = "application/vnd.sqlite3";
  resp.headers.emplace_back("X-Orch-Index", std::to_string(index));
  resp.headers.emplace_back(kSnapshotSha256Header, Sha256Hex(*image));
  resp.body = std::move(*image);
  spdlog::info("operator: snapshot of {} bytes at index {} sent to {}", resp.body.size(), index,
               req.remote);
  return resp;
}

HttpResponse RestoreSnapshot(const HttpRequest& req, const ApiDeps& d) {
  static std::mutex one_at_a_time;
  std::unique_lock lock(one_at_a_time, std::try_to_lock);
  if (!lock.owns_lock()) {
    return HttpResponse::Error(
        409, Status::FailedPrecondition("a restore is already in progress; retry when it ends"));
  }
  const std::string& image = req.body;
  const std::string sha = Sha256Hex(image);
  if (std::string want = req.Header("x-orch-snapshot-sha256"); !want.empty() && want != sha) {
    return HttpResponse::Error(
        Status::InvalidArgument("the image's SHA-256 is " + sha + ", not " + want.substr(0, 64) +
                                " as " + kSnapshotSha256Header + " says: damaged on the way?"));
  }
  auto info = replication::CheckStateImage(image);
  if (!info.ok()) return HttpResponse::Error(info.status());

  const std::string restore_id = NewUuid();
  auto propose = [&](v1::RestoreSnapshotCommand c) -> Result<uint64_t> {
    v1::Command cmd;
    c.set_restore_id(restore_id);
    *cmd.mutable_restore_snapshot() = std::move(c);
    return ProposeCommand(d, std::move(cmd));
  };
  for (std::size_t off = 0; off < image.size(); off += kRestoreChunkBytes) {
    v1::RestoreSnapshotCommand c;
    c.set_offset(off);
    c.set_data(image.substr(off, kRestoreChunkBytes));
    if (auto staged = propose(std::move(c)); !staged.ok()) {
      return HttpResponse::Error(
          staged.status().WithContext("restore: staging the image at byte " + std::to_string(off)));
    }
  }
  v1::RestoreSnapshotCommand commit;
  commit.set_commit(true);
  commit.set_size(image.size());
  commit.set_sha256(sha);
  auto index = propose(std::move(commit));
  if (!index.ok()) return HttpResponse::Error(index.status().WithContext("restore"));
  spdlog::info(
      "operator: restored an image of {} bytes (index {}, {} jobs, {} nodes, {} allocations) from "
      "{}; "
      "the state is at index {}",
      image.size(), info->index, info->jobs, info->nodes, info->allocations, req.remote, *index);
  v1::SnapshotRestoreResponse out;
  out.set_index(*index);
  out.set_snapshot_index(info->index);
  out.set_size(info->size);
  out.set_jobs(info->jobs);
  out.set_nodes(info->nodes);
  out.set_allocations(info->allocations);
  out.set_evaluations(info->evaluations);
  out.set_deployments(info->deployments);
  out.set_acl_tokens(info->acl_tokens);
  HttpResponse resp = HttpResponse::Json(200, RedactedJson(out));
  resp.headers.emplace_back("X-Orch-Index", std::to_string(*index));
  return resp;
}

}  // namespace

void RegisterOperatorRoutes(Router* r, const ApiDeps& d) {
  r->Add("GET", kSnapshotPath,
         [d](const HttpRequest& req, const PathParams&) { return SaveSnapshot(req, d); });
  r->Add("PUT", kSnapshotPath,
         [d](const HttpRequest& req, const PathParams&) { return RestoreSnapshot(req, d); });
}

}  // namespace orch::master
