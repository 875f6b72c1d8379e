#include "master/state/agent_report.h"

#include <google/protobuf/util/message_differencer.h>

namespace orch::master {

void ApplyAgentReport(const v1::AllocationUpdate& u, v1::Allocation* a) {
  a->set_client_status(u.client_status());
  a->set_client_description(u.client_description());
  *a->mutable_task_states() = u.task_states();
  if (u.ports_size() > 0) *a->mutable_ports() = u.ports();
  a->set_healthy(u.healthy());
}

bool ReportChangesNothing(const v1::AllocationUpdate& u, const v1::Allocation& a) {
  if (!a.deployment_id().empty() &&
      a.deployment_status().health() == v1::AllocDeploymentStatus::HEALTH_UNSPECIFIED) {
    return false;
  }
  v1::Allocation after = a;
  ApplyAgentReport(u, &after);
  return google::protobuf::util::MessageDifferencer::Equals(a, after);
}

}  // namespace orch::master
