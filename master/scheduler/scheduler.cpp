#include "master/scheduler/scheduler.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/saturating.h"
#include "master/model/allocation.h"
#include "master/scheduler/constraints.h"
#include "master/scheduler/ports.h"
#include "master/scheduler/preemption.h"
#include "master/scheduler/reconcile.h"
#include "master/scheduler/scoring.h"

namespace orch::master::sched {

// One spread of a group: the wanted and current count per attribute value.
struct Scheduler::Spread {
  std::string attribute;
  double weight = 1;
  std::vector<int32_t> value_of;  // per node: value id, -1 none, -2 not resolved yet
  std::map<std::string, int32_t> ids;
  std::vector<double> desired;  // per value id
  std::vector<double> current;  // per value id
};

struct Scheduler::Group {
  const v1::Job* job = nullptr;
  const v1::TaskGroup* g = nullptr;
  Request req;
  NodeTable::Eligible* el = nullptr;
  std::vector<Spread> spreads;
  bool exhausted = false;  // nothing fits any more in this plan
  std::string failure;     // why (when exhausted)
  FilterTally tally;
  int unplaced = 0;
  std::set<uint32_t> group_here;  // system jobs: nodes with the group
};

Scheduler::Scheduler(NodeTable* table, const SchedulerConfig& cfg, std::function<std::string()> new_id)
    : table_(table), cfg_(cfg), new_id_(std::move(new_id)), rng_(cfg.seed ^ 0x5eed) {
  job_here_.assign(table->size(), 0);
  cand_.reserve(256);
}

void Scheduler::Consider(Group& g, uint32_t i) {
  if (CheckFit(table_->at(i), g.req, job_here_[i]) != Fit::kOk) return;
  if (std::find(cand_.begin(), cand_.end(), i) != cand_.end()) return;
  cand_.push_back(i);
}

double Scheduler::Score(Group& g, uint32_t i, v1::PlannedPlacement* explain) {
  const NodeRec& n = table_->at(i);
  ++scored_;
  double wsum = 0, total = 0;
  auto add = [&](const char* term, double w, double s) {
    if (w <= 0) return;
    wsum += w;
    total += w * s;
    if (explain) {
      auto* ps = explain->add_scores();
      ps->set_term(term);
      ps->set_score(s);
      ps->set_weight(w);
    }
  };
  add("binpack", cfg_.w_binpack,
      BinPackScore(n.cpu_cap, n.mem_cap, n.cpu_used, n.mem_used, g.req.cpu, g.req.mem));
  add("balance", cfg_.w_balance,
      BalanceScore(n.cpu_cap, n.mem_cap, n.cpu_used, n.mem_used, g.req.cpu, g.req.mem));
  add("load", cfg_.w_load,
      LoadScore(n.cpu_cap, n.load_cpu + n.pending_cpu, static_cast<double>(g.req.cpu), cfg_.target_load));
  add("anti_affinity", cfg_.w_anti_affinity, AntiAffinityScore(job_here_[i]));
  if (!g.spreads.empty() && cfg_.w_spread > 0) {
    double sw = 0, ss = 0;
    for (auto& sp : g.spreads) {
      int32_t& v = sp.value_of[i];
      if (v == -2) {
        auto val = ResolveAttribute(*n.node, sp.attribute);
        auto it = val ? sp.ids.find(*val) : sp.ids.end();
        v = it == sp.ids.end() ? -1 : it->second;
      }
      double s = v < 0 ? 0 : SpreadScore(sp.desired[static_cast<size_t>(v)], sp.current[static_cast<size_t>(v)]);
      sw += sp.weight;
      ss += sp.weight * s;
    }
    add("spread", cfg_.w_spread, sw > 0 ? ss / sw : 0);
  }
  double score = wsum > 0 ? total / wsum : 0;
  if (explain) explain->set_score(score);
  return score;
}

bool Scheduler::Select(Group& g, Choice* out) {
  auto& el = *g.el;
  cand_.clear();
  // How many nodes may qualify: the eligible ones once all are known; the
  // table's size until then (they are found as the scan reaches them).
  const size_t n = table_->Known(el) ? el.nodes.size() : table_->size();
  if (n == 0) return false;
  size_t k = cfg_.k > 0 ? static_cast<size_t>(cfg_.k)
                        : std::max<size_t>(static_cast<size_t>(std::max(cfg_.min_k, 1)),
                                           static_cast<size_t>(std::ceil(std::log2(static_cast<double>(n)))));
  if (n <= 2 * k) {
    for (uint32_t i : table_->All(el)) Consider(g, i);
  } else {
    auto has = [&](size_t p) { return table_->Reach(el, p); };
    // Nodes before the cursor are (nearly) full: skip them for good.
    while (has(el.cursor)) {
      const NodeRec& r = table_->at(el.nodes[el.cursor]);
      if (r.cpu_free() * 50 >= r.cpu_cap && r.mem_free() * 50 >= r.mem_cap) break;
      ++el.cursor;
    }
    size_t limit = el.cursor + 8 * k + 64;
    for (size_t p = el.cursor; p < limit && cand_.size() < k && has(p); ++p)
      Consider(g, el.nodes[p]);
    if (cand_.empty()) {
      // Rare: the sample found nothing. A random few of every eligible
      // node, then every one before giving up, so whatever can be placed
      // is placed.
      const std::vector<uint32_t>& all = table_->All(el);
      limit = std::min(all.size(), limit);
      for (size_t t = 0; cand_.empty() && !all.empty() && t < 4 * k; ++t)
        Consider(g, all[rng_.Below(all.size())]);
    }
    for (size_t p = 0; cand_.size() < k && has(p); ++p) {
      if (cand_.empty() || p >= limit) Consider(g, el.nodes[p]);
      if (!cand_.empty() && p >= limit) break;
    }
  }
  if (cand_.empty()) return false;
  double best = -1;
  uint32_t best_node = 0;
  for (uint32_t i : cand_) {
    double s = Score(g, i, nullptr);
    if (s > best) {
      best = s;
      best_node = i;
    }
  }
  out->node = best_node;
  out->score = best;
  out->evaluated = static_cast<int>(cand_.size());
  return true;
}

void Scheduler::PlaceAt(Group& g, uint32_t node, const std::string& name, const std::string& previous,
                        double score, int evaluated, v1::PlanCommand* plan, v1::PlanResponse* explain) {
  NodeRec& n = table_->at(node);
  AssignPorts(n, g.g->network(), &rng_, &ports_);
  v1::Allocation* a = plan->add_place();
  a->set_id(new_id_());
  a->set_job_id(g.job->id());
  a->set_job_version(g.job->version());
  a->set_job_type(g.job->type());
  a->set_group(g.g->name());
  a->set_node_id(n.node->id());
  a->set_name(name);
  a->mutable_resources()->set_cpu(g.req.cpu);
  a->mutable_resources()->set_memory(g.req.mem);
  if (g.req.disk > 0) a->mutable_resources()->set_disk(g.req.disk);
  // No copy of the task group: apply fills it from the stored job (a plan
  // of 1,000 placements stays small in the Raft log).
  if (!previous.empty()) a->set_previous_allocation(previous);
  for (int p = 0; p < g.g->network().ports_size(); ++p) {
    v1::Port* port = a->add_ports();
    *port = g.g->network().ports(p);
    port->set_value(ports_[static_cast<size_t>(p)]);
  }
  if (explain) {
    auto* pp = explain->add_placements();
    pp->set_name(name);
    pp->set_group(g.g->name());
    pp->set_node_id(n.node->id());
    pp->set_node_name(n.node->name());
    pp->set_nodes_evaluated(evaluated);
    pp->set_previous_allocation(previous);
    *pp->mutable_ports() = a->ports();
    Score(g, node, pp);  // the terms as they were when chosen
    if (score >= 0) pp->set_score(score);
  }
  Resident r;
  r.alloc_id = a->id();
  r.job = g.req.job;
  r.priority = g.job->priority();
  r.cpu = g.req.cpu;
  r.mem = g.req.mem;
  r.disk = g.req.disk;
  r.ports = ports_;
  r.volumes = g.req.volumes;
  table_->Place(node, std::move(r));
  if (job_here_[node]++ == 0) touched_.push_back(node);
  for (auto& sp : g.spreads) {
    int32_t& v = sp.value_of[node];
    if (v == -2) {
      auto val = ResolveAttribute(*n.node, sp.attribute);
      auto it = val ? sp.ids.find(*val) : sp.ids.end();
      v = it == sp.ids.end() ? -1 : it->second;
    }
    if (v >= 0) sp.current[static_cast<size_t>(v)] += 1;
  }
}

FilterTally Scheduler::Tally(Group& g, const std::vector<uint32_t>* only) {
  FilterTally t;
  auto one = [&](uint32_t i) {
    const NodeRec& n = table_->at(i);
    std::string why = StaticInfeasible(*n.node, *g.job, *g.g);
    if (why.empty()) why = FitReason(CheckFit(n, g.req, job_here_[i]));
    t.Add(why);
  };
  if (only) {
    for (uint32_t i : *only) one(i);
  } else {
    for (uint32_t i = 0; i < table_->size(); ++i) one(i);
  }
  return t;
}

bool Scheduler::TryPreempt(Group& g, const std::vector<uint32_t>& nodes, const std::string& name,
                           const std::string& previous, v1::PlanCommand* plan, v1::PlanResponse* explain) {
  if (!table_->track_residents() || g.job->priority() < cfg_.preemption_gap) return false;
  auto p = FindPreemption(*table_, nodes, g.req, g.job->priority(), cfg_.preemption_gap);
  if (!p) return false;
  for (const auto& v : p->victims) {
    table_->Release(p->node, v.alloc_id, v.cpu, v.mem, v.disk, v.ports);
  }
  int before = plan->place_size();
  PlaceAt(g, p->node, name, previous, -1, 1, plan, explain);
  if (plan->place_size() == before) return false;
  const std::string& by = plan->place(before).id();
  for (const auto& v : p->victims) {
    plan->add_preempt(v.alloc_id);
    plan->add_preempted_by(by);
    if (explain) {
      auto* pe = explain->add_preemptions();
      pe->set_alloc_id(v.alloc_id);
      pe->set_node_id(table_->node(p->node).id());
      pe->set_priority(v.priority);
      pe->set_preempted_by(name);
      pe->set_job_id(table_->JobName(v.job));
    }
    // The preempted job is evaluated again: its work may fit elsewhere.
    const std::string& victim_job = table_->JobName(v.job);
    if (!preempted_jobs_[victim_job]) {
      preempted_jobs_[victim_job] = true;
      auto* e = plan->add_evals();
      e->set_id(new_id_());
      e->set_job_id(victim_job);
      e->set_triggered_by(v1::Evaluation::PREEMPTED);
      e->set_status(v1::Evaluation::PENDING);
    }
  }
  return true;
}

v1::PlanCommand Scheduler::Schedule(const JobInput& in, v1::PlanResponse* explain) {
  v1::PlanCommand plan;
  plan.set_eval_id(in.eval.id());
  plan.set_job_id(in.eval.job_id());
  plan.set_eval_status(v1::Evaluation::COMPLETE);
  if (in.job_exists) plan.set_job_modify_index(in.job.modify_index());
  const v1::Job* job = in.job_exists ? &in.job : nullptr;
  if (explain) {
    explain->set_job_id(in.job.id());
    explain->set_nodes_total(static_cast<int32_t>(table_->size()));
  }
  preempted_jobs_.clear();
  Reconciliation rec = Reconcile(job, in.allocs, *table_, in.now_ms, in.deployment ? &*in.deployment : nullptr);
  plan.set_stop_reason(rec.stop_reason);
  for (const auto* a : rec.update_in_place) {
    plan.add_update_in_place(a->id());
    if (explain) explain->add_updates_in_place(a->id());
  }
  for (const auto* a : rec.stop) {
    plan.add_stop(a->id());
    if (explain) explain->add_stops(a->id());
    int i = table_->IndexOf(a->node_id());
    if (i >= 0) {
      std::vector<int32_t> ports;
      for (const auto& p : a->ports()) ports.push_back(p.value());
      const auto& r = a->resources();
      table_->Release(static_cast<uint32_t>(i), a->id(), r.cpu(), r.memory(), r.disk(), ports);
    }
  }
  if (job == nullptr || job->stop() || job->has_periodic() || job->has_parameterized()) {
    plan.set_eval_description(!job          ? "job not found"
                              : job->stop() ? "job stopped"
                              : job->has_periodic()
                                  ? "periodic job: its launches place the work"
                                  : "parameterized job: its dispatches place the work");
    return plan;
  }
  // The job's live allocations per node (anti-affinity, distinct_hosts).
  for (uint32_t i : touched_) job_here_[i] = 0;
  touched_.clear();
  std::set<const v1::Allocation*> stopping(rec.stop.begin(), rec.stop.end());
  for (const auto& a : in.allocs) {
    if (!IsLive(a) || stopping.count(&a)) continue;
    int i = table_->IndexOf(a.node_id());
    if (i < 0) continue;
    if (job_here_[static_cast<size_t>(i)]++ == 0) touched_.push_back(static_cast<uint32_t>(i));
  }
  uint32_t job_index = table_->InternJob(job->id());
  std::vector<std::string> unplaced;
  for (const GroupNeeds& need : rec.groups) {
    Group g;
    g.job = job;
    g.g = need.group;
    g.req = MakeRequest(*job, *need.group, job_index);
    g.el = &table_->EligibleFor(StaticKey(*job, *need.group), [&](uint32_t i) {
      return StaticInfeasible(table_->node(i), *job, *need.group).empty();
    });
    // Spreads: wanted share per attribute value.
    for (const auto& s : need.group->spread()) {
      Spread sp;
      sp.attribute = s.attribute();
      sp.weight = s.weight() > 0 ? s.weight() : 50;
      sp.value_of.assign(table_->size(), -2);
      for (uint32_t i : table_->All(*g.el)) {
        auto v = ResolveAttribute(table_->node(i), s.attribute());
        if (v && !sp.ids.count(*v)) sp.ids.emplace(*v, static_cast<int32_t>(sp.ids.size()));
      }
      for (const auto& t : s.targets()) {
        if (!sp.ids.count(t.value())) sp.ids.emplace(t.value(), static_cast<int32_t>(sp.ids.size()));
      }
      sp.desired.assign(sp.ids.size(), 0);
      sp.current.assign(sp.ids.size(), 0);
      double total = need.group->count();
      int pct = 0;
      for (const auto& t : s.targets()) {
        pct += t.percent();
        sp.desired[static_cast<size_t>(sp.ids[t.value()])] = total * t.percent() / 100.0;
      }
      size_t others = 0;
      // (Entries, not structured bindings: clang 14, which builds the
      // fuzzers, cannot capture those in a lambda.)
      for (const auto& entry : sp.ids) {
        const std::string& v = entry.first;
        bool targeted = std::any_of(s.targets().begin(), s.targets().end(),
                                    [&](const v1::SpreadTarget& t) { return t.value() == v; });
        if (!targeted) ++others;
      }
      for (const auto& entry : sp.ids) {
        const std::string& v = entry.first;
        const auto id = entry.second;
        bool targeted = std::any_of(s.targets().begin(), s.targets().end(),
                                    [&](const v1::SpreadTarget& t) { return t.value() == v; });
        if (!targeted && others > 0 && pct < 100) {
          sp.desired[static_cast<size_t>(id)] = total * (100 - pct) / 100.0 / static_cast<double>(others);
        }
      }
      for (const auto* a : need.staying) {
        int i = table_->IndexOf(a->node_id());
        if (i < 0) continue;
        auto v = ResolveAttribute(table_->node(static_cast<uint32_t>(i)), s.attribute());
        if (v && sp.ids.count(*v)) sp.current[static_cast<size_t>(sp.ids[*v])] += 1;
      }
      g.spreads.push_back(std::move(sp));
    }
    if (job->type() == v1::Job::SYSTEM) {
      for (const auto* a : need.staying) {
        int i = table_->IndexOf(a->node_id());
        if (i >= 0) g.group_here.insert(static_cast<uint32_t>(i));
      }
      std::vector<uint32_t> nodes = table_->All(*g.el);
      std::sort(nodes.begin(), nodes.end());
      int slot = need.next_slot;
      std::vector<uint32_t> full;
      for (uint32_t i : nodes) {
        if (g.group_here.count(i)) continue;
        std::string name = job->id() + "." + need.group->name() + "[" + std::to_string(slot) + "]";
        if (CheckFit(table_->at(i), g.req, 0) == Fit::kOk) {
          PlaceAt(g, i, name, "", -1, 1, &plan, explain);
          ++slot;
        } else if (TryPreempt(g, {i}, name, "", &plan, explain)) {
          ++slot;
        } else {
          full.push_back(i);
        }
      }
      if (!full.empty()) {
        FilterTally t = Tally(g, &full);
        unplaced.push_back(job->id() + "." + need.group->name() + ": " + std::to_string(full.size()) +
                           " eligible node(s) without room: " + t.Describe());
        if (explain) {
          auto* f = explain->add_failures();
          f->set_group(need.group->name());
          f->set_unplaced(static_cast<int32_t>(full.size()));
          f->set_reason(t.Describe());
          for (const auto& [r, c] : t.counts()) (*f->mutable_filtered())[r] = c;
        }
      }
      continue;
    }
    // A sticky ephemeral disk (migrate implies sticky, as in Nomad): the
    // node of the allocation replaced, when it can take the new one.
    auto sticky_node = [&](Group& grp, const std::string& previous) -> int {
      const auto& disk = grp.g->ephemeral_disk();
      if (previous.empty() || !(disk.sticky() || disk.migrate())) return -1;
      for (const auto& a : in.allocs) {
        if (a.id() != previous) continue;
        int i = table_->IndexOf(a.node_id());
        if (i < 0) return -1;
        const NodeRec& n = table_->at(static_cast<uint32_t>(i));
        if (!n.eligible || !StaticInfeasible(*n.node, *grp.job, *grp.g).empty()) return -1;
        return CheckFit(n, grp.req, job_here_[static_cast<size_t>(i)]) == Fit::kOk ? i : -1;
      }
      return -1;
    };
    for (const Slot& s : need.place) {
      Choice c;
      const int before = plan.place_size();
      auto annotate = [&] {
        if (plan.place_size() <= before) return;
        v1::Allocation* placed = plan.mutable_place(plan.place_size() - 1);
        if (s.canary) placed->mutable_deployment_status()->set_canary(true);
        for (const auto& e : s.reschedule_events) *placed->add_reschedule_events() = e;
      };
      if (int at = sticky_node(g, s.previous); at >= 0) {
        // A sticky ephemeral disk: back on the node that holds its data.
        PlaceAt(g, static_cast<uint32_t>(at), s.name, s.previous, -1, 1, &plan, explain);
        annotate();
        continue;
      }
      if (!g.exhausted && Select(g, &c)) {
        PlaceAt(g, c.node, s.name, s.previous, c.score, c.evaluated, &plan, explain);
        annotate();
        continue;
      }
      if (TryPreempt(g, table_->All(*g.el), s.name, s.previous, &plan, explain)) {
        annotate();
        continue;
      }
      if (!g.exhausted) {
        g.exhausted = true;
        g.tally = Tally(g, nullptr);
      }
      ++g.unplaced;
    }
    if (g.unplaced > 0) {
      std::string why = g.tally.Describe();
      unplaced.push_back(job->id() + "." + need.group->name() + ": " + std::to_string(g.unplaced) +
                         " unplaced; " + why);
      if (explain) {
        auto* f = explain->add_failures();
        f->set_group(need.group->name());
        f->set_unplaced(g.unplaced);
        f->set_reason(why);
        for (const auto& [r, c] : g.tally.counts()) (*f->mutable_filtered())[r] = c;
      }
    }
  }
  if (!unplaced.empty()) {
    plan.set_eval_status(v1::Evaluation::BLOCKED);
    std::string d;
    for (const auto& u : unplaced) d += (d.empty() ? "" : "; ") + u;
    plan.set_eval_description(d);
  } else {
    plan.set_eval_description("placed " + std::to_string(plan.place_size()) + ", stopped " +
                              std::to_string(plan.stop_size()) +
                              (plan.preempt_size() ? ", preempted " + std::to_string(plan.preempt_size()) : ""));
  }
  if (explain) {
    explain->set_summary(plan.eval_description());
  }
  return plan;
}

v1::PlanCommand ComputePlan(const SchedulerInput& in, v1::PlanResponse* explain) {
  std::vector<const v1::Allocation*> live;
  for (const auto& a : in.allocs) {
    if (IsLive(a)) live.push_back(&a);
  }
  for (const auto& a : in.other_allocs) {
    if (IsLive(a) && a.job_id() != in.eval.job_id()) live.push_back(&a);
  }
  std::map<std::string, int32_t> prio = in.priorities;
  if (in.job_exists) prio[in.job.id()] = in.job.priority();
  NodeTable table(
      in.nodes, HoldingsOf(live),
      [&prio](const std::string& job_id) {
        auto it = prio.find(job_id);
        return it == prio.end() ? 0 : it->second;
      },
      in.config);
  Scheduler s(&table, in.config, in.new_id);
  JobInput ji;
  ji.eval = in.eval;
  ji.job_exists = in.job_exists;
  ji.job = in.job;
  ji.allocs = in.allocs;
  ji.now_ms = in.now_ms;
  ji.deployment = in.deployment;
  return s.Schedule(ji, explain);
}

}  // namespace orch::master::sched
