// Builders for scheduler tests: jobs, nodes, allocations and a one-call
// ComputePlan with deterministic ids.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "master/scheduler/scheduler.h"
#include "orch/v1/types.pb.h"

namespace orch::master::sched::testing {

inline v1::Job Job(const std::string& id, int count, int64_t cpu = 100, int64_t mem = 64) {
  v1::Job job;
  job.set_id(id);
  job.set_type(v1::Job::SERVICE);
  job.set_priority(50);
  auto* g = job.add_groups();
  g->set_name("g");
  g->set_count(count);
  auto* t = g->add_tasks();
  t->set_name("t");
  t->set_driver("exec");
  t->set_command("/bin/sleep");
  t->mutable_resources()->set_cpu(cpu);
  t->mutable_resources()->set_memory(mem);
  return job;
}

inline v1::Node Node(const std::string& id, int64_t cpu = 4000, int64_t mem = 4096) {
  v1::Node n;
  n.set_id(id);
  n.set_name("node-" + id);
  n.mutable_capacity()->set_cpu(cpu);
  n.mutable_capacity()->set_memory(mem);
  n.mutable_attributes()->add_drivers("exec");
  n.mutable_attributes()->set_os("linux");
  n.set_status(v1::Node::READY);
  return n;
}

inline SchedulerInput Input(const v1::Job& job, std::vector<v1::Node> nodes, std::vector<v1::Allocation> allocs = {}) {
  SchedulerInput in;
  in.eval.set_id("e1");
  in.eval.set_job_id(job.id());
  in.job_exists = true;
  in.job = job;
  in.nodes = std::move(nodes);
  in.allocs = std::move(allocs);
  // Unique across calls, so plans built on earlier plans never reuse an id.
  static int counter = 0;
  std::string prefix = job.id() + "-a";
  in.new_id = [prefix] { return prefix + std::to_string(counter++); };
  return in;
}

// A planned allocation as it looks once running.
inline v1::Allocation Running(const v1::Allocation& planned) {
  v1::Allocation a = planned;
  a.set_desired_status(v1::Allocation::RUN);
  a.set_client_status(v1::Allocation::RUNNING);
  return a;
}

// Adds a placed allocation's resources to its node in `nodes`.
inline void Claim(std::vector<v1::Node>* nodes, const v1::Allocation& a) {
  for (auto& n : *nodes) {
    if (n.id() != a.node_id()) continue;
    n.mutable_allocated()->set_cpu(n.allocated().cpu() + a.resources().cpu());
    n.mutable_allocated()->set_memory(n.allocated().memory() + a.resources().memory());
  }
}

inline int CountOn(const v1::PlanCommand& plan, const std::string& node) {
  int c = 0;
  for (const auto& a : plan.place()) c += a.node_id() == node;
  return c;
}

}  // namespace orch::master::sched::testing
