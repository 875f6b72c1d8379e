#include "test_util.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "master/replication/raft_node.h"
#include "master/state/state_store.h"

namespace orch::master::testing {

std::unique_ptr<replication::RaftNode> StartSingleLeader(const std::string& dir,
                                                         StateStore* store) {
  replication::RaftNodeOptions o;
  o.member_id = "m1";
  o.initial_peers = {{"m1", "127.0.0.1:0"}};
  o.tick = std::chrono::milliseconds(10);
  auto log = replication::RaftNode::Open(o, dir, store);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  if (!log.ok()) return nullptr;
  (*log)->Start(nullptr);
  for (int i = 0; i < 500 && !(*log)->IsLeader(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE((*log)->IsLeader());
  if (!(*log)->IsLeader()) return nullptr;
  return std::move(*log);
}

std::string TempDir(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string dir = ::testing::TempDir() + "/orch-" + info->test_suite_name() + "-" + info->name() + "-" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

v1::Job SampleJob(const std::string& id, int count, int64_t cpu, int64_t memory) {
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
  t->add_args("60");
  t->mutable_resources()->set_cpu(cpu);
  t->mutable_resources()->set_memory(memory);
  return job;
}

v1::Node SampleNode(const std::string& id, int64_t cpu, int64_t memory) {
  v1::Node n;
  n.set_id(id);
  n.set_name("node-" + id);
  n.mutable_capacity()->set_cpu(cpu);
  n.mutable_capacity()->set_memory(memory);
  n.mutable_attributes()->add_drivers("exec");
  n.set_status(v1::Node::READY);
  return n;
}

v1::Command RegisterJobCmd(const v1::Job& job, const std::string& eval_id) {
  v1::Command cmd;
  cmd.set_time_ms(1000);
  *cmd.mutable_register_job()->mutable_job() = job;
  cmd.mutable_register_job()->mutable_eval()->set_id(eval_id);
  cmd.mutable_register_job()->mutable_eval()->set_job_id(job.id());
  return cmd;
}

v1::Command RegisterNodeCmd(const v1::Node& node) {
  v1::Command cmd;
  cmd.set_time_ms(1000);
  *cmd.mutable_register_node()->mutable_node() = node;
  return cmd;
}

}  // namespace orch::master::testing
