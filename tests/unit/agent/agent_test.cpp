// A whole agent (HTTP, session, watch, reconcile, exec driver, reporter)
// against a fake master.
#include "agent/agent.h"

#include <gtest/gtest.h>

#include "common/http_client.h"
#include "common/ids.h"
#include "fake_master.h"
#include "test_util.h"

namespace orch::agent {
namespace {

using testing::FakeMaster;
using testing::TempDir;
using testing::WaitFor;
using v1::Allocation;

class AgentTest : public ::testing::Test {
 protected:
  AgentConfig Config() {
    AgentConfig cfg;
    cfg.name = "test-node";
    cfg.data_dir = dir_.path();
    cfg.masters = {master_.url()};
    cfg.http = "127.0.0.1:0";
    cfg.labels = {{"zone", "z1"}};
    return cfg;
  }

  Allocation ShellAlloc(const std::string& id, const std::string& node_id,
                        const std::string& script) {
    Allocation a;
    a.set_id(id);
    a.set_job_id("web");
    a.set_group("web");
    a.set_node_id(node_id);
    a.set_desired_status(Allocation::RUN);
    auto* t = a.mutable_task_group()->add_tasks();
    t->set_name("server");
    t->set_driver("exec");
    t->set_command("/bin/sh");
    t->add_args("-c");
    t->add_args(script);
    t->mutable_kill_timeout()->set_nanos(200'000'000);
    return a;
  }

  bool WaitStatus(const std::string& id, Allocation::ClientStatus status) {
    return WaitFor([&] {
      auto a = master_.Alloc(id);
      return a && a->client_status() == status;
    });
  }

  std::string Get(uint16_t port, const std::string& path, int* status = nullptr) {
    // As the masters call it: with the node's credential.
    std::string secret = testing::Slurp(dir_.path() + "/node-secret");
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == ' ')) secret.pop_back();
    HttpClient http;
    auto r = http.Do("GET", "http://127.0.0.1:" + std::to_string(port) + path, "",
                     std::chrono::milliseconds(0), {{kNodeAuthHeader, SecretHash(secret)}});
    if (!r.ok()) return "transport error: " + r.status().ToString();
    if (status) *status = r->status;
    return r->body;
  }

  TempDir dir_;
  FakeMaster master_;
};

TEST_F(AgentTest, RegistersHeartbeatsRunsAndStopsAnAllocation) {
  auto started = Agent::Start(Config());
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto& agent = *started;
  std::string node_id = agent->node_id();
  ASSERT_FALSE(node_id.empty());

  ASSERT_TRUE(WaitFor([&] { return master_.Node(node_id).has_value(); }));
  auto node = *master_.Node(node_id);
  EXPECT_EQ(node.name(), "test-node");
  EXPECT_EQ(node.attributes().os(), "linux");
  EXPECT_FALSE(node.attributes().arch().empty());
  EXPECT_EQ(node.attributes().drivers(0), "exec");
  EXPECT_EQ(node.attributes().labels().at("zone"), "z1");
  EXPECT_GT(node.capacity().cpu(), 0);
  EXPECT_GT(node.capacity().memory(), 0);
  EXPECT_EQ(node.address(), "http://127.0.0.1:" + std::to_string(agent->http_port()));
  ASSERT_TRUE(WaitFor([&] { return master_.heartbeats() >= 2; }));

  std::string health = Get(agent->http_port(), "/healthz");
  EXPECT_NE(health.find("\"status\":\"ok\""), std::string::npos) << health;
  EXPECT_NE(health.find(node_id), std::string::npos) << health;

  master_.PutAlloc(ShellAlloc("alloc-1", node_id, "echo hello from $ORCH_TASK; exec sleep 9005.5"));
  ASSERT_TRUE(WaitStatus("alloc-1", Allocation::RUNNING));
  auto running = *master_.Alloc("alloc-1");
  ASSERT_EQ(running.task_states_size(), 1);
  int pid = running.task_states(0).pid();
  EXPECT_GT(pid, 0);
  EXPECT_TRUE(ProcessAlive(pid, 0));

  std::string logs;
  EXPECT_TRUE(WaitFor([&] {
    logs = Get(agent->http_port(), "/v1/allocations/alloc-1/logs?task=server&type=stdout");
    return logs == "hello from server\n";
  })) << logs;
  int status = 0;
  Get(agent->http_port(), "/v1/allocations/nope/logs?task=server", &status);
  EXPECT_EQ(status, 404);

  master_.SetDesired("alloc-1", Allocation::STOP);
  ASSERT_TRUE(WaitStatus("alloc-1", Allocation::COMPLETE));
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid, 0); }));
  auto done = *master_.Alloc("alloc-1");
  EXPECT_FALSE(done.task_states(0).failed());
  EXPECT_EQ(done.task_states(0).state(), v1::TaskState::DEAD);
  agent->Shutdown();
}

TEST_F(AgentTest, ReportsAFailingTask) {
  auto agent = Agent::Start(Config());
  ASSERT_TRUE(agent.ok());
  std::string node_id = (*agent)->node_id();
  ASSERT_TRUE(WaitFor([&] { return master_.Node(node_id).has_value(); }));
  master_.PutAlloc(ShellAlloc("alloc-f", node_id, "echo oops >&2; exit 3"));
  ASSERT_TRUE(WaitStatus("alloc-f", Allocation::FAILED));
  auto a = *master_.Alloc("alloc-f");
  EXPECT_TRUE(a.task_states(0).failed());
  EXPECT_EQ(a.task_states(0).exit_code(), 3);
  std::string err =
      Get((*agent)->http_port(), "/v1/allocations/alloc-f/logs?task=server&type=stderr");
  EXPECT_EQ(err, "oops\n");
}

TEST_F(AgentTest, ReportsTheLatestStateOnceTheMasterAcceptsUpdatesAgain) {
  master_.FailUpdates(4);
  auto agent = Agent::Start(Config());
  ASSERT_TRUE(agent.ok());
  std::string node_id = (*agent)->node_id();
  ASSERT_TRUE(WaitFor([&] { return master_.Node(node_id).has_value(); }));
  master_.PutAlloc(ShellAlloc("alloc-l", node_id, "exit 0"));
  ASSERT_TRUE(WaitStatus("alloc-l", Allocation::COMPLETE));
  EXPECT_EQ(master_.Alloc("alloc-l")->task_states(0).state(), v1::TaskState::DEAD);
}

TEST_F(AgentTest, RegistersAgainWhenTheMasterForgetsTheNode) {
  auto agent = Agent::Start(Config());
  ASSERT_TRUE(agent.ok());
  std::string node_id = (*agent)->node_id();
  ASSERT_TRUE(WaitFor([&] { return master_.registrations() == 1; }));
  master_.ForgetNode(node_id);
  ASSERT_TRUE(WaitFor([&] { return master_.registrations() >= 2; }));
  EXPECT_TRUE(master_.Node(node_id).has_value());
}

TEST_F(AgentTest, RestartedAgentIsTheSameNodeAndAdoptsItsTasks) {
  std::string node_id;
  int pid = 0;
  {
    auto agent = Agent::Start(Config());
    ASSERT_TRUE(agent.ok());
    node_id = (*agent)->node_id();
    ASSERT_TRUE(WaitFor([&] { return master_.Node(node_id).has_value(); }));
    master_.PutAlloc(ShellAlloc("alloc-r", node_id, "echo once; exec sleep 9006.5"));
    ASSERT_TRUE(WaitStatus("alloc-r", Allocation::RUNNING));
    pid = master_.Alloc("alloc-r")->task_states(0).pid();
    (*agent)->Shutdown();
  }
  EXPECT_TRUE(ProcessAlive(pid, 0));  // tasks outlive a clean agent stop

  auto agent = Agent::Start(Config());
  ASSERT_TRUE(agent.ok());
  EXPECT_EQ((*agent)->node_id(), node_id);
  ASSERT_TRUE(WaitFor([&] { return master_.registrations() >= 2; }));
  // Give the new agent a chance to (wrongly) start a duplicate, then check.
  master_.PutAlloc(*master_.Alloc("alloc-r"));
  ASSERT_TRUE(WaitStatus("alloc-r", Allocation::RUNNING));
  EXPECT_EQ(master_.Alloc("alloc-r")->task_states(0).pid(), pid);
  EXPECT_EQ(testing::ProcessesWithArg("sleep 9006.5").size(), 1u);

  master_.RemoveAlloc("alloc-r");  // vanished from the masters: stopped
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid, 0); }));
}

TEST_F(AgentTest, StartsWithoutAReachableMaster) {
  AgentConfig cfg = Config();
  cfg.masters = {"http://127.0.0.1:1"};
  auto agent = Agent::Start(cfg);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  EXPECT_NE(Get((*agent)->http_port(), "/healthz").find("ok"), std::string::npos);
  (*agent)->Shutdown();
}

TEST_F(AgentTest, RejectsAnInvalidConfig) {
  AgentConfig cfg = Config();
  cfg.data_dir.clear();
  auto agent = Agent::Start(cfg);
  ASSERT_FALSE(agent.ok());
  EXPECT_NE(agent.status().message().find("--data-dir"), std::string::npos);
}

}  // namespace
}  // namespace orch::agent
