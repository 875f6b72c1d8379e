// New allocations start several at a time: a container takes most of a
// second to create and start, so fifty in a row would take most of a minute.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>

#include "agent/reconciler.h"
#include "fake_driver.h"
#include "test_util.h"

namespace orch::agent {
namespace {

using v1::Allocation;

// Each Start waits (up to 5 s) until another Start is in flight too, and
// records the most it saw at once. Started one after another, every Start
// times out and the maximum stays 1.
class OverlapDriver : public testing::FakeDriver {
 public:
  Result<pb::TaskHandle> Start(const TaskSpec& spec) override {
    {
      std::unique_lock lk(mu_);
      ++in_flight_;
      max_in_flight = std::max(max_in_flight, in_flight_);
      cv_.notify_all();
      cv_.wait_for(lk, std::chrono::seconds(5), [&] { return in_flight_ >= 2 || seen_two_; });
      if (in_flight_ >= 2) seen_two_ = true;
      --in_flight_;
    }
    return FakeDriver::Start(spec);
  }
  int max_in_flight = 0;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  bool seen_two_ = false;
};

Allocation NewAlloc(int i, bool with_assigned_port) {
  Allocation a;
  a.set_id("a" + std::to_string(i));
  a.set_job_id("web");
  a.set_group("g");
  a.set_desired_status(Allocation::RUN);
  auto* g = a.mutable_task_group();
  g->set_name("g");
  auto* t = g->add_tasks();
  t->set_name("server");
  t->set_driver("exec");
  t->set_command("/bin/server");
  if (with_assigned_port) {
    g->mutable_network()->add_ports()->set_name("http");
    auto* p = a.add_ports();
    p->set_name("http");
    p->set_value(21000 + i);
  }
  return a;
}

TEST(ParallelStartTest, NewAllocationsStartConcurrentlyEachOnceAndArePersisted) {
  testing::TempDir dir;
  StateStore store(dir.path());
  ASSERT_TRUE(store.Init().ok());
  OverlapDriver driver;
  RunnerContext ctx;
  ctx.data_dir = dir.path();
  ctx.drivers = {{"exec", &driver}};
  Reconciler r(std::move(ctx), &store);

  std::vector<Allocation> allocs;
  for (int i = 0; i < 10; ++i) allocs.push_back(NewAlloc(i, /*with_assigned_port=*/i % 2 == 0));
  r.SetDesired(allocs);
  auto updates = r.Reconcile();

  EXPECT_GE(driver.max_in_flight, 2);
  EXPECT_EQ(driver.starts, 10);  // each exactly once
  ASSERT_EQ(updates.size(), 10u);
  for (const auto& u : updates) EXPECT_EQ(u.client_status(), Allocation::RUNNING) << u.id();
  // The ports the masters assigned are the ones used.
  for (const auto& rec : r.Records()) {
    if (rec.alloc().ports_size() == 0) continue;
    ASSERT_EQ(rec.ports_size(), 1);
    EXPECT_EQ(rec.ports(0).value(), rec.alloc().ports(0).value());
  }
  // Persisted: a restarted agent finds all ten.
  auto loaded = store.LoadAll();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->size(), 10u);
  for (const auto& rec : *loaded) EXPECT_TRUE(rec.started()) << rec.alloc().id();

  // A second pass starts nothing more.
  r.SetDesired(allocs);
  r.Reconcile();
  EXPECT_EQ(driver.starts, 10);
}

}  // namespace
}  // namespace orch::agent
