#include "master/scheduler/reconcile.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>

#include "master/deployments/update_strategy.h"
#include "master/model/allocation.h"
#include "master/scheduler/reschedule.h"

namespace orch::master::sched {
namespace {

int SlotOf(const std::string& name) {
  auto lb = name.rfind('['), rb = name.rfind(']');
  if (lb == std::string::npos || rb == std::string::npos || rb <= lb + 1) return -1;
  return std::atoi(name.substr(lb + 1, rb - lb - 1).c_str());
}

enum class Where { kOk, kDraining, kDrainExpired, kGone };

Where NodeState(const NodeTable& t, const std::string& node_id, int64_t now_ms) {
  int i = t.IndexOf(node_id);
  if (i < 0) return Where::kGone;
  const v1::Node& n = t.node(static_cast<uint32_t>(i));
  if (n.status() != v1::Node::DRAINING) return Where::kOk;
  if (n.drain().deadline_ms() > 0 && now_ms >= n.drain().deadline_ms()) return Where::kDrainExpired;
  return Where::kDraining;
}

}  // namespace

int ReplaceBudget(const v1::Job& job, const v1::TaskGroup& group, const std::vector<v1::Allocation>& allocs,
                  const v1::Deployment* deployment) {
  RollingUpdate r = EffectiveUpdate(job, group);
  if (!r.enabled || deployment == nullptr || deployment->job_version() != job.version()) return -1;
  if (deployment->status() != v1::Deployment::RUNNING) return 0;
  int in_flight = 0;
  for (const auto& a : allocs) {
    if (a.deployment_id() == deployment->id() && a.group() == group.name() && IsLive(a) &&
        a.deployment_status().health() != v1::AllocDeploymentStatus::HEALTHY) {
      ++in_flight;
    }
  }
  return std::max(0, r.max_parallel - in_flight);
}

Reconciliation Reconcile(const v1::Job* job, const std::vector<v1::Allocation>& allocs, const NodeTable& table,
                         int64_t now_ms, const v1::Deployment* deployment) {
  Reconciliation out;
  // A periodic or parameterized job runs nothing itself: its children do.
  const bool launcher = job != nullptr && (job->has_periodic() || job->has_parameterized());
  if (job == nullptr || job->stop() || launcher) {
    out.stop_reason = launcher ? "the job launches children instead" : "job stopped";
    for (const auto& a : allocs) {
      if (a.desired_status() == v1::Allocation::RUN && !IsTerminal(a)) out.stop.push_back(&a);
    }
    return out;
  }
  std::set<const v1::Allocation*> stopped;
  std::map<std::string, const v1::Allocation*> by_id;
  for (const auto& a : allocs) by_id[a.id()] = &a;
  std::vector<std::string> reasons;
  auto stop = [&](const v1::Allocation* a, const std::string& why) {
    if (stopped.insert(a).second) {
      out.stop.push_back(a);
      if (std::find(reasons.begin(), reasons.end(), why) == reasons.end()) reasons.push_back(why);
    }
  };
  const bool active = deployment != nullptr && deployment->job_version() == job->version() &&
                      (deployment->status() == v1::Deployment::RUNNING ||
                       deployment->status() == v1::Deployment::PAUSED);
  // Canaries: those of the active deployment stand beside the old
  // allocations and count for nothing; any other canary stops.
  std::map<std::string, std::vector<const v1::Allocation*>> canaries;  // group -> live canaries
  for (const auto& a : allocs) {
    if (!IsLive(a) || !a.deployment_status().canary()) continue;
    if (active && a.deployment_id() == deployment->id()) {
      canaries[a.group()].push_back(&a);
    } else {
      stop(&a, "canary of a deployment that ended unpromoted");
    }
  }
  // Slots live allocations of the current version hold (no canaries).
  std::map<std::string, std::set<int>> current_slots;
  for (const auto& a : allocs) {
    if (IsLive(a) && a.job_version() == job->version() && !a.deployment_status().canary()) {
      current_slots[a.group()].insert(SlotOf(a.name()));
    }
  }
  std::map<std::string, std::vector<Slot>> canary_places;  // group -> canaries to place
  std::set<const v1::Allocation*> in_place;
  // Old allocations a rolling update replaces later: they keep serving and
  // count as live meanwhile.
  std::set<const v1::Allocation*> deferred;
  std::map<std::string, std::vector<const v1::Allocation*>> to_replace;  // group -> old allocations
  // Replaced now, by group and slot: a group with a sticky ephemeral disk
  // names them as its new allocations' previous ones (to take their data).
  std::map<std::string, std::map<int, const v1::Allocation*>> replaced;
  for (const auto& a : allocs) {
    auto g = std::find_if(job->groups().begin(), job->groups().end(),
                          [&](const v1::TaskGroup& g) { return g.name() == a.group(); });
    if (!IsLive(a) || stopped.count(&a) || (a.job_version() == job->version() && g != job->groups().end())) {
      continue;
    }
    // A system job's group has no count to reconcile against; its
    // allocations follow the same rule.
    if (g != job->groups().end() && a.has_task_group() && !DestructiveChange(a.task_group(), *g)) {
      in_place.insert(&a);
      continue;
    }
    if (g == job->groups().end()) {
      stop(&a, "group removed in job version " + std::to_string(job->version()));
      continue;
    }
    to_replace[a.group()].push_back(&a);
  }
  for (auto& [name, olds] : to_replace) {
    const v1::TaskGroup* g = nullptr;
    for (const auto& tg : job->groups()) {
      if (tg.name() == name) g = &tg;
    }
    int budget = ReplaceBudget(*job, *g, allocs, deployment);
    // Those not serving anyway go first, then by name.
    std::sort(olds.begin(), olds.end(), [](const v1::Allocation* x, const v1::Allocation* y) {
      bool xs = x->client_status() == v1::Allocation::RUNNING && x->healthy();
      bool ys = y->client_status() == v1::Allocation::RUNNING && y->healthy();
      if (xs != ys) return !xs;
      return x->name() < y->name();
    });
    const v1::DeploymentGroup* dg = nullptr;
    if (active) {
      for (const auto& x : deployment->groups()) {
        if (x.name() == name) dg = &x;
      }
    }
    if (dg != nullptr && dg->desired_canaries() > 0 && !dg->promoted()) {
      // Awaiting promotion: every old allocation keeps serving; the missing
      // canaries are placed (not while paused), each named after an old
      // allocation's slot it will take over.
      std::set<std::string> taken;
      for (const auto* c : canaries[name]) taken.insert(c->name());
      int missing = dg->desired_canaries() - static_cast<int>(canaries[name].size());
      for (const auto* a : olds) {
        deferred.insert(a);
        if (missing > 0 && deployment->status() == v1::Deployment::RUNNING && !taken.count(a->name())) {
          canary_places[name].push_back(Slot{a->name(), "", true, {}});
          taken.insert(a->name());
          --missing;
        }
      }
      continue;
    }
    for (const auto* a : olds) {
      if (current_slots[name].count(SlotOf(a->name()))) {
        // A promoted canary holds its slot: nothing to place for it.
        stop(a, "replaced by job version " + std::to_string(job->version()) + " (a promoted canary)");
        continue;
      }
      if (budget == 0) {
        deferred.insert(a);
        continue;
      }
      if (budget > 0) --budget;
      stop(a, "replaced by job version " + std::to_string(job->version()));
      if (g->ephemeral_disk().sticky() || g->ephemeral_disk().migrate())
        replaced[name][SlotOf(a->name())] = a;
    }
  }
  for (const auto& g : job->groups()) {
    GroupNeeds need;
    need.group = &g;
    std::vector<const v1::Allocation*> live;
    std::set<int> used_slots;
    std::set<int> finished_slots;
    std::map<int, const v1::Allocation*> last_ended;  // newest terminal allocation per slot
    for (const auto& a : allocs) {
      if (a.group() != g.name() || stopped.count(&a) || (IsLive(a) && a.deployment_status().canary())) continue;
      if (a.job_version() != job->version() && !in_place.count(&a) && !deferred.count(&a)) continue;
      int slot = SlotOf(a.name());
      if (IsLive(a)) {
        live.push_back(&a);
        used_slots.insert(slot);
        continue;
      }
      if (a.desired_status() == v1::Allocation::STOP && a.client_status() != v1::Allocation::LOST) continue;
      auto& le = last_ended[slot];
      if (le == nullptr || a.modify_index() > le->modify_index()) le = &a;
      if (job->type() == v1::Job::BATCH && a.client_status() == v1::Allocation::COMPLETE) {
        finished_slots.insert(slot);
      }
    }
    // Failed work is replaced by the group's reschedule policy: given up
    // after its attempts, and not before its delay.
    const RescheduleRule rule = EffectiveReschedule(*job, g);
    std::set<int> waiting_slots;
    std::map<int, std::vector<v1::RescheduleEvent>> history;
    for (const auto& [slot, le] : last_ended) {
      if (used_slots.count(slot) || finished_slots.count(slot) || le->client_status() != v1::Allocation::FAILED) {
        continue;
      }
      RescheduleDecision d = DecideReschedule(rule, *le, now_ms);
      if (d.give_up) {
        finished_slots.insert(slot);
        if (std::find(reasons.begin(), reasons.end(), "reschedule attempts exhausted") == reasons.end()) {
          reasons.push_back("reschedule attempts exhausted");
        }
      } else if (now_ms < d.at_ms) {
        waiting_slots.insert(slot);
        if (out.reschedule_at_ms == 0 || d.at_ms < out.reschedule_at_ms) out.reschedule_at_ms = d.at_ms;
      } else {
        history[slot] = std::move(d.events);
      }
    }
    // Migration off draining nodes (and off nodes that no longer exist).
    int in_flight = 0;
    for (const auto* a : live) {
      if (a->previous_allocation().empty() || a->client_status() == v1::Allocation::RUNNING) continue;
      auto prev = by_id.find(a->previous_allocation());
      if (prev != by_id.end() && NodeState(table, prev->second->node_id(), now_ms) != Where::kOk) ++in_flight;
    }
    int budget = std::max(1, g.migrate().max_parallel()) - in_flight;
    std::vector<const v1::Allocation*> keep;
    std::sort(live.begin(), live.end(),
              [](const v1::Allocation* x, const v1::Allocation* y) { return x->name() < y->name(); });
    for (const auto* a : live) {
      Where w = NodeState(table, a->node_id(), now_ms);
      bool move = w == Where::kGone || w == Where::kDrainExpired || (w == Where::kDraining && budget > 0);
      if (w == Where::kDraining && budget > 0) --budget;
      if (move && job->type() != v1::Job::SYSTEM) {
        stop(a, w == Where::kGone ? "node is gone" : "node draining: migrated");
        ++out.migrating;
        need.place.push_back(Slot{a->name(), a->id(), false, {}});
        continue;
      }
      if (move || (job->type() == v1::Job::SYSTEM && w == Where::kDraining)) {
        stop(a, "node draining");
        continue;
      }
      keep.push_back(a);
    }
    if (job->type() == v1::Job::SYSTEM) {
      need.staying = keep;
      int s = 0;
      for (int u : used_slots) s = std::max(s, u + 1);
      need.next_slot = s;
      out.groups.push_back(std::move(need));
      continue;
    }
    int want = g.count() - static_cast<int>(keep.size()) - static_cast<int>(need.place.size());
    for (int s : finished_slots) {
      if (!used_slots.count(s) && s < g.count()) --want;
    }
    for (int s : waiting_slots) {
      if (s < g.count()) --want;
    }
    if (want < 0) {
      // Scale down: the highest slots stop first (migrations count as live).
      int drop = -want;
      while (drop > 0 && !need.place.empty()) {
        need.place.pop_back();
        --drop;
      }
      for (auto it = keep.rbegin(); it != keep.rend() && drop > 0; ++it, --drop) stop(*it, "scaled down");
      std::vector<const v1::Allocation*> rest;
      for (const auto* a : keep) {
        if (!stopped.count(a)) rest.push_back(a);
      }
      keep = rest;
    }
    int slot = 0;
    for (int i = 0; i < want; ++i) {
      while (used_slots.count(slot) || finished_slots.count(slot) || waiting_slots.count(slot)) ++slot;
      Slot s;
      s.name = job->id() + "." + g.name() + "[" + std::to_string(slot) + "]";
      auto le = last_ended.find(slot);
      if (le != last_ended.end()) s.previous = le->second->id();
      if (auto r = replaced[g.name()].find(slot);
          s.previous.empty() && r != replaced[g.name()].end()) {
        s.previous = r->second->id();
      }
      auto h = history.find(slot);
      if (h != history.end()) s.reschedule_events = h->second;
      need.place.push_back(std::move(s));
      used_slots.insert(slot);
    }
    need.staying = keep;
    for (auto& s : canary_places[g.name()]) need.place.push_back(std::move(s));
    out.groups.push_back(std::move(need));
  }
  for (const auto* a : in_place) {
    if (!stopped.count(a)) out.update_in_place.push_back(a);
  }
  std::sort(out.update_in_place.begin(), out.update_in_place.end(),
            [](const v1::Allocation* x, const v1::Allocation* y) { return x->id() < y->id(); });
  for (size_t i = 0; i < reasons.size(); ++i) out.stop_reason += (i ? "; " : "") + reasons[i];
  return out;
}

}  // namespace orch::master::sched
