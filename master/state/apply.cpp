// The state machine's transitions: one function per Command kind. Each runs
// inside Apply's transaction and must be deterministic: everything it uses
// comes from the command or the current state (time from cmd.time_ms()).
#include <spdlog/spdlog.h>

#include <map>

#include "common/ids.h"
#include "master/state/state_store.h"

namespace orch::master {

Status StateStore::ApplyLocked(uint64_t index, const v1::Command& cmd, Status* outcome) {
  switch (cmd.kind_case()) {
    case v1::Command::kRegisterJob: return ApplyRegisterJob(index, cmd, outcome);
    case v1::Command::kDeregisterJob: return ApplyDeregisterJob(index, cmd, outcome);
    case v1::Command::kRegisterNode: return ApplyRegisterNode(index, cmd, outcome);
    case v1::Command::kNodeStatus: return ApplyNodeStatus(index, cmd, outcome);
    case v1::Command::kUpdateAllocations: return ApplyUpdateAllocations(index, cmd, outcome);
    case v1::Command::kPlan: return ApplyPlan(index, cmd, outcome);
    case v1::Command::kUpdateMember: return ApplyUpdateMember(index, cmd, outcome);
    case v1::Command::KIND_NOT_SET: break;
  }
  // An unknown command (from a newer master) must not stop the log.
  *outcome = Status::InvalidArgument("unknown command kind " + std::to_string(cmd.kind_case()));
  spdlog::warn("state: index {}: {}", index, outcome->message());
  return Status::Ok();
}

Status StateStore::ApplyRegisterJob(uint64_t index, const v1::Command& cmd, Status*) {
  v1::Job job = cmd.register_job().job();
  auto old = LoadOne<v1::Job>("jobs", job.id());
  job.set_version(old ? old->version() + 1 : 0);
  job.set_create_index(old ? old->create_index() : index);
  job.set_modify_index(index);
  job.set_submit_time_ms(cmd.time_ms());
  job.set_stop(false);
  job.clear_status();
  ORCH_RETURN_IF_ERROR(PutJob(job));
  v1::Evaluation eval = cmd.register_job().eval();
  eval.set_job_id(job.id());
  eval.set_status(v1::Evaluation::PENDING);
  eval.set_create_index(index);
  eval.set_modify_index(index);
  return PutEvaluation(eval);
}

Status StateStore::ApplyDeregisterJob(uint64_t index, const v1::Command& cmd, Status* outcome) {
  const auto& c = cmd.deregister_job();
  auto job = LoadOne<v1::Job>("jobs", c.job_id());
  if (!job) {
    *outcome = Status::NotFound("job \"" + c.job_id() + "\" not found");
    return Status::Ok();
  }
  job->set_stop(true);
  job->set_modify_index(index);
  ORCH_RETURN_IF_ERROR(PutJob(*job));
  v1::Evaluation eval = c.eval();
  eval.set_job_id(c.job_id());
  eval.set_status(v1::Evaluation::PENDING);
  eval.set_create_index(index);
  eval.set_modify_index(index);
  return PutEvaluation(eval);
}

Status StateStore::ApplyRegisterNode(uint64_t index, const v1::Command& cmd, Status*) {
  v1::Node node = cmd.register_node().node();
  auto old = LoadOne<v1::Node>("nodes", node.id());
  node.set_create_index(old ? old->create_index() : index);
  node.set_modify_index(index);
  node.set_status(v1::Node::READY);
  node.set_last_heartbeat_ms(cmd.time_ms());
  node.clear_allocated();
  ORCH_RETURN_IF_ERROR(PutNode(node));
  return UnblockEvaluations(index);
}

Status StateStore::UnblockEvaluations(uint64_t index) {
  auto blocked = LoadMany<v1::Evaluation>(
      "SELECT data FROM evaluations WHERE status=" + std::to_string(v1::Evaluation::BLOCKED), {});
  for (auto& e : blocked) {
    e.set_status(v1::Evaluation::PENDING);
    e.set_status_description("capacity changed; retrying");
    e.set_modify_index(index);
    ORCH_RETURN_IF_ERROR(PutEvaluation(e));
  }
  return Status::Ok();
}

Status StateStore::ApplyNodeStatus(uint64_t index, const v1::Command& cmd, Status* outcome) {
  const auto& c = cmd.node_status();
  auto node = LoadOne<v1::Node>("nodes", c.node_id());
  if (!node) {
    *outcome = Status::NotFound("node \"" + c.node_id() + "\" not found");
    return Status::Ok();
  }
  if (node->status() == c.status()) return Status::Ok();
  node->set_status(c.status());
  node->set_modify_index(index);
  ORCH_RETURN_IF_ERROR(PutNode(*node));
  if (c.status() == v1::Node::DOWN) {
    // Its work is lost: the scheduler places replacements elsewhere.
    auto allocs = LoadMany<v1::Allocation>("SELECT data FROM allocations WHERE node_id=?", {c.node_id()});
    for (auto& a : allocs) {
      if (IsTerminal(a)) continue;
      a.set_client_status(v1::Allocation::LOST);
      a.set_desired_status(v1::Allocation::STOP);
      a.set_client_description("node " + ShortId(c.node_id()) + " is down");
      a.set_modify_index(index);
      a.set_modify_time_ms(cmd.time_ms());
      ORCH_RETURN_IF_ERROR(PutAllocation(a));
    }
  }
  for (v1::Evaluation e : c.evals()) {
    e.set_status(v1::Evaluation::PENDING);
    e.set_create_index(index);
    e.set_modify_index(index);
    ORCH_RETURN_IF_ERROR(PutEvaluation(e));
  }
  if (c.status() == v1::Node::READY) return UnblockEvaluations(index);
  return Status::Ok();
}

Status StateStore::ApplyUpdateAllocations(uint64_t index, const v1::Command& cmd, Status*) {
  const auto& c = cmd.update_allocations();
  for (const auto& u : c.updates()) {
    auto a = LoadOne<v1::Allocation>("allocations", u.id());
    if (!a || a->node_id() != c.node_id()) continue;  // not this node's to report
    // A lost allocation stays lost: the node was declared down and the work
    // was replaced; a late report must not resurrect it.
    if (a->client_status() == v1::Allocation::LOST) continue;
    a->set_client_status(u.client_status());
    a->set_client_description(u.client_description());
    *a->mutable_task_states() = u.task_states();
    if (u.ports_size() > 0) *a->mutable_ports() = u.ports();
    a->set_healthy(u.healthy());
    a->set_modify_index(index);
    a->set_modify_time_ms(cmd.time_ms());
    ORCH_RETURN_IF_ERROR(PutAllocation(*a));
  }
  for (v1::Evaluation e : c.evals()) {
    e.set_status(v1::Evaluation::PENDING);
    e.set_create_index(index);
    e.set_modify_index(index);
    ORCH_RETURN_IF_ERROR(PutEvaluation(e));
  }
  return Status::Ok();
}

Status StateStore::ApplyPlan(uint64_t index, const v1::Command& cmd, Status* outcome) {
  const auto& p = cmd.plan();
  auto eval = LoadOne<v1::Evaluation>("evaluations", p.eval_id());
  auto job = LoadOne<v1::Job>("jobs", p.job_id());
  if (!eval || eval->status() != v1::Evaluation::PENDING) {
    *outcome = Status::FailedPrecondition("evaluation " + p.eval_id() + " is no longer pending");
    return Status::Ok();
  }
  if (job && job->modify_index() != p.job_modify_index()) {
    // The job changed after the scheduler read it; a newer evaluation exists.
    eval->set_status(v1::Evaluation::COMPLETE);
    eval->set_status_description("superseded by a newer version of the job");
    eval->set_modify_index(index);
    *outcome = Status::FailedPrecondition("job " + p.job_id() + " changed during scheduling");
    return PutEvaluation(*eval);
  }
  for (const std::string& id : p.stop()) {
    auto a = LoadOne<v1::Allocation>("allocations", id);
    if (!a || a->desired_status() == v1::Allocation::STOP) continue;
    a->set_desired_status(v1::Allocation::STOP);
    a->set_desired_description(p.stop_reason());
    a->set_modify_index(index);
    a->set_modify_time_ms(cmd.time_ms());
    ORCH_RETURN_IF_ERROR(PutAllocation(*a));
  }
  // Optimistic concurrency: re-check every placement against the node as it
  // is now, counting the placements of this plan accepted so far.
  std::map<std::string, v1::Node> nodes;
  std::vector<std::string> rejected;
  for (v1::Allocation a : p.place()) {
    auto it = nodes.find(a.node_id());
    if (it == nodes.end()) {
      auto n = LoadOne<v1::Node>("nodes", a.node_id());
      if (!n) {
        rejected.push_back(a.name() + ": node " + ShortId(a.node_id()) + " no longer exists");
        continue;
      }
      auto on_node = LoadMany<v1::Allocation>("SELECT data FROM allocations WHERE node_id=?", {n->id()});
      DeriveNode(&*n, Pointers(on_node));
      it = nodes.emplace(a.node_id(), *n).first;
    }
    v1::Node& n = it->second;
    bool fits = n.status() == v1::Node::READY &&
                n.allocated().cpu() + a.resources().cpu() <= n.capacity().cpu() &&
                n.allocated().memory() + a.resources().memory() <= n.capacity().memory();
    if (!fits) {
      rejected.push_back(a.name() + ": node " + ShortId(a.node_id()) + " has no room left");
      continue;
    }
    n.mutable_allocated()->set_cpu(n.allocated().cpu() + a.resources().cpu());
    n.mutable_allocated()->set_memory(n.allocated().memory() + a.resources().memory());
    a.set_desired_status(v1::Allocation::RUN);
    a.set_client_status(v1::Allocation::PENDING);
    a.set_create_index(index);
    a.set_modify_index(index);
    a.set_create_time_ms(cmd.time_ms());
    a.set_modify_time_ms(cmd.time_ms());
    ORCH_RETURN_IF_ERROR(PutAllocation(a));
  }
  if (!rejected.empty()) {
    // Retried by the scheduler with fresh state.
    eval->set_status(v1::Evaluation::PENDING);
    eval->set_status_description("placements rejected: " + rejected.front());
    eval->set_modify_index(index);
    *outcome = Status::FailedPrecondition("plan partly rejected: " + rejected.front());
    return PutEvaluation(*eval);
  }
  eval->set_status(p.eval_status());
  eval->set_status_description(p.eval_description());
  eval->set_modify_index(index);
  return PutEvaluation(*eval);
}

}  // namespace orch::master
