// The scheduler end to end on small clusters: bin-packing, load awareness,
// anti-affinity, spread, ports, preemption, system jobs, drains, lost and
// failed work, scaling, and the plan explanation.
#include "master/scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "sched_util.h"

namespace orch::master::sched {
namespace {

using testing::Claim;
using testing::CountOn;
using testing::Input;
using testing::Job;
using testing::Node;
using testing::Running;

TEST(SchedulerTest, BinPackingPrefersTheFullerNode) {
  auto job = Job("web", 1, 100, 256);
  auto small = Node("small", 4000, 1024);
  auto big = Node("big", 4000, 8192);
  // The bin-packing term alone (the balance term would rather keep "small"
  // from ending memory-full with its cpu free: see the Balance test below).
  auto in = Input(job, {small, big});
  in.config.w_balance = 0;
  auto plan = ComputePlan(in);
  ASSERT_EQ(plan.place_size(), 1);
  EXPECT_EQ(plan.place(0).node_id(), "small");
  EXPECT_EQ(plan.place(0).name(), "web.g[0]");
  EXPECT_EQ(plan.place(0).resources().memory(), 256);
  EXPECT_EQ(plan.eval_status(), v1::Evaluation::COMPLETE);
}

TEST(SchedulerTest, BalancePutsMemoryHeavyWorkWhereCpuHeavyWorkLeftMemory) {
  // 500m / 8 GiB on 16000m / 32 GiB nodes. "mem" (6000m, 20 GiB claimed) is
  // fuller, so bin-packing alone takes it (BestFit v3 0.819 vs 0.785) and
  // strands its cpu; the balance term (alignment 0.617 vs 0.988) sends the
  // request to "cpu" (12000m, 4 GiB claimed), whose memory would otherwise
  // go unused.
  auto job = Job("cache", 1, 500, 8192);
  auto cpu = Node("cpu", 16000, 32768);
  cpu.mutable_allocated()->set_cpu(12000);
  cpu.mutable_allocated()->set_memory(4096);
  auto mem = Node("mem", 16000, 32768);
  mem.mutable_allocated()->set_cpu(6000);
  mem.mutable_allocated()->set_memory(20480);
  auto in = Input(job, {cpu, mem});
  in.config.w_load = 0;
  in.config.w_anti_affinity = 0;
  in.config.w_balance = 0;
  ASSERT_EQ(ComputePlan(in).place_size(), 1);
  EXPECT_EQ(ComputePlan(in).place(0).node_id(), "mem");
  in.config.w_balance = 1;
  EXPECT_EQ(ComputePlan(in).place(0).node_id(), "cpu");
}

TEST(SchedulerTest, NeverOvercommitsWithinOnePlan) {
  auto job = Job("web", 4, 100, 1000);
  auto plan = ComputePlan(Input(job, {Node("a", 8000, 2500), Node("b", 8000, 2500)}));
  ASSERT_EQ(plan.place_size(), 4);
  EXPECT_EQ(CountOn(plan, "a"), 2);
  EXPECT_EQ(CountOn(plan, "b"), 2);
  auto more = ComputePlan(Input(Job("web", 5, 100, 1000), {Node("a", 8000, 2500), Node("b", 8000, 2500)}));
  EXPECT_EQ(more.place_size(), 4);
  EXPECT_EQ(more.eval_status(), v1::Evaluation::BLOCKED);
}

TEST(SchedulerTest, LoadAwareness_BusyNodeIsAvoided) {
  // Two equal nodes; one reports 90% cpu in use.
  auto job = Job("web", 1, 200, 128);
  auto busy = Node("busy", 4000, 4096);
  busy.mutable_load()->set_cpu(3600);
  auto idle = Node("idle", 4000, 4096);
  auto plan = ComputePlan(Input(job, {busy, idle}));
  ASSERT_EQ(plan.place_size(), 1);
  EXPECT_EQ(plan.place(0).node_id(), "idle");
  // Both idle and the plan is the same whichever order the nodes come in.
  busy.mutable_load()->set_cpu(0);
  auto tie = ComputePlan(Input(job, {busy, idle}));
  ASSERT_EQ(tie.place_size(), 1);
}

TEST(SchedulerTest, LoadWeightZeroIgnoresMeasuredLoad) {
  auto job = Job("web", 1, 200, 128);
  auto busy = Node("busy", 4000, 4096);
  busy.mutable_load()->set_cpu(3600);
  busy.mutable_allocated()->set_cpu(1000);  // fuller by claims: bin-packing likes it
  auto idle = Node("idle", 4000, 4096);
  auto in = Input(job, {busy, idle});
  in.config.w_load = 0;
  EXPECT_EQ(ComputePlan(in).place(0).node_id(), "busy");
  in.config.w_load = 1;
  EXPECT_EQ(ComputePlan(in).place(0).node_id(), "idle");
}

TEST(SchedulerTest, AntiAffinitySpreadsAJobOverEqualNodes) {
  auto job = Job("web", 3, 100, 64);
  auto in = Input(job, {Node("a"), Node("b"), Node("c")});
  in.config.w_binpack = 0;
  in.config.w_load = 0;
  auto plan = ComputePlan(in);
  ASSERT_EQ(plan.place_size(), 3);
  EXPECT_EQ(CountOn(plan, "a"), 1);
  EXPECT_EQ(CountOn(plan, "b"), 1);
  EXPECT_EQ(CountOn(plan, "c"), 1);
}

TEST(SchedulerTest, SpreadEvenOverZones) {
  std::vector<v1::Node> nodes;
  for (const char* id : {"a1", "a2", "a3", "b1", "c1"}) {
    auto n = Node(id);
    (*n.mutable_attributes()->mutable_labels())["zone"] = std::string(1, id[0]);
    nodes.push_back(n);
  }
  auto job = Job("web", 6, 100, 64);
  job.mutable_groups(0)->add_spread()->set_attribute("${meta.zone}");
  auto plan = ComputePlan(Input(job, nodes));
  ASSERT_EQ(plan.place_size(), 6);
  std::map<char, int> per_zone;
  for (const auto& a : plan.place()) per_zone[a.node_id()[0]]++;
  EXPECT_EQ(per_zone['a'], 2);
  EXPECT_EQ(per_zone['b'], 2);
  EXPECT_EQ(per_zone['c'], 2);
}

TEST(SchedulerTest, SpreadTargetsArePercentages) {
  std::vector<v1::Node> nodes;
  for (const char* id : {"a1", "a2", "b1", "b2"}) {
    auto n = Node(id);
    (*n.mutable_attributes()->mutable_labels())["zone"] = std::string(1, id[0]);
    nodes.push_back(n);
  }
  auto job = Job("web", 4, 100, 64);
  auto* s = job.mutable_groups(0)->add_spread();
  s->set_attribute("label.zone");
  auto* t = s->add_targets();
  t->set_value("a");
  t->set_percent(75);
  t = s->add_targets();
  t->set_value("b");
  t->set_percent(25);
  auto in = Input(job, nodes);
  in.config.w_spread = 4;  // let the spread dominate
  auto plan = ComputePlan(in);
  int in_a = 0;
  for (const auto& a : plan.place()) in_a += a.node_id()[0] == 'a';
  EXPECT_EQ(in_a, 3);
}

TEST(SchedulerTest, DistinctHostsAndConstraintsExplainWhy) {
  auto job = Job("web", 3, 100, 64);
  auto* c = job.add_constraints();
  c->set_operator_("distinct_hosts");
  auto win = Node("w");
  win.mutable_attributes()->set_os("windows");
  auto* os = job.add_constraints();
  os->set_attribute("${attr.os}");
  os->set_operator_("=");
  os->set_value("linux");
  auto full = Node("full", 4000, 4096);
  full.mutable_allocated()->set_memory(4096);
  v1::PlanResponse why;
  auto plan = ComputePlan(Input(job, {Node("a"), Node("b"), win, full}), &why);
  EXPECT_EQ(plan.place_size(), 2);
  EXPECT_EQ(plan.eval_status(), v1::Evaluation::BLOCKED);
  ASSERT_EQ(why.failures_size(), 1);
  EXPECT_EQ(why.failures(0).unplaced(), 1);
  EXPECT_EQ(why.failures(0).reason(),
            "4 nodes filtered: 2 distinct_hosts, 1 constraint ${attr.os} = linux, 1 memory exhausted")
      << why.failures(0).reason();
  ASSERT_EQ(why.placements_size(), 2);
  EXPECT_EQ(why.placements(0).scores_size(), 4);  // binpack, balance, load, anti_affinity
  EXPECT_GT(why.placements(0).score(), 0);
}

TEST(SchedulerTest, PortsAreAssignedFromTheNodeRangeWithoutCollisions) {
  auto job = Job("web", 3, 100, 64);
  auto* net = job.mutable_groups(0)->mutable_network();
  net->add_ports()->set_name("http");
  auto* admin = net->add_ports();
  admin->set_name("admin");
  admin->set_static_(9000);
  auto n = Node("n");
  n.set_port_range_min(30000);
  n.set_port_range_max(30003);
  auto plan = ComputePlan(Input(job, {n}));
  // The static port fits once on the node.
  ASSERT_EQ(plan.place_size(), 1);
  EXPECT_EQ(plan.place(0).ports(1).value(), 9000);
  EXPECT_GE(plan.place(0).ports(0).value(), 30000);
  EXPECT_LE(plan.place(0).ports(0).value(), 30003);
  EXPECT_NE(plan.eval_description().find("port collision"), std::string::npos) << plan.eval_description();
  // Dynamic only: four ports in the range, so four allocations, all distinct.
  net->mutable_ports()->RemoveLast();
  job.mutable_groups(0)->set_count(6);
  auto dyn = ComputePlan(Input(job, {n}));
  ASSERT_EQ(dyn.place_size(), 4);
  std::set<int> seen;
  for (const auto& a : dyn.place()) seen.insert(a.ports(0).value());
  EXPECT_EQ(seen.size(), 4u);
  // Default range when the node has none.
  auto def = ComputePlan(Input(Job("x", 1), {Node("m")}));
  (void)def;
}

TEST(SchedulerTest, PreemptsFewestAndLowestPriority) {
  auto n1 = Node("n1", 4000, 4096);
  auto n2 = Node("n2", 4000, 4096);
  // n1: two small low-priority allocations; n2: one big one of priority 30.
  std::vector<v1::Allocation> others;
  auto add = [&](const std::string& id, const std::string& node, const std::string& job, int64_t cpu) {
    v1::Allocation a;
    a.set_id(id);
    a.set_job_id(job);
    a.set_node_id(node);
    a.set_desired_status(v1::Allocation::RUN);
    a.set_client_status(v1::Allocation::RUNNING);
    a.mutable_resources()->set_cpu(cpu);
    a.mutable_resources()->set_memory(100);
    others.push_back(a);
  };
  add("low1", "n1", "batchy", 2000);
  add("low2", "n1", "batchy", 2000);
  add("mid", "n2", "middle", 4000);
  n1.mutable_allocated()->set_cpu(4000);
  n1.mutable_allocated()->set_memory(200);
  n2.mutable_allocated()->set_cpu(4000);
  n2.mutable_allocated()->set_memory(100);
  auto job = Job("urgent", 1, 2000, 512);
  job.set_priority(80);
  auto in = Input(job, {n1, n2});
  in.other_allocs = others;
  in.priorities = {{"batchy", 20}, {"middle", 30}};
  v1::PlanResponse why;
  auto plan = ComputePlan(in, &why);
  ASSERT_EQ(plan.place_size(), 1);
  EXPECT_EQ(plan.place(0).node_id(), "n1");  // one lower (20) victim beats one of 30
  ASSERT_EQ(plan.preempt_size(), 1);
  EXPECT_EQ(plan.preempt(0).substr(0, 3), "low");
  EXPECT_EQ(plan.preempted_by(0), plan.place(0).id());
  ASSERT_EQ(plan.evals_size(), 1);
  EXPECT_EQ(plan.evals(0).job_id(), "batchy");
  EXPECT_EQ(plan.evals(0).triggered_by(), v1::Evaluation::PREEMPTED);
  ASSERT_EQ(why.preemptions_size(), 1);
  EXPECT_EQ(why.preemptions(0).job_id(), "batchy");
  // Too close in priority (under the gap of 10): nothing is preempted.
  job.set_priority(29);
  in.job = job;
  auto none = ComputePlan(in);
  EXPECT_EQ(none.preempt_size(), 0);
  EXPECT_EQ(none.place_size(), 0);
  EXPECT_EQ(none.eval_status(), v1::Evaluation::BLOCKED);
}

TEST(SchedulerTest, SystemJobRunsOncePerEligibleNodeIncludingNewOnes) {
  auto job = Job("agentd", 0, 100, 64);
  job.set_type(v1::Job::SYSTEM);
  auto win = Node("w");
  win.mutable_attributes()->set_os("windows");
  auto* os = job.add_constraints();
  os->set_attribute("${attr.os}");
  os->set_value("linux");
  std::vector<v1::Node> nodes = {Node("a"), Node("b"), win};
  auto first = ComputePlan(Input(job, nodes));
  ASSERT_EQ(first.place_size(), 2);
  EXPECT_EQ(first.eval_status(), v1::Evaluation::COMPLETE);  // windows is filtered, not blocked
  std::set<std::string> names;
  for (const auto& a : first.place()) names.insert(a.name());
  EXPECT_EQ(names.size(), 2u);
  // A node joins: only it gets one.
  nodes.push_back(Node("c"));
  auto again = ComputePlan(Input(job, nodes, {Running(first.place(0)), Running(first.place(1))}));
  ASSERT_EQ(again.place_size(), 1);
  EXPECT_EQ(again.place(0).node_id(), "c");
  EXPECT_EQ(again.stop_size(), 0);
  // A draining node's copy stops.
  nodes[0].set_status(v1::Node::DRAINING);
  auto drained = ComputePlan(Input(job, nodes, {Running(first.place(0)), Running(first.place(1))}));
  EXPECT_EQ(drained.stop_size(), 1);
}

TEST(SchedulerTest, DrainMigratesAtMostMaxParallelAtATime) {
  auto job = Job("web", 6, 100, 64);
  job.mutable_groups(0)->mutable_migrate()->set_max_parallel(2);
  std::vector<v1::Node> nodes = {Node("d"), Node("o")};
  nodes[1].set_status(v1::Node::DOWN);
  auto first = ComputePlan(Input(job, nodes));
  ASSERT_EQ(first.place_size(), 6);
  std::vector<v1::Allocation> allocs;
  for (const auto& a : first.place()) allocs.push_back(Running(a));
  nodes[0].set_status(v1::Node::DRAINING);
  nodes[1].set_status(v1::Node::READY);
  auto step = ComputePlan(Input(job, nodes, allocs));
  EXPECT_EQ(step.stop_size(), 2);
  ASSERT_EQ(step.place_size(), 2);
  EXPECT_EQ(step.place(0).node_id(), "o");
  EXPECT_FALSE(step.place(0).previous_allocation().empty());
  // While those two replacements are pending, nothing else moves.
  for (auto& a : allocs) {
    for (const auto& s : step.stop()) {
      if (a.id() == s) a.set_desired_status(v1::Allocation::STOP);
    }
  }
  for (const auto& p : step.place()) {
    v1::Allocation a = p;
    a.set_desired_status(v1::Allocation::RUN);
    a.set_client_status(v1::Allocation::PENDING);
    allocs.push_back(a);
  }
  auto wait = ComputePlan(Input(job, nodes, allocs));
  EXPECT_EQ(wait.stop_size(), 0);
  EXPECT_EQ(wait.place_size(), 0);
  // Once running, the next two go.
  for (auto& a : allocs) {
    if (a.client_status() == v1::Allocation::PENDING) a.set_client_status(v1::Allocation::RUNNING);
  }
  auto next = ComputePlan(Input(job, nodes, allocs));
  EXPECT_EQ(next.stop_size(), 2);
  EXPECT_EQ(next.place_size(), 2);
  // Past the deadline, everything left goes at once.
  nodes[0].mutable_drain()->set_deadline_ms(1000);
  auto in = Input(job, nodes, allocs);
  in.now_ms = 2000;
  auto all = ComputePlan(in);
  EXPECT_EQ(all.stop_size(), 4);
  EXPECT_EQ(all.place_size(), 4);
}

TEST(SchedulerTest, LostWorkIsReplacedWithItsPredecessorNamed) {
  auto job = Job("web", 2);
  auto first = ComputePlan(Input(job, {Node("a")}));
  ASSERT_EQ(first.place_size(), 2);
  auto lost = Running(first.place(0));
  lost.set_client_status(v1::Allocation::LOST);
  lost.set_desired_status(v1::Allocation::STOP);
  auto plan = ComputePlan(Input(job, {Node("a"), Node("b")}, {lost, Running(first.place(1))}));
  ASSERT_EQ(plan.place_size(), 1);
  EXPECT_EQ(plan.place(0).name(), lost.name());
  EXPECT_EQ(plan.place(0).previous_allocation(), lost.id());
}

// The reconciliation the placeholder had, kept.
TEST(SchedulerTest, NothingToDoWhenCountIsMet) {
  auto job = Job("web", 2);
  auto node = Node("n");
  auto first = ComputePlan(Input(job, {node}));
  ASSERT_EQ(first.place_size(), 2);
  auto again = ComputePlan(Input(job, {node}, {Running(first.place(0)), Running(first.place(1))}));
  EXPECT_EQ(again.place_size(), 0);
  EXPECT_EQ(again.stop_size(), 0);
}

TEST(SchedulerTest, ScaleDownStopsTheHighestSlots) {
  auto job = Job("web", 3);
  auto node = Node("n");
  auto first = ComputePlan(Input(job, {node}));
  job.mutable_groups(0)->set_count(1);
  auto down = ComputePlan(
      Input(job, {node}, {Running(first.place(0)), Running(first.place(1)), Running(first.place(2))}));
  ASSERT_EQ(down.stop_size(), 2);
  EXPECT_EQ(down.place_size(), 0);
  for (const auto& id : down.stop()) EXPECT_NE(id, first.place(0).id());
}

// A planned allocation as the state holds it once running: with the task
// group apply copies from the job.
v1::Allocation RunningOf(const v1::Allocation& planned, const v1::Job& job) {
  v1::Allocation a = Running(planned);
  *a.mutable_task_group() = job.groups(0);
  return a;
}

TEST(SchedulerTest, NewVersionReplacesOldAllocationsInTheRoomTheyFree) {
  auto job = Job("web", 1, 3000, 64);
  auto node = Node("n", 4000, 4096);
  auto first = ComputePlan(Input(job, {node}));
  auto v0 = job;
  job.set_version(1);
  job.mutable_groups(0)->mutable_tasks(0)->set_command("/bin/sleep2");  // what the task runs: destructive
  std::vector<v1::Node> nodes = {node};
  Claim(&nodes, first.place(0));
  auto next = ComputePlan(Input(job, nodes, {RunningOf(first.place(0), v0)}));
  ASSERT_EQ(next.stop_size(), 1);
  ASSERT_EQ(next.place_size(), 1);
  EXPECT_EQ(next.update_in_place_size(), 0);
  EXPECT_EQ(next.place(0).job_version(), 1u);
}

TEST(SchedulerTest, ScalingANewVersionReplacesNothingThatKeepsRunning) {
  auto job = Job("web", 3);
  auto node = Node("n", 16000, 16384);
  std::vector<v1::Node> nodes = {node};
  auto first = ComputePlan(Input(job, nodes));
  ASSERT_EQ(first.place_size(), 3);
  std::vector<v1::Allocation> live;
  for (const auto& a : first.place()) {
    live.push_back(RunningOf(a, job));
    Claim(&nodes, a);
  }
  // 3 -> 5 as a new version (a resubmitted file with another count).
  job.set_version(1);
  job.mutable_groups(0)->set_count(5);
  auto up = ComputePlan(Input(job, nodes, live));
  EXPECT_EQ(up.stop_size(), 0);
  EXPECT_EQ(up.place_size(), 2);
  EXPECT_EQ(up.update_in_place_size(), 3);
  for (const auto& a : up.place()) {
    live.push_back(RunningOf(a, job));
    Claim(&nodes, a);
  }
  for (auto& a : live) a.set_job_version(1);  // as apply moves them
  // 5 -> 2: the three highest slots stop, the two others stay untouched.
  job.set_version(2);
  job.mutable_groups(0)->set_count(2);
  auto down = ComputePlan(Input(job, nodes, live));
  EXPECT_EQ(down.stop_size(), 3);
  EXPECT_EQ(down.place_size(), 0);
  ASSERT_EQ(down.update_in_place_size(), 2);
  std::set<std::string> kept(down.update_in_place().begin(), down.update_in_place().end());
  for (const auto& id : down.stop()) EXPECT_FALSE(kept.count(id)) << id;
}

TEST(SchedulerTest, InPlaceVersusDestructiveChanges) {
  auto base = Job("web", 1);
  auto planned = ComputePlan(Input(base, {Node("n")})).place(0);
  auto plan_for = [&](void (*change)(v1::Job*)) {
    auto job = base;
    job.set_version(1);
    change(&job);
    return ComputePlan(Input(job, {Node("n")}, {RunningOf(planned, base)}));
  };
  // Nothing the running task sees: in place.
  for (auto change : {+[](v1::Job* j) {
                        auto* c = j->mutable_groups(0)->add_constraints();
                        c->set_attribute("os");
                        c->set_value("linux");
                      },
                      +[](v1::Job* j) { j->mutable_groups(0)->mutable_update()->set_max_parallel(2); },
                      +[](v1::Job* j) { j->mutable_groups(0)->mutable_restart()->set_attempts(9); },
                      +[](v1::Job* j) { j->set_priority(70); }}) {
    auto p = plan_for(change);
    EXPECT_EQ(p.stop_size(), 0);
    EXPECT_EQ(p.place_size(), 0);
    EXPECT_EQ(p.update_in_place_size(), 1);
  }
  // What a task runs: replaced.
  for (auto change : {+[](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->add_args("x"); },
                      +[](v1::Job* j) { (*j->mutable_groups(0)->mutable_tasks(0)->mutable_env())["A"] = "1"; },
                      +[](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->mutable_resources()->set_cpu(200); },
                      +[](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->set_image("busybox"); },
                      +[](v1::Job* j) { j->mutable_groups(0)->mutable_network()->add_ports()->set_name("http"); }}) {
    auto p = plan_for(change);
    EXPECT_EQ(p.stop_size(), 1);
    EXPECT_EQ(p.place_size(), 1);
    EXPECT_EQ(p.update_in_place_size(), 0);
  }
}

TEST(SchedulerTest, FinishedBatchWorkIsNotRunAgainButFailedServicesAre) {
  auto job = Job("once", 1);
  job.set_type(v1::Job::BATCH);
  auto node = Node("n");
  auto first = ComputePlan(Input(job, {node}));
  auto done = Running(first.place(0));
  done.set_client_status(v1::Allocation::COMPLETE);
  EXPECT_EQ(ComputePlan(Input(job, {node}, {done})).place_size(), 0);
  // A failed one is rescheduled by the group's policy (batch default: once,
  // after 5s; master/scheduler/reschedule.h), the service's after 30s.
  done.set_client_status(v1::Allocation::FAILED);
  done.set_modify_time_ms(1'000'000);
  auto at = [&](int64_t now) {
    auto in = Input(job, {node}, {done});
    in.now_ms = now;
    return ComputePlan(in).place_size();
  };
  EXPECT_EQ(at(1'004'999), 0);
  EXPECT_EQ(at(1'005'000), 1);
  job.mutable_groups(0)->mutable_reschedule()->set_attempts(0);  // never
  EXPECT_EQ(at(2'000'000), 0);
  job = Job("once", 1);
  job.set_type(v1::Job::SERVICE);
  EXPECT_EQ(at(1'029'999), 0);
  EXPECT_EQ(at(1'030'000), 1);
}

TEST(SchedulerTest, StoppedJobStopsEverything) {
  auto job = Job("web", 2);
  auto node = Node("n");
  auto first = ComputePlan(Input(job, {node}));
  job.set_stop(true);
  auto plan = ComputePlan(Input(job, {node}, {Running(first.place(0)), Running(first.place(1))}));
  EXPECT_EQ(plan.stop_size(), 2);
  EXPECT_EQ(plan.place_size(), 0);
  EXPECT_EQ(plan.stop_reason(), "job stopped");
}

TEST(SchedulerTest, LargeClustersScoreABoundedSample) {
  std::vector<v1::Node> nodes;
  for (int i = 0; i < 1024; ++i) nodes.push_back(Node("n" + std::to_string(i)));
  auto job = Job("web", 1);
  v1::PlanResponse why;
  auto plan = ComputePlan(Input(job, nodes), &why);
  ASSERT_EQ(why.placements_size(), 1);
  EXPECT_EQ(why.placements(0).nodes_evaluated(), 10);  // log2(1024)
  auto in = Input(job, nodes);
  in.config.k = 3;
  why.Clear();
  ComputePlan(in, &why);
  EXPECT_EQ(why.placements(0).nodes_evaluated(), 3);
}

}  // namespace
}  // namespace orch::master::sched

namespace orch::master::sched {
namespace {

// A pass costs what it looks at: placing one allocation on 1,000 nodes,
// each holding work, reads what a few of them hold (the candidates it
// samples), not what every node holds.
TEST(SchedulerTest, OnePlacementReadsWhatOnlyAFewNodesHold) {
  std::vector<v1::Node> nodes;
  std::vector<v1::Allocation> held;
  for (int i = 0; i < 1000; ++i) {
    nodes.push_back(testing::Node("n" + std::to_string(i)));
    nodes.back().mutable_allocated()->set_cpu(100);
    v1::Allocation a;
    a.set_id("other-" + std::to_string(i));
    a.set_job_id("other");
    a.set_node_id(nodes.back().id());
    a.set_desired_status(v1::Allocation::RUN);
    a.set_client_status(v1::Allocation::RUNNING);
    a.mutable_resources()->set_cpu(100);
    held.push_back(a);
  }
  std::vector<const v1::Allocation*> pointers;
  for (const auto& a : held) pointers.push_back(&a);
  HoldingsSource all = HoldingsOf(pointers);
  std::set<uint32_t> read;
  SchedulerConfig cfg;
  NodeTable table(
      nodes,
      [&](uint32_t i, const v1::Node& node, Holdings* out) {
        read.insert(i);
        all(i, node, out);
        EXPECT_EQ(out->live.size(), 1u) << node.id();
      },
      {}, cfg);
  int next = 0;
  Scheduler s(&table, cfg, [&] { return "p" + std::to_string(next++); });
  JobInput in;
  in.eval.set_id("e1");
  in.eval.set_job_id("web");
  in.job_exists = true;
  in.job = testing::Job("web", 1);
  v1::PlanCommand plan = s.Schedule(in);
  ASSERT_EQ(plan.place_size(), 1);
  const int chosen = table.IndexOf(plan.place(0).node_id());
  ASSERT_GE(chosen, 0);
  EXPECT_EQ(read.count(static_cast<uint32_t>(chosen)), 1u);
  EXPECT_EQ(table.at(static_cast<uint32_t>(chosen)).residents.size(),
            2u);  // what it held, and the placement
  EXPECT_GT(read.size(), 1u);
  EXPECT_LT(read.size(), 50u) << "a placement read what most nodes hold";
}

}  // namespace
}  // namespace orch::master::sched
