#include "api/orchctl/launch_cmds.h"

#include "api/orchctl/output.h"
#include "common/ids.h"

namespace orch::ctl {
namespace {

Status PrintChild(const Context& ctx, const v1::DispatchJobResponse& resp, const char* what) {
  return PrintMessage(*ctx.out, ctx.format, resp, [&] {
    return std::string(what) + " job " + resp.job_id() + " (eval " + ShortId(resp.eval_id()) +
           ", index " + std::to_string(resp.index()) + ")\n";
  });
}

}  // namespace

Status JobDispatch(const Context& ctx, const std::string& job,
                   const std::map<std::string, std::string>& meta, const std::string& payload) {
  v1::DispatchJobRequest req;
  for (const auto& [k, v] : meta) (*req.mutable_meta())[k] = v;
  req.set_payload(payload);
  ORCH_ASSIGN_OR_RETURN(auto resp, ctx.client->DispatchJob(job, req));
  return PrintChild(ctx, resp, "dispatched");
}

Status JobPeriodicForce(const Context& ctx, const std::string& job) {
  ORCH_ASSIGN_OR_RETURN(auto resp, ctx.client->ForcePeriodicJob(job));
  return PrintChild(ctx, resp, "launched");
}

}  // namespace orch::ctl
