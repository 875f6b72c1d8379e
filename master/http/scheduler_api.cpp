#include "master/http/scheduler_api.h"

#include <spdlog/spdlog.h>

#include <set>

#include "common/document.h"
#include "common/ids.h"
#include "common/json.h"
#include "master/deployments/job_diff.h"
#include "master/deployments/update_strategy.h"
#include "master/model/secrets.h"
#include "master/scheduler/scheduler.h"
#include "master/validation.h"
#include "orch/v1/api.pb.h"

namespace orch::master {
namespace {

HttpResponse Scale(const HttpRequest& req, const PathParams& p, const ApiDeps& d) {
  const std::string& id = p.at("id");
  v1::ScaleRequest body;
  Status st = ParseDocument(req.body, &body);
  if (!st.ok()) return HttpResponse::Error(st);
  if (body.group().empty()) return HttpResponse::Error(Status::InvalidArgument("group: is required"));
  if (body.count() < 0) return HttpResponse::Error(Status::InvalidArgument("count: must not be negative"));
  auto job = d.store->GetJob(id);
  if (!job.ok()) return HttpResponse::Error(job.status());
  if (job->stop()) return HttpResponse::Error(Status::FailedPrecondition("job \"" + id + "\" is stopped"));
  bool found = false;
  for (const auto& g : job->groups()) found |= g.name() == body.group();
  if (!found) {
    return HttpResponse::Error(Status::NotFound("job \"" + id + "\" has no group \"" + body.group() + "\""));
  }
  if (job->type() == v1::Job::SYSTEM) {
    return HttpResponse::Error(Status::InvalidArgument("job \"" + id + "\" is a system job: it runs on every node"));
  }
  v1::Command cmd;
  auto* c = cmd.mutable_scale_job();
  c->set_job_id(id);
  c->set_group(body.group());
  c->set_count(body.count());
  c->mutable_eval()->set_id(NewUuid());
  c->mutable_eval()->set_job_id(id);
  c->mutable_eval()->set_triggered_by(v1::Evaluation::SCALED);
  return ProposeThen(d, std::move(cmd),
                     [id, group = body.group(), count = body.count(),
                      eval_id = c->eval().id()](const Result<uint64_t>& index) {
                       if (!index.ok()) return HttpResponse::Error(index.status());
                       spdlog::info("job {}: group {} scaled to {} (eval {}, index {})", id, group,
                                    count, ShortId(eval_id), *index);
                       v1::ScaleResponse resp;
                       resp.set_job_id(id);
                       resp.set_eval_id(eval_id);
                       resp.set_index(*index);
                       return HttpResponse::Json(200, RedactedJson(resp));
                     });
}

HttpResponse Plan(const HttpRequest& req, const ApiDeps& d) {
  v1::Job job;
  Status st = ParseDocument(req.body, &job);
  if (st.ok()) st = ValidateJob(&job);
  if (st.ok() && d.acl) st = d.acl->CheckJob(req, acl::Access::kWrite, job.id());
  if (!st.ok()) return HttpResponse::Error(st);
  sched::SchedulerInput in;
  in.eval.set_id("plan");
  in.eval.set_job_id(job.id());
  in.job_exists = true;
  auto old = d.store->GetJob(job.id());
  const v1::Job* running = old.ok() && !old->stop() ? &*old : nullptr;
  v1::JobDiff diff = DiffJobs(running, job);
  // As if submitted now: a changed job is a new version, an unchanged one
  // stays what it is.
  job.set_version(old.ok() ? old->version() + (diff.unchanged() ? 0 : 1) : 0);
  in.job = job;
  if (JobRolls(job) && !diff.unchanged()) {
    // The new version's deployment as it would start: the plan shows its
    // first batch.
    v1::Deployment dep;
    dep.set_id("planned-deployment");
    dep.set_job_id(job.id());
    dep.set_job_version(job.version());
    dep.set_status(v1::Deployment::RUNNING);
    in.deployment = dep;
  }
  in.nodes = d.store->ListNodes();
  if (d.liveness) {
    for (auto& n : in.nodes) *n.mutable_load() = d.liveness->Load(n.id());
  }
  for (auto& a : d.store->ListAllocations()) {
    if (a.job_id() == job.id()) {
      in.allocs.push_back(std::move(a));
    } else if (IsLive(a)) {
      in.other_allocs.push_back(std::move(a));
    }
  }
  for (const auto& j : d.store->ListJobs()) in.priorities[j.id()] = j.priority();
  auto counter = std::make_shared<int>(0);
  in.new_id = [counter] { return "planned-" + std::to_string((*counter)++); };
  in.now_ms = d.clock->NowMs();
  v1::PlanResponse resp;
  sched::ComputePlan(in, &resp);
  *resp.mutable_diff() = std::move(diff);
  return HttpResponse::Json(200, RedactedJson(resp));
}

HttpResponse Drain(const HttpRequest& req, const PathParams& p, const ApiDeps& d) {
  const std::string& id = p.at("id");
  v1::DrainRequest body;
  Status st = ParseDocument(req.body, &body);
  if (!st.ok()) return HttpResponse::Error(st);
  auto node = d.store->GetNode(id);
  if (!node.ok()) return HttpResponse::Error(node.status());
  if (body.enable() && node->status() == v1::Node::DOWN) {
    return HttpResponse::Error(Status::FailedPrecondition("node \"" + id + "\" is down: nothing to drain"));
  }
  int64_t deadline_ms = 0;
  if (body.has_deadline()) {
    int64_t ms = body.deadline().seconds() * 1000 + body.deadline().nanos() / 1'000'000;
    if (ms < 0) return HttpResponse::Error(Status::InvalidArgument("deadline: must not be negative"));
    if (ms > 0) deadline_ms = d.clock->NowMs() + ms;
  }
  v1::Command cmd;
  auto* c = cmd.mutable_node_drain();
  c->set_node_id(id);
  c->set_enable(body.enable());
  c->mutable_drain()->set_deadline_ms(deadline_ms);
  v1::DrainResponse resp;
  resp.set_node_id(id);
  std::set<std::string> jobs;
  for (const auto& a : d.store->ListAllocations("", id)) {
    if (IsLive(a)) jobs.insert(a.job_id());
  }
  if (body.enable()) {
    for (const auto& job : jobs) {
      auto* e = c->add_evals();
      e->set_id(NewUuid());
      e->set_job_id(job);
      e->set_node_id(id);
      e->set_triggered_by(v1::Evaluation::DRAINED);
      resp.add_eval_ids(e->id());
    }
  }
  const std::string deadline =
      deadline_ms ? ", deadline in " + std::to_string((deadline_ms - d.clock->NowMs()) / 1000) + "s"
                  : "";
  return ProposeThen(d, std::move(cmd),
                     [id, enable = body.enable(), moving = jobs.size(), deadline,
                      resp](const Result<uint64_t>& index) mutable {
                       if (!index.ok()) return HttpResponse::Error(index.status());
                       spdlog::info("node {}: drain {} ({} job(s) to move{}; index {})",
                                    ShortId(id), enable ? "started" : "undone", enable ? moving : 0,
                                    deadline, *index);
                       resp.set_index(*index);
                       return HttpResponse::Json(200, RedactedJson(resp));
                     });
}

}  // namespace

void RegisterSchedulerRoutes(Router* r, const ApiDeps& d) {
  r->Add(
      "POST", "/v1/jobs/{id}/scale",
      [d](const HttpRequest& req, const PathParams& p) { return Scale(req, p, d); },
      Router::Waits::kNever);
  r->Add("POST", "/v1/jobs/plan", [d](const HttpRequest& req, const PathParams&) { return Plan(req, d); });
  r->Add(
      "POST", "/v1/nodes/{id}/drain",
      [d](const HttpRequest& req, const PathParams& p) { return Drain(req, p, d); },
      Router::Waits::kNever);
}

}  // namespace orch::master
