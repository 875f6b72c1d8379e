#include "master/scheduler/placement.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace orch::master {
namespace {

SchedulerInput Input(const v1::Job& job, std::vector<v1::Node> nodes, std::vector<v1::Allocation> allocs = {}) {
  SchedulerInput in;
  in.eval.set_id("e1");
  in.eval.set_job_id(job.id());
  in.job_exists = true;
  in.job = job;
  in.nodes = std::move(nodes);
  in.allocs = std::move(allocs);
  auto counter = std::make_shared<int>(0);
  in.new_id = [counter] { return "a" + std::to_string((*counter)++); };
  return in;
}

v1::Allocation Live(const v1::PlanCommand& plan, int i) {
  v1::Allocation a = plan.place(i);
  a.set_desired_status(v1::Allocation::RUN);
  a.set_client_status(v1::Allocation::RUNNING);
  return a;
}

TEST(PlacementTest, PlacesOnTheNodeWithMostFreeMemory) {
  auto job = testing::SampleJob("web", 1, 100, 256);
  auto small = testing::SampleNode("small", 4000, 1024);
  auto big = testing::SampleNode("big", 4000, 8192);
  auto plan = ComputePlan(Input(job, {small, big}));
  ASSERT_EQ(plan.place_size(), 1);
  EXPECT_EQ(plan.place(0).node_id(), "big");
  EXPECT_EQ(plan.place(0).name(), "web.g[0]");
  EXPECT_EQ(plan.place(0).resources().memory(), 256);
  EXPECT_EQ(plan.eval_status(), v1::Evaluation::COMPLETE);
}

TEST(PlacementTest, SpreadsAsFreeMemoryShrinksWithinOnePlan) {
  auto job = testing::SampleJob("web", 4, 100, 1000);
  auto plan = ComputePlan(Input(job, {testing::SampleNode("a", 8000, 2500), testing::SampleNode("b", 8000, 2500)}));
  ASSERT_EQ(plan.place_size(), 4);
  int on_a = 0;
  for (const auto& a : plan.place()) on_a += a.node_id() == "a";
  EXPECT_EQ(on_a, 2);
}

TEST(PlacementTest, SkipsNodesThatAreDownOrLackTheDriverOrRoom) {
  auto job = testing::SampleJob("web", 1, 100, 512);
  auto down = testing::SampleNode("down", 4000, 8192);
  down.set_status(v1::Node::DOWN);
  auto nodriver = testing::SampleNode("nodriver", 4000, 8192);
  nodriver.mutable_attributes()->clear_drivers();
  auto full = testing::SampleNode("full", 4000, 8192);
  full.mutable_allocated()->set_memory(8000);
  auto plan = ComputePlan(Input(job, {down, nodriver, full}));
  EXPECT_EQ(plan.place_size(), 0);
  EXPECT_EQ(plan.eval_status(), v1::Evaluation::BLOCKED);
  EXPECT_NE(plan.eval_description().find("1 node(s) memory exhausted"), std::string::npos)
      << plan.eval_description();
  EXPECT_NE(plan.eval_description().find("1 node(s) no exec driver"), std::string::npos);
  EXPECT_NE(plan.eval_description().find("1 node(s) not ready"), std::string::npos);
}

TEST(PlacementTest, NothingToDoWhenCountIsMet) {
  auto job = testing::SampleJob("web", 2);
  auto node = testing::SampleNode("n");
  auto first = ComputePlan(Input(job, {node}));
  ASSERT_EQ(first.place_size(), 2);
  auto again = ComputePlan(Input(job, {node}, {Live(first, 0), Live(first, 1)}));
  EXPECT_EQ(again.place_size(), 0);
  EXPECT_EQ(again.stop_size(), 0);
}

TEST(PlacementTest, ScaleDownStopsTheHighestSlots) {
  auto job = testing::SampleJob("web", 3);
  auto node = testing::SampleNode("n");
  auto first = ComputePlan(Input(job, {node}));
  job.mutable_groups(0)->set_count(1);
  auto down = ComputePlan(Input(job, {node}, {Live(first, 0), Live(first, 1), Live(first, 2)}));
  ASSERT_EQ(down.stop_size(), 2);
  EXPECT_EQ(down.place_size(), 0);
  for (const auto& id : down.stop()) EXPECT_NE(id, first.place(0).id());
}

TEST(PlacementTest, NewVersionReplacesOldAllocations) {
  auto job = testing::SampleJob("web", 1);
  auto node = testing::SampleNode("n");
  auto first = ComputePlan(Input(job, {node}));
  job.set_version(1);
  auto next = ComputePlan(Input(job, {node}, {Live(first, 0)}));
  ASSERT_EQ(next.stop_size(), 1);
  ASSERT_EQ(next.place_size(), 1);
  EXPECT_EQ(next.place(0).job_version(), 1u);
}

TEST(PlacementTest, FinishedBatchWorkIsNotRunAgain) {
  auto job = testing::SampleJob("once", 1);
  job.set_type(v1::Job::BATCH);
  auto node = testing::SampleNode("n");
  auto first = ComputePlan(Input(job, {node}));
  auto done = Live(first, 0);
  done.set_client_status(v1::Allocation::COMPLETE);
  EXPECT_EQ(ComputePlan(Input(job, {node}, {done})).place_size(), 0);
  // A failed service allocation, by contrast, is replaced.
  job.set_type(v1::Job::SERVICE);
  done.set_client_status(v1::Allocation::FAILED);
  EXPECT_EQ(ComputePlan(Input(job, {node}, {done})).place_size(), 1);
}

TEST(PlacementTest, StoppedJobStopsEverything) {
  auto job = testing::SampleJob("web", 2);
  auto node = testing::SampleNode("n");
  auto first = ComputePlan(Input(job, {node}));
  job.set_stop(true);
  auto plan = ComputePlan(Input(job, {node}, {Live(first, 0), Live(first, 1)}));
  EXPECT_EQ(plan.stop_size(), 2);
  EXPECT_EQ(plan.place_size(), 0);
  EXPECT_EQ(plan.stop_reason(), "job stopped");
}

}  // namespace
}  // namespace orch::master
