#include "master/http/lifecycle_api.h"

#include <spdlog/spdlog.h>

#include "common/document.h"
#include "common/ids.h"
#include "common/json.h"
#include "common/signals.h"
#include "master/model/secrets.h"
#include "orch/v1/api.pb.h"

namespace orch::master {
namespace {

HttpResponse Act(const HttpRequest& req, const PathParams& p, const ApiDeps& d,
                 v1::AllocActionCommand::Action action) {
  const std::string& id = p.at("id");
  v1::Command cmd;
  auto* c = cmd.mutable_alloc_action();
  c->set_alloc_id(id);
  c->set_action(action);
  if (action == v1::AllocActionCommand::RESTART) {
    v1::AllocRestartRequest body;
    if (!req.body.empty()) {
      Status st = ParseDocument(req.body, &body);
      if (!st.ok()) return HttpResponse::Error(st);
    }
    c->set_task(body.task());
  } else if (action == v1::AllocActionCommand::SIGNAL) {
    v1::AllocSignalRequest body;
    Status st = ParseDocument(req.body, &body);
    if (st.ok() && SignalName(body.signal()).empty()) {
      st = Status::InvalidArgument("signal: \"" + body.signal().substr(0, 32) +
                                   "\" is not one a task may be sent (e.g. SIGHUP, SIGUSR1, SIGTERM)");
    }
    if (!st.ok()) return HttpResponse::Error(st);
    c->set_task(body.task());
    c->set_signal(body.signal());
  } else {
    c->mutable_eval()->set_id(NewUuid());
    c->mutable_eval()->set_triggered_by(v1::Evaluation::ALLOC_FAILED);
  }
  auto alloc = d.store->GetAllocation(id);
  if (!alloc.ok()) return HttpResponse::Error(alloc.status());
  c->mutable_eval()->set_job_id(alloc->job_id());
  return ProposeThen(d, std::move(cmd),
                     [id, job_id = alloc->job_id(), action, task = c->task(),
                      eval_id = c->eval().id()](const Result<uint64_t>& index) {
                       if (!index.ok()) return HttpResponse::Error(index.status());
                       spdlog::info("alloc {} of job {}: {} by an operator{} (index {})",
                                    ShortId(id), job_id,
                                    v1::AllocActionCommand::Action_Name(action),
                                    task.empty() ? "" : ", task " + task, *index);
                       v1::AllocActionResponse resp;
                       resp.set_alloc_id(id);
                       resp.set_index(*index);
                       if (action == v1::AllocActionCommand::STOP) resp.set_eval_id(eval_id);
                       return HttpResponse::Json(200, RedactedJson(resp));
                     });
}

}  // namespace

void RegisterLifecycleRoutes(Router* r, const ApiDeps& d) {
  r->Add(
      "POST", "/v1/allocations/{id}/restart",
      [d](const HttpRequest& req, const PathParams& p) {
        return Act(req, p, d, v1::AllocActionCommand::RESTART);
      },
      Router::Waits::kNever);
  r->Add(
      "POST", "/v1/allocations/{id}/signal",
      [d](const HttpRequest& req, const PathParams& p) {
        return Act(req, p, d, v1::AllocActionCommand::SIGNAL);
      },
      Router::Waits::kNever);
  r->Add(
      "POST", "/v1/allocations/{id}/stop",
      [d](const HttpRequest& req, const PathParams& p) {
        return Act(req, p, d, v1::AllocActionCommand::STOP);
      },
      Router::Waits::kNever);
}

}  // namespace orch::master
