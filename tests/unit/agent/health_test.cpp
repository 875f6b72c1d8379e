// Health checks: the probes against real loopback servers and commands, the
// thresholds on a fake clock, and a reconciler reporting a task's health
// flip without stopping the task.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

#include "agent/health/health_monitor.h"
#include "agent/reconciler.h"
#include "common/http_server.h"
#include "fake_clock.h"
#include "fake_driver.h"
#include "test_util.h"

namespace orch::agent {
namespace {

using namespace std::chrono_literals;
using health::CheckTarget;
using health::HealthMonitor;
using health::ProbeResult;
using testing::FakeClock;
using testing::FakeDriver;
using testing::TempDir;
using v1::Allocation;
using v1::HealthCheck;

HealthCheck Check(HealthCheck::Type type, int interval_s = 5) {
  HealthCheck c;
  c.set_type(type);
  c.mutable_interval()->set_seconds(interval_s);
  c.mutable_timeout()->set_nanos(500'000'000);
  return c;
}

// A loopback TCP listener on a free port, closed on Close().
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Listener() { Close(); }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(HealthProbeTest, HttpCheckFollowsTheServersAnswer) {
  std::atomic<int> status{200};
  auto server = HttpServer::Start({}, [&](const HttpRequest& req) {
    HttpResponse r;
    r.status = req.path == "/health" ? status.load() : 404;
    r.body = "ok";
    return r;
  });
  ASSERT_TRUE(server.ok());
  int port = (*server)->port();
  FakeClock clock;
  std::atomic<int> changes{0};
  HealthMonitor m(&clock, [&] { ++changes; });
  CheckTarget t;
  t.check = Check(HealthCheck::HTTP);
  t.check.set_path("/health");
  t.port = port;
  t.generation = 1;
  m.Ensure("a/web", t);
  EXPECT_FALSE(m.Status("a/web").healthy);
  EXPECT_EQ(m.RunDue(), 1);
  EXPECT_TRUE(m.Status("a/web").healthy) << m.Status("a/web").message;
  EXPECT_EQ(changes.load(), 1);

  status = 302;  // redirects pass too
  clock.Advance(5s);
  m.RunDue();
  EXPECT_TRUE(m.Status("a/web").healthy) << m.Status("a/web").message;

  status = 503;
  EXPECT_EQ(m.RunDue(), 0) << "a check ran before its interval passed";
  clock.Advance(5s);
  EXPECT_EQ(m.RunDue(), 1);
  EXPECT_FALSE(m.Status("a/web").healthy);
  EXPECT_NE(m.Status("a/web").message.find("HTTP 503"), std::string::npos)
      << m.Status("a/web").message;
  (*server)->Shutdown();
  clock.Advance(5s);
  m.RunDue();
  EXPECT_FALSE(m.Status("a/web").healthy);
}

TEST(HealthProbeTest, TcpCheckPassesWhileSomethingListens) {
  Listener l;
  auto ok = health::ProbeTcp(l.port(), 500ms);
  EXPECT_TRUE(ok.ok) << ok.message;
  l.Close();
  auto refused = health::ProbeTcp(l.port(), 500ms);
  EXPECT_FALSE(refused.ok);
  EXPECT_NE(refused.message.find("refused"), std::string::npos) << refused.message;
  EXPECT_FALSE(health::ProbeTcp(0, 500ms).ok);
}

TEST(HealthProbeTest, CommandCheckPassesOnExitZeroAndTimesOut) {
  TempDir dir;
  std::vector<std::pair<std::string, std::string>> env{{"PATH", "/usr/bin:/bin"}, {"WHO", "me"}};
  auto ok = health::ProbeCommand("sh", {"-c", "test \"$WHO\" = me && pwd"}, env, dir.path(), 2s);
  EXPECT_TRUE(ok.ok) << ok.message;
  EXPECT_NE(ok.message.find(dir.path()), std::string::npos) << ok.message;
  auto fail = health::ProbeCommand("/bin/sh", {"-c", "echo broken; exit 4"}, env, "", 2s);
  EXPECT_FALSE(fail.ok);
  EXPECT_NE(fail.message.find("exit 4: broken"), std::string::npos) << fail.message;
  auto slow = health::ProbeCommand("/bin/sh", {"-c", "sleep 30"}, env, "", 200ms);
  EXPECT_FALSE(slow.ok);
  EXPECT_NE(slow.message.find("timed out"), std::string::npos) << slow.message;
  EXPECT_FALSE(health::ProbeCommand("no-such-command-here", {}, env, "", 1s).ok);
}

TEST(HealthMonitorTest, ThresholdsNeedConsecutiveResults) {
  FakeClock clock;
  std::atomic<bool> pass{true};
  HealthMonitor m(&clock, nullptr, [&](const CheckTarget&) { return ProbeResult{pass.load(), "probe"}; });
  CheckTarget t;
  t.check = Check(HealthCheck::TCP, 1);
  t.check.set_healthy_threshold(2);
  t.check.set_unhealthy_threshold(3);
  t.generation = 7;
  m.Ensure("a/t", t);
  auto step = [&] {
    m.RunDue();
    clock.Advance(1s);
    return m.Status("a/t").healthy;
  };
  EXPECT_FALSE(step());
  EXPECT_TRUE(step());
  pass = false;
  EXPECT_TRUE(step());
  EXPECT_TRUE(step());
  EXPECT_FALSE(step());
  pass = true;
  EXPECT_FALSE(step());
  EXPECT_TRUE(step());
  // The same generation keeps its state; a new one (a restarted task)
  // starts over, unhealthy.
  m.Ensure("a/t", t);
  EXPECT_TRUE(m.Status("a/t").healthy);
  t.generation = 8;
  m.Ensure("a/t", t);
  EXPECT_FALSE(m.Status("a/t").healthy);
  m.Remove("a/t");
  EXPECT_FALSE(m.Status("a/t").known);
}

TEST(HealthMonitorTest, StartsFromTheRecordedVerdictAfterAnAgentRestart) {
  FakeClock clock;
  HealthMonitor m(&clock, nullptr, [](const CheckTarget&) { return ProbeResult{false, "down"}; });
  CheckTarget t;
  t.check = Check(HealthCheck::TCP, 1);
  t.initially_healthy = true;
  t.initial_message = "was fine";
  m.Ensure("a/t", t);
  EXPECT_TRUE(m.Status("a/t").healthy);
  EXPECT_EQ(m.Status("a/t").message, "was fine");
  m.RunDue();
  EXPECT_FALSE(m.Status("a/t").healthy) << "the probes decide from then on";
}

TEST(HealthMonitorTest, ItsThreadRunsChecksAndReportsChanges) {
  std::atomic<int> changes{0};
  HealthMonitor m(SystemClock::Get(), [&] { ++changes; },
                  [](const CheckTarget&) { return ProbeResult{true, "fine"}; });
  m.Start();
  CheckTarget t;
  t.check = Check(HealthCheck::TCP, 1);
  m.Ensure("a/t", t);
  EXPECT_TRUE(testing::WaitFor([&] { return m.Status("a/t").healthy; }));
  // The status is published first, the change reported right after it
  // (outside the monitor's lock): wait for the report too.
  EXPECT_TRUE(testing::WaitFor([&] { return changes.load() >= 1; }));
  m.Stop();
}

TEST(HealthReconcileTest, FailingCheckFlipsHealthWithoutStoppingTheTask) {
  TempDir dir;
  StateStore store(dir.path());
  ASSERT_TRUE(store.Init().ok());
  FakeDriver driver;
  FakeClock clock;
  std::atomic<bool> pass{true};
  std::atomic<int> probed_port{0};
  HealthMonitor monitor(&clock, nullptr, [&](const CheckTarget& t) {
    probed_port = t.port;
    return ProbeResult{pass.load(), pass ? "GET /: HTTP 200" : "GET /: HTTP 500"};
  });
  RunnerContext ctx;
  ctx.data_dir = dir.path();
  ctx.drivers = {{"exec", &driver}};
  ctx.clock = &clock;
  ctx.health = &monitor;
  Reconciler r(std::move(ctx), &store);

  Allocation a;
  a.set_id("a1");
  a.set_job_id("web");
  a.set_job_type(v1::Job::SERVICE);
  a.set_group("g");
  a.set_desired_status(Allocation::RUN);
  auto* g = a.mutable_task_group();
  g->set_name("g");
  g->mutable_network()->add_ports()->set_name("http");
  auto* task = g->add_tasks();
  task->set_name("web");
  task->set_driver("exec");
  task->set_command("/bin/server");
  *task->mutable_check() = Check(HealthCheck::HTTP);
  task->mutable_check()->set_port("http");
  auto* plain = g->add_tasks();  // no check: healthy while it runs
  plain->set_name("sidecar");
  plain->set_driver("exec");
  plain->set_command("/bin/sidecar");
  r.SetDesired({a});

  auto u = r.Reconcile();
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].client_status(), Allocation::RUNNING);
  EXPECT_FALSE(u[0].healthy()) << "healthy before any check passed";
  EXPECT_TRUE(u[0].task_states(1).healthy());

  monitor.RunDue();
  u = r.Reconcile();
  ASSERT_EQ(u.size(), 1u);
  EXPECT_TRUE(u[0].healthy());
  EXPECT_TRUE(u[0].task_states(0).healthy());
  EXPECT_NE(u[0].task_states(0).health_message().find("HTTP 200"), std::string::npos);
  ASSERT_EQ(u[0].ports_size(), 1);
  EXPECT_EQ(probed_port.load(), u[0].ports(0).value()) << "the check probed the wrong port";

  pass = false;
  clock.Advance(5s);
  monitor.RunDue();
  u = r.Reconcile();
  ASSERT_EQ(u.size(), 1u);
  EXPECT_FALSE(u[0].healthy());
  EXPECT_FALSE(u[0].task_states(0).healthy());
  EXPECT_NE(u[0].task_states(0).health_message().find("HTTP 500"), std::string::npos);
  EXPECT_EQ(u[0].client_status(), Allocation::RUNNING);
  EXPECT_TRUE(driver.Running("a1/web")) << "an unhealthy task was stopped";
  EXPECT_EQ(driver.stops, 0);

  // Stopping the allocation removes its check.
  a.set_desired_status(Allocation::STOP);
  r.SetDesired({a});
  r.Reconcile();
  r.Reconcile();
  EXPECT_FALSE(monitor.Status("a1/web").known);
}

}  // namespace
}  // namespace orch::agent
