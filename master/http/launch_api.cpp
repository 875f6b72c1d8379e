#include "master/http/launch_api.h"

#include <spdlog/spdlog.h>

#include "common/document.h"
#include "common/ids.h"
#include "master/controllers/child_jobs.h"
#include "master/model/secrets.h"

namespace orch::master {
namespace {

HttpResponse Answer(const std::string& child, const std::string& eval_id, uint64_t index) {
  v1::DispatchJobResponse resp;
  resp.set_job_id(child);
  resp.set_eval_id(eval_id);
  resp.set_index(index);
  return HttpResponse::Json(200, RedactedJson(resp));
}

HttpResponse Dispatch(const HttpRequest& req, const PathParams& p, const ApiDeps& d) {
  const std::string& id = p.at("id");
  v1::DispatchJobRequest body;
  if (!req.body.empty()) {
    DocumentLimits limits;
    limits.max_expanded_bytes = 4 * kMaxDispatchPayload + (64 << 10);
    if (Status st = ParseDocument(req.body, &body, limits); !st.ok())
      return HttpResponse::Error(st);
  }
  auto parent = d.store->GetJob(id);
  if (!parent.ok()) return HttpResponse::Error(parent.status());
  if (Status st = CheckDispatch(*parent, body); !st.ok()) {
    spdlog::info("job {}: dispatch refused: {}", id, st.message());
    return HttpResponse::Error(st);
  }
  std::map<std::string, std::string> meta(body.meta().begin(), body.meta().end());
  const std::string child_id = DispatchChildId(id, d.clock->NowMs(), NewUuid().substr(0, 8));
  v1::Command cmd;
  auto* c = cmd.mutable_register_job();
  *c = RegisterChild(MakeChildJob(*parent, child_id, meta, body.payload()), NewUuid());
  c->set_parent_modify_index(parent->modify_index());
  c->set_keep_versions(d.keep_versions);
  c->set_deployment_id(NewUuid());
  return ProposeThen(d, std::move(cmd),
                     [id, child_id, eval_id = c->eval().id()](const Result<uint64_t>& index) {
                       if (!index.ok()) return HttpResponse::Error(index.status());
                       spdlog::info("job {}: dispatched {} (eval {}, index {})", id, child_id,
                                    ShortId(eval_id), *index);
                       return Answer(child_id, eval_id, *index);
                     });
}

HttpResponse Force(const PathParams& p, const ApiDeps& d) {
  const std::string& id = p.at("id");
  auto parent = d.store->GetJob(id);
  if (!parent.ok()) return HttpResponse::Error(parent.status());
  if (!parent->has_periodic()) {
    return HttpResponse::Error(Status::FailedPrecondition("job \"" + id + "\" is not periodic"));
  }
  if (parent->stop())
    return HttpResponse::Error(Status::FailedPrecondition("job \"" + id + "\" is stopped"));
  v1::Command cmd;
  *cmd.mutable_periodic_launch() =
      MakePeriodicLaunch(*parent, d.clock->NowMs(), /*forced=*/true, /*skip=*/false, NewUuid());
  const auto& child = cmd.periodic_launch().child();
  return ProposeThen(d, std::move(cmd),
                     [id, child_id = child.job().id(),
                      eval_id = child.eval().id()](const Result<uint64_t>& index) {
                       if (!index.ok()) return HttpResponse::Error(index.status());
                       spdlog::info("job {}: forced launch {} (index {})", id, child_id, *index);
                       return Answer(child_id, eval_id, *index);
                     });
}

}  // namespace

void RegisterLaunchRoutes(Router* r, const ApiDeps& d) {
  r->Add(
      "POST", "/v1/jobs/{id}/dispatch",
      [d](const HttpRequest& req, const PathParams& p) { return Dispatch(req, p, d); },
      Router::Waits::kNever);
  r->Add(
      "POST", "/v1/jobs/{id}/periodic/force",
      [d](const HttpRequest&, const PathParams& p) { return Force(p, d); }, Router::Waits::kNever);
}

}  // namespace orch::master
