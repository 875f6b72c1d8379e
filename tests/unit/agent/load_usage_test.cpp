// Measured load: per-allocation usage (sum of its tasks, EWMA), the node's
// own use from /proc, and the reconciler attaching allocation usage to its
// updates without treating a usage change as a state change.
#include <gtest/gtest.h>

#include "agent/load_monitor.h"
#include "agent/node_info.h"
#include "agent/reconciler.h"
#include "fake_driver.h"
#include "test_util.h"

namespace orch::agent {
namespace {

class ManualClock : public Clock {
 public:
  int64_t NowMs() const override { return ms_; }
  std::chrono::steady_clock::time_point Steady() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms_));
  }
  void Advance(int64_t ms) { ms_ += ms; }

 private:
  int64_t ms_ = 1'000'000;
};

// Tasks using what the test says, by task id.
class UsageDriver : public testing::FakeDriver {
 public:
  std::vector<std::string> List() override {
    std::vector<std::string> out;
    for (const auto& [id, u] : usage) out.push_back(id);
    return out;
  }
  Result<TaskUsage> Stats(const std::string& id) override { return usage.at(id); }
  std::map<std::string, TaskUsage> usage;
};

TEST(AllocUsageTest, EachAllocationGetsTheSmoothedSumOfItsTasks) {
  UsageDriver d;
  ManualClock clock;
  LoadMonitor load({&d}, &clock, /*alpha=*/0.5);
  d.usage["a/web"] = TaskUsage{std::chrono::seconds(1), 10 << 20};
  d.usage["a/side"] = TaskUsage{std::chrono::seconds(1), 30 << 20};
  d.usage["b/web"] = TaskUsage{std::chrono::seconds(1), 5 << 20};
  load.Sample();
  ASSERT_TRUE(load.AllocUsage("a").has_value());
  EXPECT_DOUBLE_EQ(load.AllocUsage("a")->memory(), 40);
  EXPECT_DOUBLE_EQ(load.AllocUsage("a")->cpu(), 0);  // no interval yet
  EXPECT_DOUBLE_EQ(load.AllocUsage("b")->memory(), 5);
  EXPECT_FALSE(load.AllocUsage("c").has_value());

  // One second: a's tasks use a quarter core each, b a full core.
  clock.Advance(1000);
  d.usage["a/web"].cpu_time += std::chrono::milliseconds(250);
  d.usage["a/side"].cpu_time += std::chrono::milliseconds(250);
  d.usage["b/web"].cpu_time += std::chrono::seconds(1);
  d.usage["b/web"].memory_bytes = 15 << 20;
  load.Sample();
  EXPECT_DOUBLE_EQ(load.AllocUsage("a")->cpu(), 500);
  EXPECT_DOUBLE_EQ(load.AllocUsage("b")->cpu(), 1000);
  EXPECT_DOUBLE_EQ(load.AllocUsage("b")->memory(), 10);  // EWMA of 5 and 15

  // b's tasks are gone: it has no usage any more.
  d.usage.erase("b/web");
  clock.Advance(1000);
  load.Sample();
  EXPECT_FALSE(load.AllocUsage("b").has_value());
  EXPECT_DOUBLE_EQ(load.AllocUsage("a")->cpu(), 250);  // idle: decays
}

TEST(NodeLoadTest, NodeCountersComeFromProc) {
  auto c = ReadNodeCounters();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_GE(c->cpus, 1);
  EXPECT_GT(c->total_jiffies, 0u);
  EXPECT_LE(c->busy_jiffies, c->total_jiffies);
  EXPECT_GT(c->memory_used_bytes, 0);
}

TEST(NodeLoadTest, MeasuringTheNodeReportsItsMemoryAndCpuNotJustTasks) {
  UsageDriver d;  // no tasks at all
  LoadMonitor load({&d}, SystemClock::Get(), 1.0, /*measure_node=*/true);
  auto first = load.Sample();
  // This test process alone uses memory: the node is not idle.
  EXPECT_GT(first.memory(), 1.0);
  auto cap = ReadNodeCounters();
  ASSERT_TRUE(cap.ok());
  // Busy work between samples shows as cpu (bounded by the cpu count).
  volatile uint64_t x = 0;
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
  while (std::chrono::steady_clock::now() < until) x = x + 1;
  auto second = load.Sample();
  EXPECT_GT(second.cpu(), 0);
  EXPECT_LE(second.cpu(), cap->cpus * 1000.0 + 1);
}

TEST(NodeFactsTest, DescribeNodeCarriesCpuMemoryHostAndLabels) {
  AgentConfig cfg;
  cfg.labels = {{"rack", "r1"}};
  v1::Node n = DescribeNode(cfg, "node-1", "http://127.0.0.1:4650", {"exec"});
  const auto& a = n.attributes();
  EXPECT_EQ(a.os(), "linux");
  EXPECT_FALSE(a.arch().empty());
  EXPECT_FALSE(a.kernel().empty());
  EXPECT_GE(a.cpu_cores(), 1);
  EXPECT_EQ(a.cpu_cores() * 1000, n.capacity().cpu());
  EXPECT_GT(a.memory_mib(), 0);
  EXPECT_EQ(a.memory_mib(), n.capacity().memory());
  EXPECT_GE(a.cpu_mhz(), 0);  // 0 only where neither cpufreq nor cpuinfo say
  EXPECT_EQ(a.hostname(), Hostname());
  EXPECT_EQ(a.labels().at("rack"), "r1");
  ASSERT_EQ(a.drivers_size(), 1);
}

TEST(ReconcilerUsageTest, UsageRidesWithUpdatesAndIsResentPeriodicallyOnly) {
  testing::TempDir dir;
  StateStore store(dir.path());
  ASSERT_TRUE(store.Init().ok());
  testing::FakeDriver driver;
  ManualClock clock;
  RunnerContext ctx;
  ctx.data_dir = dir.path();
  ctx.drivers = {{"exec", &driver}};
  ctx.clock = &clock;
  Reconciler r(std::move(ctx), &store);
  double cpu = 100;
  r.SetUsageSource([&](const std::string& id) -> std::optional<v1::NodeLoad> {
    if (id != "u1") return std::nullopt;
    v1::NodeLoad l;
    l.set_cpu(cpu);
    l.set_memory(64);
    return l;
  });
  v1::Allocation a;
  a.set_id("u1");
  a.set_desired_status(v1::Allocation::RUN);
  auto* t = a.mutable_task_group()->add_tasks();
  t->set_name("web");
  t->set_driver("exec");
  t->set_command("/bin/server");
  r.SetDesired({a});
  auto first = r.Reconcile();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_DOUBLE_EQ(first[0].usage().cpu(), 100);
  EXPECT_DOUBLE_EQ(first[0].usage().memory(), 64);
  // Usage moved, state did not: nothing to say yet.
  cpu = 150;
  clock.Advance(1000);
  EXPECT_TRUE(r.Reconcile().empty());
  // Until the usage report is due.
  clock.Advance(Reconciler::kUsageReportMs);
  auto later = r.Reconcile();
  ASSERT_EQ(later.size(), 1u);
  EXPECT_DOUBLE_EQ(later[0].usage().cpu(), 150);
  EXPECT_TRUE(r.Reconcile().empty());
}

}  // namespace
}  // namespace orch::agent
