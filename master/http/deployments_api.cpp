#include "master/http/deployments_api.h"

#include <spdlog/spdlog.h>

#include "common/document.h"
#include "common/ids.h"
#include "common/json.h"
#include "master/deployments/judge.h"
#include "master/model/secrets.h"
#include "master/validation.h"
#include "orch/v1/api.pb.h"

namespace orch::master {
namespace {

HttpResponse Act(const PathParams& p, const ApiDeps& d, const std::string& action) {
  auto dep = d.store->GetDeployment(p.at("id"));
  if (!dep.ok()) return HttpResponse::Error(dep.status());
  const auto status = dep->status();
  if (status != v1::Deployment::RUNNING && status != v1::Deployment::PAUSED) {
    return HttpResponse::Error(Status::FailedPrecondition("deployment " + ShortId(dep->id()) + " is over (" +
                                                          v1::Deployment::Status_Name(status) + ")"));
  }
  v1::Command cmd;
  auto* c = cmd.mutable_deployment_update();
  c->set_deployment_id(dep->id());
  if (action == "promote") {
    bool awaiting = false;
    const auto allocs = d.store->ListAllocations(dep->job_id());
    for (const auto& g : dep->groups()) {
      if (g.desired_canaries() == 0 || g.promoted()) continue;
      awaiting = true;
      GroupProgress p = ProgressOf(*dep, g.name(), allocs);
      if (p.healthy_canaries < g.desired_canaries()) {
        return HttpResponse::Error(Status::FailedPrecondition(
            "group " + g.name() + " has " + std::to_string(p.healthy_canaries) + " of " +
            std::to_string(g.desired_canaries()) + " canaries healthy; promote once they all are"));
      }
    }
    if (!awaiting) {
      return HttpResponse::Error(
          Status::FailedPrecondition("deployment " + ShortId(dep->id()) + " has no canaries to promote"));
    }
    c->set_promote(true);
    c->set_status_description("promoted by an operator");
    auto* e = c->add_evals();
    e->set_id(NewUuid());
    e->set_job_id(dep->job_id());
    e->set_triggered_by(v1::Evaluation::DEPLOYMENT_WATCHER);
  } else if (action == "pause") {
    c->set_status(v1::Deployment::PAUSED);
    c->set_status_description("paused by an operator");
  } else if (action == "resume") {
    c->set_status(v1::Deployment::RUNNING);
    c->set_status_description("resumed by an operator");
    auto* e = c->add_evals();
    e->set_id(NewUuid());
    e->set_job_id(dep->job_id());
    e->set_triggered_by(v1::Evaluation::DEPLOYMENT_WATCHER);
  } else {
    c->set_status(v1::Deployment::FAILED);
    std::string desc = "failed by an operator";
    bool auto_revert = false;
    for (const auto& g : dep->groups()) auto_revert = auto_revert || g.auto_revert();
    auto job = d.store->GetJob(dep->job_id());
    if (auto_revert && job.ok()) {
      auto stable = d.store->LatestStableVersion(dep->job_id(), dep->job_version());
      desc += "; " + AddRevert(*job, stable ? &*stable : nullptr, [] { return NewUuid(); }, c);
    }
    c->set_status_description(desc);
  }
  const auto status_after =
      c->status() != v1::Deployment::STATUS_UNSPECIFIED ? c->status() : dep->status();
  return ProposeThen(d, std::move(cmd),
                     [id = dep->id(), job_id = dep->job_id(), desc = c->status_description(),
                      status_after](const Result<uint64_t>& index) {
                       if (!index.ok()) return HttpResponse::Error(index.status());
                       spdlog::info("deployment {} of job {}: {} (index {})", ShortId(id), job_id,
                                    desc, *index);
                       v1::DeploymentActionResponse resp;
                       resp.set_deployment_id(id);
                       resp.set_index(*index);
                       resp.set_status(status_after);
                       return HttpResponse::Json(200, RedactedJson(resp));
                     });
}

HttpResponse Revert(const HttpRequest& req, const PathParams& p, const ApiDeps& d) {
  const std::string& id = p.at("id");
  v1::RevertJobRequest body;
  Status st = ParseDocument(req.body, &body);
  if (!st.ok()) return HttpResponse::Error(st);
  auto current = d.store->GetJob(id);
  if (!current.ok()) return HttpResponse::Error(current.status());
  auto version = d.store->GetJobVersion(id, body.version());
  if (!version.ok()) return HttpResponse::Error(version.status());
  v1::Job job = *version;
  job.clear_version();
  job.clear_status();
  job.clear_stop();
  job.clear_create_index();
  job.clear_modify_index();
  job.clear_submit_time_ms();
  job.clear_stable();
  // Today's limits apply to an old spec too.
  st = ValidateJob(&job);
  if (!st.ok()) return HttpResponse::Error(st.WithContext("version " + std::to_string(body.version())));
  return RegisterJobVersion(d, job, body.version());
}

}  // namespace

void RegisterDeploymentRoutes(Router* r, const ApiDeps& d) {
  r->Add("GET", "/v1/deployments", [d](const HttpRequest& req, const PathParams&) {
    return ReadJson(req, d, [&]() -> Result<std::string> {
      v1::DeploymentList out;
      for (auto& dep : d.store->ListDeployments(req.Query("job"))) *out.add_deployments() = std::move(dep);
      return RedactedJson(out);
    });
  });
  r->Add("GET", "/v1/deployments/{id}", [d](const HttpRequest& req, const PathParams& p) {
    return ReadJson(req, d, [&]() -> Result<std::string> {
      ORCH_ASSIGN_OR_RETURN(v1::Deployment dep, d.store->GetDeployment(p.at("id")));
      return RedactedJson(dep);
    });
  });
  for (const char* action : {"promote", "pause", "resume", "fail"}) {
    std::string a = action;
    r->Add(
        "POST", "/v1/deployments/{id}/" + a,
        [d, a](const HttpRequest&, const PathParams& p) { return Act(p, d, a); },
        Router::Waits::kNever);
  }
  r->Add("GET", "/v1/jobs/{id}/versions", [d](const HttpRequest& req, const PathParams& p) {
    return ReadJson(req, d, [&]() -> Result<std::string> {
      ORCH_RETURN_IF_ERROR(d.store->GetJob(p.at("id")).status());
      v1::JobVersionList out;
      for (auto& j : d.store->ListJobVersions(p.at("id"))) *out.add_versions() = std::move(j);
      for (auto& dep : d.store->ListDeployments(p.at("id"))) *out.add_deployments() = std::move(dep);
      return RedactedJson(out);
    });
  });
  r->Add(
      "POST", "/v1/jobs/{id}/revert",
      [d](const HttpRequest& req, const PathParams& p) { return Revert(req, p, d); },
      Router::Waits::kNever);
}

}  // namespace orch::master
