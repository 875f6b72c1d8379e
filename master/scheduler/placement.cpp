#include "master/scheduler/placement.h"

#include <algorithm>
#include <map>
#include <set>

#include "master/state/state_store.h"

namespace orch::master {

v1::Resources GroupResources(const v1::TaskGroup& g) {
  v1::Resources r;
  for (const auto& t : g.tasks()) {
    r.set_cpu(r.cpu() + t.resources().cpu());
    r.set_memory(r.memory() + t.resources().memory());
  }
  return r;
}

namespace {

bool HasDriver(const v1::Node& n, const std::string& driver) {
  const auto& d = n.attributes().drivers();
  return std::find(d.begin(), d.end(), driver) != d.end();
}

// Why `n` cannot take `g`, or "" when it can.
std::string Infeasible(const v1::Node& n, const v1::TaskGroup& g, const v1::Resources& need,
                       const v1::Resources& extra) {
  if (n.status() != v1::Node::READY) return "not ready";
  for (const auto& t : g.tasks()) {
    if (!HasDriver(n, t.driver())) return "no " + t.driver() + " driver";
  }
  if (n.allocated().cpu() + extra.cpu() + need.cpu() > n.capacity().cpu()) return "cpu exhausted";
  if (n.allocated().memory() + extra.memory() + need.memory() > n.capacity().memory()) {
    return "memory exhausted";
  }
  return "";
}

}  // namespace

v1::PlanCommand ComputePlan(const SchedulerInput& in) {
  v1::PlanCommand plan;
  plan.set_eval_id(in.eval.id());
  plan.set_job_id(in.eval.job_id());
  plan.set_eval_status(v1::Evaluation::COMPLETE);
  if (!in.job_exists || in.job.stop()) {
    plan.set_stop_reason("job stopped");
    for (const auto& a : in.allocs) {
      if (a.desired_status() == v1::Allocation::RUN) plan.add_stop(a.id());
    }
    plan.set_eval_description(in.job_exists ? "job stopped" : "job not found");
    if (in.job_exists) plan.set_job_modify_index(in.job.modify_index());
    return plan;
  }
  const v1::Job& job = in.job;
  plan.set_job_modify_index(job.modify_index());

  // Resources this plan has already claimed per node.
  std::map<std::string, v1::Resources> claimed;
  std::vector<std::string> unplaced;
  std::set<std::string> stopped;
  for (const auto& a : in.allocs) {
    bool known_group = std::any_of(job.groups().begin(), job.groups().end(),
                                   [&](const v1::TaskGroup& g) { return g.name() == a.group(); });
    // Allocations of an older version, or of a group that is gone, are replaced.
    if (IsLive(a) && (a.job_version() != job.version() || !known_group)) {
      plan.add_stop(a.id());
      stopped.insert(a.id());
    }
  }
  plan.set_stop_reason("replaced by job version " + std::to_string(job.version()));

  for (const auto& g : job.groups()) {
    std::vector<const v1::Allocation*> live;
    std::set<int> used_slots;
    int finished = 0;
    for (const auto& a : in.allocs) {
      if (a.group() != g.name() || a.job_version() != job.version() || stopped.count(a.id())) continue;
      if (IsLive(a)) {
        live.push_back(&a);
        auto lb = a.name().rfind('['), rb = a.name().rfind(']');
        if (lb != std::string::npos && rb != std::string::npos && rb > lb + 1) {
          used_slots.insert(std::atoi(a.name().substr(lb + 1, rb - lb - 1).c_str()));
        }
      } else if (job.type() == v1::Job::BATCH && a.desired_status() == v1::Allocation::RUN &&
                 (a.client_status() == v1::Allocation::COMPLETE ||
                  a.client_status() == v1::Allocation::FAILED)) {
        // A batch allocation that ran to its end is done, whatever its exit.
        ++finished;
      }
    }
    int want = g.count() - static_cast<int>(live.size()) - finished;
    if (want < 0) {
      // Scale down: stop the highest-numbered allocations.
      std::sort(live.begin(), live.end(),
                [](const v1::Allocation* x, const v1::Allocation* y) { return x->name() > y->name(); });
      for (int i = 0; i < -want; ++i) plan.add_stop(live[static_cast<std::size_t>(i)]->id());
      continue;
    }
    v1::Resources need = GroupResources(g);
    int slot = 0;
    for (int i = 0; i < want; ++i) {
      const v1::Node* best = nullptr;
      int64_t best_free = -1;
      std::map<std::string, int> reasons;
      for (const auto& n : in.nodes) {
        std::string why = Infeasible(n, g, need, claimed[n.id()]);
        if (!why.empty()) {
          ++reasons[why];
          continue;
        }
        int64_t free_mem = n.capacity().memory() - n.allocated().memory() - claimed[n.id()].memory();
        if (free_mem > best_free) {
          best_free = free_mem;
          best = &n;
        }
      }
      while (used_slots.count(slot)) ++slot;
      std::string name = job.id() + "." + g.name() + "[" + std::to_string(slot) + "]";
      if (best == nullptr) {
        std::string why = in.nodes.empty() ? "no nodes registered" : "";
        for (const auto& [r, c] : reasons) {
          why += (why.empty() ? "" : ", ") + std::to_string(c) + " node(s) " + r;
        }
        unplaced.push_back(name + ": " + why);
        ++slot;
        continue;
      }
      used_slots.insert(slot);
      auto& c = claimed[best->id()];
      c.set_cpu(c.cpu() + need.cpu());
      c.set_memory(c.memory() + need.memory());
      v1::Allocation* a = plan.add_place();
      a->set_id(in.new_id());
      a->set_job_id(job.id());
      a->set_job_version(job.version());
      a->set_group(g.name());
      a->set_node_id(best->id());
      a->set_name(name);
      *a->mutable_resources() = need;
      *a->mutable_task_group() = g;
    }
  }
  if (!unplaced.empty()) {
    plan.set_eval_status(v1::Evaluation::BLOCKED);
    plan.set_eval_description(std::to_string(unplaced.size()) + " allocation(s) could not be placed: " +
                              unplaced.front());
  } else {
    plan.set_eval_description("placed " + std::to_string(plan.place_size()) + ", stopped " +
                              std::to_string(plan.stop_size()));
  }
  return plan;
}

}  // namespace orch::master
