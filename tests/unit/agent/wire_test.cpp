// What the agent sends must be accepted by the masters, which parse request
// bodies strictly with ParseDocument (unknown fields rejected).
#include <gtest/gtest.h>

#include "agent/node_info.h"
#include "common/document.h"
#include "common/json.h"
#include "orch/v1/api.pb.h"

namespace orch::agent {
namespace {

TEST(WireTest, RegistrationHeartbeatAndUpdatesParseOnTheMasterSide) {
  AgentConfig cfg;
  cfg.labels = {{"zone", "a"}};
  v1::RegisterNodeRequest reg;
  *reg.mutable_node() = DescribeNode(cfg, "node-1", "http://127.0.0.1:4650", {"exec"});
  v1::RegisterNodeRequest reg_back;
  ASSERT_TRUE(ParseDocument(ToJson(reg), &reg_back).ok()) << ToJson(reg);
  EXPECT_EQ(reg_back.node().capacity().cpu(), reg.node().capacity().cpu());
  EXPECT_EQ(reg_back.node().attributes().labels().at("zone"), "a");

  v1::HeartbeatRequest hb;
  hb.mutable_load()->set_cpu(12.5);
  hb.mutable_load()->set_memory(3);
  v1::HeartbeatRequest hb_back;
  ASSERT_TRUE(ParseDocument(ToJson(hb), &hb_back).ok()) << ToJson(hb);
  EXPECT_DOUBLE_EQ(hb_back.load().cpu(), 12.5);

  v1::UpdateAllocationsRequest up;
  auto* u = up.add_updates();
  u->set_id("a1");
  u->set_client_status(v1::Allocation::FAILED);
  u->set_client_description("task server: exited with code 1");
  auto* ts = u->add_task_states();
  ts->set_name("server");
  ts->set_state(v1::TaskState::DEAD);
  ts->set_failed(true);
  ts->set_exit_code(1);
  ts->set_pid(42);
  ts->set_started_at_ms(1700000000000);
  ts->set_finished_at_ms(1700000001000);
  auto* p = u->add_ports();
  p->set_name("http");
  p->set_value(23456);
  v1::UpdateAllocationsRequest up_back;
  ASSERT_TRUE(ParseDocument(ToJson(up), &up_back).ok()) << ToJson(up);
  EXPECT_EQ(up_back.updates(0).task_states(0).finished_at_ms(), 1700000001000);
  EXPECT_EQ(up_back.updates(0).client_status(), v1::Allocation::FAILED);
}

}  // namespace
}  // namespace orch::agent
