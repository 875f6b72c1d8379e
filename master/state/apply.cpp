// The state machine's transitions: one function per Command kind. Each runs
// inside Apply's transaction and must be deterministic: everything it uses
// comes from the command or the current state (time from cmd.time_ms()).
#include <google/protobuf/util/message_differencer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "common/ids.h"
#include "common/net.h"
#include "common/saturating.h"
#include "common/signals.h"
#include "master/model/fit.h"
#include "master/scheduler/feasibility.h"
#include "master/services/service_ports.h"
#include "master/state/agent_report.h"
#include "master/state/meta_table.h"
#include "master/state/state_store.h"
#include "master/validation.h"

namespace orch::master {

Status StateStore::ApplyLocked(uint64_t index, const v1::Command& cmd, Status* outcome) {
  apply_time_ms_ = cmd.time_ms();
  switch (cmd.kind_case()) {
    case v1::Command::kRegisterJob: return ApplyRegisterJob(index, cmd, outcome);
    case v1::Command::kDeregisterJob: return ApplyDeregisterJob(index, cmd, outcome);
    case v1::Command::kRegisterNode: return ApplyRegisterNode(index, cmd, outcome);
    case v1::Command::kNodeStatus: return ApplyNodeStatus(index, cmd, outcome);
    case v1::Command::kUpdateAllocations: return ApplyUpdateAllocations(index, cmd, outcome);
    case v1::Command::kPlan: return ApplyPlan(index, cmd, outcome);
    case v1::Command::kUpdateMember: return ApplyUpdateMember(index, cmd, outcome);
    case v1::Command::kPlanBatch: return ApplyPlanBatch(index, cmd, outcome);
    case v1::Command::kScaleJob: return ApplyScaleJob(index, cmd, outcome);
    case v1::Command::kNodeDrain: return ApplyNodeDrain(index, cmd, outcome);
    case v1::Command::kEvaluate: return ApplyEvaluate(index, cmd, outcome);
    case v1::Command::kDeploymentUpdate: return ApplyDeploymentUpdate(index, cmd, outcome);
    case v1::Command::kAllocAction: return ApplyAllocAction(index, cmd, outcome);
    case v1::Command::kGc: return ApplyGc(index, cmd, outcome);
    case v1::Command::kAcl:
      return ApplyAcl(index, cmd, outcome);
    case v1::Command::kRestoreSnapshot:
      return ApplyRestoreChunk(index, cmd, outcome);
    case v1::Command::kPeriodicLaunch:
      return ApplyPeriodicLaunch(index, cmd, outcome);
    case v1::Command::KIND_NOT_SET: break;
  }
  // An unknown command (from a newer master) must not stop the log.
  *outcome = Status::InvalidArgument("unknown command kind " + std::to_string(cmd.kind_case()));
  spdlog::warn("state: index {}: {}", index, outcome->message());
  return Status::Ok();
}

namespace {

// The state index at which capacity last grew (UnblockEvaluations): kept in
// the meta table, so every master and every snapshot agree.
constexpr const char* kUnblockKey = "unblock_index";

// Whether two versions of a job ask for the same thing: equal but for the
// fields the masters own.
bool SameSpec(v1::Job a, v1::Job b) {
  for (v1::Job* j : {&a, &b}) {
    j->clear_version();
    j->clear_status();
    j->clear_stop();
    j->clear_create_index();
    j->clear_modify_index();
    j->clear_submit_time_ms();
    j->clear_stable();
  }
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

}  // namespace

Status StateStore::ApplyRegisterJob(uint64_t index, const v1::Command& cmd, Status* outcome) {
  return ApplyRegisterJobCommand(index, cmd.time_ms(), cmd.register_job(), outcome);
}

Status StateStore::ApplyRegisterJobCommand(uint64_t index, int64_t time_ms, const v1::RegisterJobCommand& c,
                                           Status* outcome) {
  v1::Job job = c.job();
  auto old = LoadOne<v1::Job>("jobs", job.id());
  if (HasServices(job)) {
    // Services are cluster-wide: assign the cluster ports the job leaves
    // open and re-check its claims against the jobs as they are now (the
    // proposer's check may have raced another submit). A refused job
    // changes nothing; the proposer answers with the reason.
    ServicePortRange range;
    if (c.service_port_first() > 0 && c.service_port_last() >= c.service_port_first()) {
      range = {c.service_port_first(), c.service_port_last()};
    }
    Status st = AssignServicePorts(&job, old ? &*old : nullptr, PortsTakenLocked(job.id(), range), range);
    if (st.ok()) st = ValidateServiceClaims(job, ConflictingClaimsLocked(job));
    if (!st.ok()) {
      spdlog::info("state: index {}: job {} refused: {}", index, job.id(), st.message());
      *outcome = st;
      return Status::Ok();
    }
  }
  if (old && !old->stop() && SameSpec(*old, job)) {
    // An identical resubmit: nothing to do (the proposer sees that the job's
    // modify index is older than its entry and answers "unchanged").
    return Status::Ok();
  }
  job.set_version(old ? old->version() + 1 : 0);
  job.set_create_index(old ? old->create_index() : index);
  job.set_modify_index(index);
  job.set_submit_time_ms(time_ms);
  job.set_stop(false);
  job.clear_status();
  job.clear_stable();
  if (!job.parent_id().empty() && c.parent_modify_index() > 0) {
    // A dispatched child: its parent must still be the version it was made
    // from, running.
    auto parent = LoadOne<v1::Job>("jobs", job.parent_id());
    if (!parent || parent->stop() || parent->modify_index() != c.parent_modify_index()) {
      *outcome = Status::FailedPrecondition("job \"" + job.parent_id() +
                                            "\" changed or stopped during the dispatch");
      return Status::Ok();
    }
    if (old) {
      *outcome = Status::AlreadyExists("job \"" + job.id() + "\" exists already");
      return Status::Ok();
    }
  }
  ORCH_RETURN_IF_ERROR(PutJob(job, "JobRegistered"));
  ORCH_RETURN_IF_ERROR(TrackPeriodicLocked(job, old ? &*old : nullptr, time_ms));
  ORCH_RETURN_IF_ERROR(RecordJobVersion(index, time_ms, job, old ? &*old : nullptr, c));
  v1::Evaluation eval = c.eval();
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
  ORCH_RETURN_IF_ERROR(PutJob(*job, "JobDeregistered"));
  ORCH_RETURN_IF_ERROR(CancelActiveDeployment(index, cmd.time_ms(), c.job_id(), "the job was stopped"));
  // Purged: the job, its versions and deployments go now; the evaluation
  // (which finds no job) stops its allocations, collected once terminal.
  if (c.purge()) ORCH_RETURN_IF_ERROR(DeleteJobLocked(c.job_id(), /*everything=*/false));
  v1::Evaluation eval = c.eval();
  eval.set_job_id(c.job_id());
  eval.set_status(v1::Evaluation::PENDING);
  eval.set_create_index(index);
  eval.set_modify_index(index);
  return PutEvaluation(eval);
}

Status StateStore::ApplyRegisterNode(uint64_t index, const v1::Command& cmd, Status* outcome) {
  v1::Node node = cmd.register_node().node();
  // The final word on what is stored (a command written around the REST
  // checks changes nothing).
  Status st = ValidateNodeFields(node);
  if (st.ok() && !node.address().empty()) st = ValidateHttpBaseUrl(node.address()).WithContext("node.address");
  if (!st.ok()) {
    spdlog::info("state: index {}: node {} refused: {}", index, node.id().substr(0, 64), st.message());
    *outcome = st;
    return Status::Ok();
  }
  auto old = LoadOne<v1::Node>("nodes", node.id());
  if (old) {
    if (Status owner = CheckNodeOwner(*old, node); !owner.ok()) {
      spdlog::warn("state: index {}: node {}: {}", index, ShortId(node.id()), owner.message());
      *outcome = owner;
      return Status::Ok();
    }
  }
  node.set_create_index(old ? old->create_index() : index);
  node.set_modify_index(index);
  node.set_status(v1::Node::READY);
  node.set_last_heartbeat_ms(cmd.time_ms());
  node.clear_allocated();
  ORCH_RETURN_IF_ERROR(PutNode(node, "NodeRegistered"));
  return UnblockEvaluations(index);
}

Status StateStore::UnblockEvaluations(uint64_t index) {
  // Marked, for a plan computed before this index that blocks an
  // evaluation (ApplyOnePlan: it is retried instead).
  ORCH_RETURN_IF_ERROR(WriteMeta(db_.get(), kUnblockKey, static_cast<int64_t>(index)));
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
    auto allocs = LoadMany<v1::Allocation>(
        "SELECT data FROM allocations WHERE node_id=? AND terminal=0", {c.node_id()});
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
    const v1::Allocation before = *a;
    ApplyAgentReport(u, &*a);
    TrackDeploymentHealth(before, cmd.time_ms(), &*a);
    // The agent re-sends its allocations' state every 10 s with their
    // measured use (kept in memory by the leader, not here): a report that
    // changes nothing writes nothing, wakes no watcher, makes no event.
    if (google::protobuf::util::MessageDifferencer::Equals(before, *a)) continue;
    a->set_modify_index(index);
    a->set_modify_time_ms(cmd.time_ms());
    ORCH_RETURN_IF_ERROR(PutAllocation(*a, /*agent_report=*/true));
  }
  for (v1::Evaluation e : c.evals()) {
    e.set_status(v1::Evaluation::PENDING);
    e.set_create_index(index);
    e.set_modify_index(index);
    ORCH_RETURN_IF_ERROR(PutEvaluation(e));
  }
  return Status::Ok();
}

Status StateStore::ApplyAllocAction(uint64_t index, const v1::Command& cmd, Status* outcome) {
  const auto& c = cmd.alloc_action();
  auto a = LoadOne<v1::Allocation>("allocations", c.alloc_id());
  if (!a) {
    *outcome = Status::NotFound("allocation \"" + c.alloc_id() + "\" not found");
    return Status::Ok();
  }
  if (!IsLive(*a)) {
    *outcome = Status::FailedPrecondition("allocation " + ShortId(a->id()) + " is not running (" +
                                          v1::Allocation::ClientStatus_Name(a->client_status()) + ", desired " +
                                          v1::Allocation::DesiredStatus_Name(a->desired_status()) + ")");
    return Status::Ok();
  }
  if (!c.task().empty() && c.action() != v1::AllocActionCommand::STOP) {
    bool known = false;
    for (const auto& t : a->task_group().tasks()) known = known || t.name() == c.task();
    if (!known) {
      *outcome = Status::NotFound("allocation " + ShortId(a->id()) + " has no task \"" + c.task() + "\"");
      return Status::Ok();
    }
  }
  if (c.action() == v1::AllocActionCommand::RESTART) {
    a->set_restart_index(index);
    a->set_restart_task(c.task());
  } else if (c.action() == v1::AllocActionCommand::SIGNAL) {
    const std::string name = SignalName(c.signal());
    if (name.empty()) {
      *outcome = Status::InvalidArgument("signal \"" + c.signal().substr(0, 32) +
                                         "\" is not one a task may be sent (e.g. SIGHUP, SIGUSR1, SIGTERM)");
      return Status::Ok();
    }
    a->set_signal_index(index);
    a->set_signal_task(c.task());
    a->set_signal(name);
  } else if (c.action() == v1::AllocActionCommand::STOP) {
    a->set_desired_status(v1::Allocation::STOP);
    a->set_desired_description("stopped by an operator");
    if (!c.eval().id().empty()) {
      v1::Evaluation e = c.eval();
      e.set_job_id(a->job_id());
      e.set_status(v1::Evaluation::PENDING);
      e.set_create_index(index);
      e.set_modify_index(index);
      ORCH_RETURN_IF_ERROR(PutEvaluation(e));
    }
  } else {
    *outcome = Status::InvalidArgument("unknown allocation action");
    return Status::Ok();
  }
  a->set_modify_index(index);
  a->set_modify_time_ms(cmd.time_ms());
  return PutAllocation(*a);
}

// --- Scheduler commands -------------------------------------------------

Status StateStore::PutNewEvaluations(uint64_t index,
                                     const google::protobuf::RepeatedPtrField<v1::Evaluation>& evals) {
  for (v1::Evaluation e : evals) {
    e.set_status(v1::Evaluation::PENDING);
    e.set_create_index(index);
    e.set_modify_index(index);
    ORCH_RETURN_IF_ERROR(PutEvaluation(e));
  }
  return Status::Ok();
}

namespace {

NodeRoom RoomOf(const v1::Node& n) {
  return {n.capacity().cpu(),     n.allocated().cpu(), n.capacity().memory(),
          n.allocated().memory(), n.capacity().disk(), n.allocated().disk()};
}

std::vector<int32_t> PortsOf(const v1::Allocation& a) {
  std::vector<int32_t> out;
  for (const auto& p : a.ports()) {
    if (p.value() > 0) out.push_back(p.value());
  }
  return out;
}

}  // namespace

// A node as the plans of one entry change it: claims and ports in use.
struct StateStore::PlanNodes {
  struct Now {
    v1::Node node;
    std::vector<int32_t> ports;
    sched::NodeRec volumes;  // only its volume_claims are used
  };
  std::map<std::string, Now> by_id;

  // An allocation of a cached node stops: its claims and ports free up.
  void Release(const v1::Allocation& a) {
    auto it = by_id.find(a.node_id());
    if (it == by_id.end() || !IsLive(a)) return;
    auto* alloc = it->second.node.mutable_allocated();
    alloc->set_cpu(SatSub(alloc->cpu(), a.resources().cpu()));
    alloc->set_memory(SatSub(alloc->memory(), a.resources().memory()));
    alloc->set_disk(SatSub(alloc->disk(), a.resources().disk()));
    for (int32_t p : PortsOf(a)) {
      auto pi = std::find(it->second.ports.begin(), it->second.ports.end(), p);
      if (pi != it->second.ports.end()) it->second.ports.erase(pi);
    }
    std::erase_if(it->second.volumes.volume_claims,
                  [&](const sched::VolumeClaim& v) { return v.alloc_id == a.id(); });
  }
};

Status StateStore::ApplyPlan(uint64_t index, const v1::Command& cmd, Status* outcome) {
  PlanNodes nodes;
  return ApplyOnePlan(index, cmd.time_ms(), cmd.plan(), outcome, &nodes);
}

Status StateStore::ApplyPlanBatch(uint64_t index, const v1::Command& cmd, Status* outcome) {
  // Each plan stands alone: a rejected part of one does not fail the entry
  // (it gets its follow-up evaluation); the proposer hears the first one.
  PlanNodes nodes;  // loaded once per entry, not once per plan
  for (const auto& p : cmd.plan_batch().plans()) {
    Status one;
    ORCH_RETURN_IF_ERROR(ApplyOnePlan(index, cmd.time_ms(), p, &one, &nodes));
    if (!one.ok() && outcome != nullptr && outcome->ok()) *outcome = one;
  }
  return Status::Ok();
}

Status StateStore::ApplyOnePlan(uint64_t index, int64_t time_ms, const v1::PlanCommand& p, Status* outcome,
                                PlanNodes* cache) {
  auto eval = LoadOne<v1::Evaluation>("evaluations", p.eval_id());
  auto job = LoadOne<v1::Job>("jobs", p.job_id());
  if (!eval || eval->status() != v1::Evaluation::PENDING) {
    *outcome = Status::FailedPrecondition("evaluation " + p.eval_id() + " is no longer pending");
    return Status::Ok();
  }
  for (const auto& id : p.coalesced_eval_ids()) {
    auto e = LoadOne<v1::Evaluation>("evaluations", id);
    if (!e || e->status() != v1::Evaluation::PENDING) continue;
    e->set_status(v1::Evaluation::COMPLETE);
    e->set_status_description("coalesced into evaluation " + ShortId(p.eval_id()));
    e->set_modify_index(index);
    ORCH_RETURN_IF_ERROR(PutEvaluation(*e));
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
    cache->Release(*a);
    a->set_desired_status(v1::Allocation::STOP);
    a->set_desired_description(p.stop_reason());
    a->set_modify_index(index);
    a->set_modify_time_ms(time_ms);
    ORCH_RETURN_IF_ERROR(PutAllocation(*a));
  }
  std::optional<v1::Deployment> deployment;
  if (job && (p.update_in_place_size() > 0 || p.place_size() > 0)) deployment = ActiveDeploymentLocked(job->id());
  for (const std::string& id : p.update_in_place()) {
    auto a = LoadOne<v1::Allocation>("allocations", id);
    if (!a || !job || !IsLive(*a) || a->job_id() != job->id()) continue;
    const v1::TaskGroup* group = nullptr;
    for (const auto& g : job->groups()) {
      if (g.name() == a->group()) group = &g;
    }
    if (group == nullptr) continue;
    a->set_job_version(job->version());
    *a->mutable_task_group() = *group;
    JoinActiveDeployment(deployment, true, time_ms, &*a);
    a->set_modify_index(index);
    a->set_modify_time_ms(time_ms);
    ORCH_RETURN_IF_ERROR(PutAllocation(*a));
  }
  for (int i = 0; i < p.preempt_size(); ++i) {
    auto a = LoadOne<v1::Allocation>("allocations", p.preempt(i));
    if (!a || a->desired_status() == v1::Allocation::STOP) continue;
    std::string by = i < p.preempted_by_size() ? p.preempted_by(i) : "";
    cache->Release(*a);
    a->set_desired_status(v1::Allocation::STOP);
    a->set_desired_description("preempted by higher-priority allocation " + ShortId(by) + " of job " +
                               p.job_id());
    a->set_preempted_by(by);
    a->set_modify_index(index);
    a->set_modify_time_ms(time_ms);
    ORCH_RETURN_IF_ERROR(PutAllocation(*a));
  }
  // Optimistic concurrency: re-check every placement against the node as it
  // is now (after this plan's stops), counting the placements of this plan
  // accepted so far: cpu, memory and ports must fit, the node must be ready.
  auto& nodes = cache->by_id;
  std::vector<std::string> rejected;
  for (v1::Allocation a : p.place()) {
    // Plans name job, version and group; the task group the agent runs is
    // filled in here from the stored job (the version the scheduler read:
    // job_modify_index was checked above), the same on every master.
    const v1::TaskGroup* group = nullptr;
    if (!a.has_task_group()) {
      if (!job || job->id() != a.job_id() || job->version() != a.job_version()) {
        rejected.push_back(a.name() + ": job " + a.job_id() + " version " + std::to_string(a.job_version()) +
                           " is no longer stored");
        continue;
      }
      for (const auto& g : job->groups()) {
        if (g.name() == a.group()) group = &g;
      }
      if (group == nullptr) {
        rejected.push_back(a.name() + ": job " + a.job_id() + " has no group \"" + a.group() + "\"");
        continue;
      }
    }
    auto it = nodes.find(a.node_id());
    if (it == nodes.end()) {
      auto n = LoadOne<v1::Node>("nodes", a.node_id());
      if (!n) {
        rejected.push_back(a.name() + ": node " + ShortId(a.node_id()) + " no longer exists");
        continue;
      }
      // What the node's live allocations claim is kept in memory; their
      // ports and volumes are read (its finished work holds nothing).
      SetAllocatedLocked(&*n);
      auto on_node = LoadMany<v1::Allocation>(
          "SELECT data FROM allocations WHERE node_id=? AND terminal=0", {n->id()});
      PlanNodes::Now now{*n, {}, {}};
      for (const auto& o : on_node) {
        if (!IsLive(o)) continue;
        for (int32_t port : PortsOf(o)) now.ports.push_back(port);
        for (auto& v : sched::VolumeClaimsOf(o.task_group(), o.id()))
          now.volumes.volume_claims.push_back(std::move(v));
      }
      it = nodes.emplace(a.node_id(), std::move(now)).first;
    }
    v1::Node& n = it->second.node;
    const v1::TaskGroup& tg = group != nullptr ? *group : a.task_group();
    sched::Request vols;
    vols.volumes = sched::VolumeClaimsOf(tg, a.id());
    std::string why;
    if (n.status() != v1::Node::READY) {
      why = "is " + v1::Node::Status_Name(n.status());
    } else if (std::string no = job ? sched::StaticInfeasible(n, *job, tg) : ""; !no.empty()) {
      why = "cannot take it: " + no;  // the scheduler's own check, on the node as it is now
    } else if (!sched::VolumesFit(it->second.volumes, vols)) {
      why = "has a single writer on a volume the allocation writes";
    } else if (Fit f = ResourcesFit(RoomOf(n), a.resources().cpu(), a.resources().memory(),
                                    a.resources().disk());
               f != Fit::kOk) {
      why = std::string("cannot take it: ") + FitReason(f);  // the scheduler's own check
    } else {
      auto mine = PortsOf(a);
      for (size_t i = 0; i < mine.size() && why.empty(); ++i) {
        bool taken = std::find(it->second.ports.begin(), it->second.ports.end(), mine[i]) != it->second.ports.end() ||
                     std::find(mine.begin(), mine.begin() + static_cast<long>(i), mine[i]) !=
                         mine.begin() + static_cast<long>(i);
        if (taken) why = "has port " + std::to_string(mine[i]) + " in use";
      }
    }
    if (!why.empty()) {
      rejected.push_back(a.name() + ": node " + ShortId(a.node_id()) + " " + why);
      continue;
    }
    n.mutable_allocated()->set_cpu(SatAdd(n.allocated().cpu(), a.resources().cpu()));
    n.mutable_allocated()->set_memory(SatAdd(n.allocated().memory(), a.resources().memory()));
    n.mutable_allocated()->set_disk(SatAdd(n.allocated().disk(), a.resources().disk()));
    for (int32_t port : PortsOf(a)) it->second.ports.push_back(port);
    for (auto& v : vols.volumes) it->second.volumes.volume_claims.push_back(std::move(v));
    if (group != nullptr) *a.mutable_task_group() = *group;
    if (job && job->id() == a.job_id()) {
      *a.mutable_job_meta() = job->meta();
      a.set_parent_job_id(job->parent_id());
      a.set_payload(job->payload());
    }
    a.set_desired_status(v1::Allocation::RUN);
    a.set_client_status(v1::Allocation::PENDING);
    a.set_create_index(index);
    a.set_modify_index(index);
    a.set_create_time_ms(time_ms);
    a.set_modify_time_ms(time_ms);
    JoinActiveDeployment(deployment, false, time_ms, &a);
    ORCH_RETURN_IF_ERROR(PutAllocation(a));
  }
  ORCH_RETURN_IF_ERROR(PutNewEvaluations(index, p.evals()));
  if (!rejected.empty()) {
    spdlog::warn("state: index {}: plan for job {} partly rejected ({} of {}): {}", index, p.job_id(),
                 rejected.size(), p.place_size(), rejected.front());
    *outcome = Status::FailedPrecondition("plan partly rejected: " + rejected.front());
    if (p.followup_eval_id().empty()) {
      // Retried by the scheduler with fresh state.
      eval->set_status(v1::Evaluation::PENDING);
      eval->set_status_description("placements rejected: " + rejected.front());
      eval->set_modify_index(index);
      return PutEvaluation(*eval);
    }
    eval->set_status(v1::Evaluation::COMPLETE);
    eval->set_status_description(std::to_string(rejected.size()) + " placement(s) rejected (" + rejected.front() +
                                 "); follow-up evaluation " + ShortId(p.followup_eval_id()));
    eval->set_modify_index(index);
    ORCH_RETURN_IF_ERROR(PutEvaluation(*eval));
    v1::Evaluation f;
    f.set_id(p.followup_eval_id());
    f.set_job_id(p.job_id());
    f.set_triggered_by(eval->triggered_by());
    f.set_node_id(eval->node_id());
    f.set_status(v1::Evaluation::PENDING);
    f.set_status_description("follow-up of " + ShortId(p.eval_id()) + ": placements rejected on apply");
    f.set_create_index(index);
    f.set_modify_index(index);
    return PutEvaluation(f);
  }
  if (p.eval_status() == v1::Evaluation::BLOCKED) {
    // Capacity grew after the evaluation was last written: the plan may
    // have been computed without it (a node registered while the pass
    // read), and that node's unblocking found the evaluation still
    // pending. Blocked now, it would wait for the next capacity change;
    // it is evaluated again instead (once: its modify index moves past).
    ORCH_ASSIGN_OR_RETURN(std::optional<int64_t> unblocked, ReadMeta(db_.get(), kUnblockKey));
    if (unblocked && eval->modify_index() < static_cast<uint64_t>(*unblocked)) {
      eval->set_status(v1::Evaluation::PENDING);
      eval->set_status_description("capacity changed while it was evaluated; retrying");
      eval->set_modify_index(index);
      return PutEvaluation(*eval);
    }
  }
  eval->set_status(p.eval_status());
  eval->set_status_description(p.eval_description());
  eval->set_modify_index(index);
  return PutEvaluation(*eval);
}

Status StateStore::ApplyScaleJob(uint64_t index, const v1::Command& cmd, Status* outcome) {
  const auto& c = cmd.scale_job();
  auto job = LoadOne<v1::Job>("jobs", c.job_id());
  if (!job || job->stop()) {
    *outcome = Status::NotFound("job \"" + c.job_id() + "\" not found" + (job ? " (stopped)" : ""));
    return Status::Ok();
  }
  v1::TaskGroup* group = nullptr;
  for (auto& g : *job->mutable_groups()) {
    if (g.name() == c.group()) group = &g;
  }
  if (group == nullptr) {
    *outcome = Status::NotFound("job \"" + c.job_id() + "\" has no group \"" + c.group() + "\"");
    return Status::Ok();
  }
  if (c.count() < 0) {
    *outcome = Status::InvalidArgument("count: must not be negative");
    return Status::Ok();
  }
  // Same version: the running allocations stay, only the count changes.
  group->set_count(c.count());
  job->set_modify_index(index);
  ORCH_RETURN_IF_ERROR(PutJob(*job));
  {
    // The version's history entry and its deployment follow the count.
    auto versions = LoadMany<v1::Job>("SELECT data FROM job_versions WHERE job_id=? AND version=?",
                                      {job->id(), std::to_string(job->version())});
    for (auto& v : versions) {
      for (auto& g : *v.mutable_groups()) {
        if (g.name() == c.group()) g.set_count(c.count());
      }
      ORCH_ASSIGN_OR_RETURN(auto up, db_->Prepare("UPDATE job_versions SET data=? WHERE job_id=? AND version=?"));
      up.BindBlob(1, v.SerializeAsString());
      up.Bind(2, v.id());
      up.Bind(3, static_cast<int64_t>(v.version()));
      ORCH_RETURN_IF_ERROR(up.Run());
    }
    auto d = ActiveDeploymentLocked(job->id());
    if (d && d->job_version() == job->version()) {
      for (auto& g : *d->mutable_groups()) {
        if (g.name() == c.group()) g.set_desired_total(c.count());
      }
      d->set_modify_index(index);
      ORCH_RETURN_IF_ERROR(PutDeployment(*d));
    }
  }
  v1::Evaluation e = c.eval();
  e.set_job_id(c.job_id());
  e.set_status(v1::Evaluation::PENDING);
  e.set_create_index(index);
  e.set_modify_index(index);
  return PutEvaluation(e);
}

Status StateStore::ApplyNodeDrain(uint64_t index, const v1::Command& cmd, Status* outcome) {
  const auto& c = cmd.node_drain();
  auto node = LoadOne<v1::Node>("nodes", c.node_id());
  if (!node) {
    *outcome = Status::NotFound("node \"" + c.node_id() + "\" not found");
    return Status::Ok();
  }
  if (c.enable()) {
    if (node->status() == v1::Node::DOWN) {
      *outcome = Status::FailedPrecondition("node \"" + c.node_id() + "\" is down");
      return Status::Ok();
    }
    node->set_status(v1::Node::DRAINING);
    *node->mutable_drain() = c.drain();
    node->mutable_drain()->set_started_ms(cmd.time_ms());
  } else {
    if (node->status() == v1::Node::DRAINING) node->set_status(v1::Node::READY);
    node->clear_drain();
  }
  node->set_modify_index(index);
  ORCH_RETURN_IF_ERROR(PutNode(*node, "NodeDrain"));
  ORCH_RETURN_IF_ERROR(PutNewEvaluations(index, c.evals()));
  if (!c.enable()) return UnblockEvaluations(index);
  return Status::Ok();
}

Status StateStore::ApplyEvaluate(uint64_t index, const v1::Command& cmd, Status*) {
  return PutNewEvaluations(index, cmd.evaluate().evals());
}

}  // namespace orch::master
