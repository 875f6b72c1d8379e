#include "master/deployments/update_strategy.h"

#include <google/protobuf/util/message_differencer.h>

namespace orch::master {
namespace {

int64_t Ms(const google::protobuf::Duration& d) { return d.seconds() * 1000 + d.nanos() / 1'000'000; }

}  // namespace

RollingUpdate EffectiveUpdate(const v1::Job& job, const v1::TaskGroup& g) {
  RollingUpdate r;
  if (job.type() != v1::Job::SERVICE || !g.has_update()) return r;
  const auto& u = g.update();
  r.max_parallel = u.has_max_parallel() ? u.max_parallel() : 1;
  r.enabled = r.max_parallel > 0;
  if (u.has_min_healthy_time()) r.min_healthy_ms = Ms(u.min_healthy_time());
  if (u.has_healthy_deadline()) r.healthy_deadline_ms = Ms(u.healthy_deadline());
  if (u.has_progress_deadline()) r.progress_deadline_ms = Ms(u.progress_deadline());
  r.auto_revert = u.auto_revert();
  r.checks = u.health_check() != "task_states";
  r.canary = u.canary();
  r.auto_promote = u.auto_promote();
  return r;
}

bool DestructiveChange(const v1::TaskGroup& before, const v1::TaskGroup& after) {
  if (before.tasks_size() != after.tasks_size()) return true;
  for (int i = 0; i < before.tasks_size(); ++i) {
    if (!google::protobuf::util::MessageDifferencer::Equals(before.tasks(i), after.tasks(i))) return true;
  }
  return !google::protobuf::util::MessageDifferencer::Equals(before.network(), after.network());
}

bool JobRolls(const v1::Job& job) {
  for (const auto& g : job.groups()) {
    if (EffectiveUpdate(job, g).enabled) return true;
  }
  return false;
}

bool RunningHealthy(const v1::Allocation& a, bool checks) {
  if (a.desired_status() != v1::Allocation::RUN || a.client_status() != v1::Allocation::RUNNING) return false;
  if (a.task_states_size() == 0) return false;
  for (const auto& t : a.task_states()) {
    if (t.state() != v1::TaskState::RUNNING) return false;
    if (checks && !t.healthy()) return false;
  }
  return true;
}

}  // namespace orch::master
