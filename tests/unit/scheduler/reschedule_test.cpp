// The reschedule policy on a fake clock (issue 11): a task that always
// fails is replaced with growing delays, a limited policy gives up after
// its attempts within the interval, and each replacement carries the
// history that spaces the next.
#include "master/scheduler/reschedule.h"

#include <gtest/gtest.h>

#include "sched_util.h"

namespace orch::master::sched {
namespace {

using testing::Input;
using testing::Job;
using testing::Node;

v1::Allocation Failed(const std::string& id, int64_t at, const std::vector<v1::RescheduleEvent>& history) {
  v1::Allocation a;
  a.set_id(id);
  a.set_client_status(v1::Allocation::FAILED);
  a.set_desired_status(v1::Allocation::RUN);
  a.set_modify_time_ms(at);
  for (const auto& e : history) *a.add_reschedule_events() = e;
  return a;
}

// Fails at once after every replacement, at `now` = when it is due.
std::vector<int64_t> Delays(const RescheduleRule& rule, int n) {
  std::vector<int64_t> out;
  std::vector<v1::RescheduleEvent> history;
  int64_t now = 1'000'000;
  for (int i = 0; i < n; ++i) {
    auto d = DecideReschedule(rule, Failed("a" + std::to_string(i), now, history), now);
    if (d.give_up) break;
    out.push_back(d.delay_ms);
    now = d.at_ms;
    history = d.events;
  }
  return out;
}

TEST(Reschedule, ServiceDefaultsGrowExponentiallyToTheCapAndNeverGiveUp) {
  v1::Job job = Job("web", 1);
  auto rule = EffectiveReschedule(job, job.groups(0));
  EXPECT_TRUE(rule.unlimited);
  auto d = Delays(rule, 10);
  EXPECT_EQ(d, (std::vector<int64_t>{30'000, 60'000, 120'000, 240'000, 480'000, 960'000, 1'920'000, 3'600'000,
                                      3'600'000, 3'600'000}));
}

TEST(Reschedule, BatchDefaultsRetryOnceAfterFiveSeconds) {
  v1::Job job = Job("once", 1);
  job.set_type(v1::Job::BATCH);
  auto d = Delays(EffectiveReschedule(job, job.groups(0)), 5);
  EXPECT_EQ(d, (std::vector<int64_t>{5'000}));
}

TEST(Reschedule, FibonacciAndConstantDelays) {
  v1::Job job = Job("web", 1);
  auto* p = job.mutable_groups(0)->mutable_reschedule();
  p->set_unlimited(true);
  p->mutable_delay()->set_seconds(10);
  p->mutable_max_delay()->set_seconds(60);
  p->set_delay_function("fibonacci");
  EXPECT_EQ(Delays(EffectiveReschedule(job, job.groups(0)), 7),
            (std::vector<int64_t>{10'000, 10'000, 20'000, 30'000, 50'000, 60'000, 60'000}));
  p->set_delay_function("constant");
  EXPECT_EQ(Delays(EffectiveReschedule(job, job.groups(0)), 3), (std::vector<int64_t>{10'000, 10'000, 10'000}));
}

TEST(Reschedule, ALimitedPolicyCountsOnlyAttemptsWithinItsInterval) {
  v1::Job job = Job("web", 1);
  auto* p = job.mutable_groups(0)->mutable_reschedule();
  p->set_attempts(2);
  p->mutable_interval()->set_seconds(600);
  p->mutable_delay()->set_seconds(1);
  p->set_delay_function("constant");
  auto rule = EffectiveReschedule(job, job.groups(0));
  EXPECT_EQ(Delays(rule, 5).size(), 2u);  // at most `attempts` replacements within `interval`
  // Two replacements long ago do not count any more.
  v1::RescheduleEvent old1, old2;
  old1.set_time_ms(0);
  old2.set_time_ms(1000);
  auto d = DecideReschedule(rule, Failed("x", 2'000'000, {old1, old2}), 2'000'000);
  EXPECT_FALSE(d.give_up);
  EXPECT_EQ(d.events.size(), 1u);  // only the new one
  auto recent = DecideReschedule(rule, Failed("y", 2'000'000, {old2, old2}), 2'000'000);
  EXPECT_FALSE(recent.give_up);
  old1.set_time_ms(1'900'000);
  old2.set_time_ms(1'950'000);
  EXPECT_TRUE(DecideReschedule(rule, Failed("z", 2'000'000, {old1, old2}), 2'000'000).give_up);
}

TEST(Reschedule, TheReplacementNamesItsPredecessorAndCarriesTheHistory) {
  v1::Job job = Job("web", 1);
  auto node = Node("n");
  auto first = ComputePlan(Input(job, {node})).place(0);
  v1::Allocation failed = first;
  failed.set_desired_status(v1::Allocation::RUN);
  failed.set_client_status(v1::Allocation::FAILED);
  failed.set_modify_time_ms(500'000);
  auto in = Input(job, {node}, {failed});
  in.now_ms = 520'000;  // 20 s after the failure: not yet (30 s)
  EXPECT_EQ(ComputePlan(in).place_size(), 0);
  in.now_ms = 530'000;
  auto plan = ComputePlan(in);
  ASSERT_EQ(plan.place_size(), 1);
  EXPECT_EQ(plan.place(0).previous_allocation(), failed.id());
  EXPECT_EQ(plan.place(0).name(), failed.name());
  ASSERT_EQ(plan.place(0).reschedule_events_size(), 1);
  EXPECT_EQ(plan.place(0).reschedule_events(0).prev_alloc_id(), failed.id());
  EXPECT_EQ(plan.place(0).reschedule_events(0).delay_ms(), 30'000);
  // Its own failure waits twice as long.
  v1::Allocation again = plan.place(0);
  again.set_desired_status(v1::Allocation::RUN);
  again.set_client_status(v1::Allocation::FAILED);
  again.set_modify_time_ms(540'000);
  failed.set_desired_status(v1::Allocation::STOP);
  auto in2 = Input(job, {node}, {failed, again});
  in2.now_ms = 599'999;
  EXPECT_EQ(ComputePlan(in2).place_size(), 0);
  in2.now_ms = 600'000;
  EXPECT_EQ(ComputePlan(in2).place_size(), 1);
}

}  // namespace
}  // namespace orch::master::sched
