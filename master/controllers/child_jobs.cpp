#include "master/controllers/child_jobs.h"

#include <algorithm>
#include <set>

namespace orch::master {

std::string PeriodicChildId(const std::string& parent, int64_t launch_ms) {
  return parent + "/periodic-" + std::to_string(launch_ms / 1000);
}

std::string DispatchChildId(const std::string& parent, int64_t now_ms, const std::string& suffix) {
  return parent + "/dispatch-" + std::to_string(now_ms / 1000) + "-" + suffix;
}

v1::Job MakeChildJob(const v1::Job& parent, const std::string& child_id,
                     const std::map<std::string, std::string>& meta, const std::string& payload) {
  v1::Job child = parent;
  child.set_id(child_id);
  child.set_parent_id(parent.id());
  child.clear_periodic();
  child.clear_parameterized();
  child.clear_status();
  child.clear_stop();
  child.clear_version();
  child.clear_create_index();
  child.clear_modify_index();
  child.clear_submit_time_ms();
  child.clear_stable();
  for (const auto& [k, v] : meta) (*child.mutable_meta())[k] = v;
  child.set_payload(payload);
  return child;
}

v1::RegisterJobCommand RegisterChild(const v1::Job& child, const std::string& eval_id) {
  v1::RegisterJobCommand c;
  *c.mutable_job() = child;
  c.mutable_eval()->set_id(eval_id);
  c.mutable_eval()->set_job_id(child.id());
  c.mutable_eval()->set_triggered_by(v1::Evaluation::JOB_REGISTER);
  return c;
}

v1::PeriodicLaunchCommand MakePeriodicLaunch(const v1::Job& parent, int64_t launch_ms, bool forced,
                                             bool skip, const std::string& eval_id) {
  v1::PeriodicLaunchCommand c;
  c.set_job_id(parent.id());
  c.set_job_modify_index(parent.modify_index());
  c.set_launch_ms(launch_ms);
  c.set_forced(forced);
  if (!skip)
    *c.mutable_child() =
        RegisterChild(MakeChildJob(parent, PeriodicChildId(parent.id(), launch_ms)), eval_id);
  return c;
}

Status CheckDispatch(const v1::Job& parent, const v1::DispatchJobRequest& req) {
  if (!parent.has_parameterized()) {
    return Status::FailedPrecondition("job \"" + parent.id() + "\" is not parameterized");
  }
  if (parent.stop()) return Status::FailedPrecondition("job \"" + parent.id() + "\" is stopped");
  const auto& p = parent.parameterized();
  if (req.payload().size() > kMaxDispatchPayload) {
    return Status::InvalidArgument("payload: " + std::to_string(req.payload().size()) +
                                   " bytes, more than the limit of " +
                                   std::to_string(kMaxDispatchPayload));
  }
  if (p.payload() == "required" && req.payload().empty()) {
    return Status::InvalidArgument("payload: job \"" + parent.id() + "\" requires one");
  }
  if (p.payload() == "forbidden" && !req.payload().empty()) {
    return Status::InvalidArgument("payload: job \"" + parent.id() + "\" takes none");
  }
  std::set<std::string> allowed(p.meta_required().begin(), p.meta_required().end());
  allowed.insert(p.meta_optional().begin(), p.meta_optional().end());
  for (const auto& k : p.meta_required()) {
    if (!req.meta().contains(k)) return Status::InvalidArgument("meta: \"" + k + "\" is required");
  }
  std::vector<std::string> keys;
  for (const auto& [k, v] : req.meta()) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  for (const auto& k : keys) {
    if (!allowed.contains(k)) {
      return Status::InvalidArgument("meta: \"" + k.substr(0, 64) +
                                     "\" is not one the job declares (meta_required, " +
                                     "meta_optional)");
    }
    if (req.meta().at(k).size() > 4096)
      return Status::InvalidArgument("meta: \"" + k + "\" is longer than 4096 bytes");
  }
  return Status::Ok();
}

}  // namespace orch::master
