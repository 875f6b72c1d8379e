// A whole agent against a fake master, for work found outside the records:
// an exec task whose record was lost while the masters dropped its
// allocation is stopped after a restart (needs root and cgroups), and a
// Docker engine that comes up after the agent started is advertised (needs
// ORCH_DOCKER_SOCKET, scripts/dockerd.sh). Each skips, saying why, without.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "agent/agent.h"
#include "agent/drivers/exec_driver.h"
#include "fake_master.h"
#include "test_util.h"

namespace orch::agent {
namespace {

using testing::FakeMaster;
using testing::TempDir;
using testing::WaitFor;
using v1::Allocation;

class AgentDiscoveryTest : public ::testing::Test {
 protected:
  AgentConfig Config() {
    AgentConfig cfg;
    cfg.name = "test-node";
    cfg.data_dir = dir_.path();
    cfg.masters = {master_.url()};
    cfg.http = "127.0.0.1:0";
    cfg.lb_disable = true;
    cfg.cgroup_parent = "orch-discovery-test-" + std::to_string(getpid());
    return cfg;
  }

  // The test's cgroups (empty by now), deepest first, in every hierarchy.
  void TearDown() override {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const auto& root : fs::directory_iterator("/sys/fs/cgroup", ec)) {
      for (fs::path base : {root.path() / Config().cgroup_parent,
                            fs::path("/sys/fs/cgroup") / Config().cgroup_parent}) {
        if (!fs::is_directory(base, ec)) continue;
        std::vector<fs::path> dirs;
        for (const auto& e : fs::recursive_directory_iterator(base, ec)) {
          if (e.is_directory(ec)) dirs.push_back(e.path());
        }
        for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) rmdir(it->c_str());
        rmdir(base.c_str());
      }
    }
  }

  TempDir dir_;
  FakeMaster master_;
};

TEST_F(AgentDiscoveryTest, OrphanedExecTaskOfADroppedAllocationIsStoppedAfterRestart) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for cgroups (exec Discover finds tasks by cgroup)";
  {
    ExecDriverOptions o;
    o.cgroups = CgroupOptions{Config().cgroup_parent, "auto"};
    ExecDriver probe(o);
    if (!probe.cgroups().enabled()) GTEST_SKIP() << "no usable cgroups on this machine";
  }
  std::string node_id;
  int pid = 0;
  {
    auto agent = Agent::Start(Config());
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    node_id = (*agent)->node_id();
    ASSERT_TRUE(WaitFor([&] { return master_.Node(node_id).has_value(); }));
    Allocation a;
    a.set_id("orphan-1");
    a.set_job_id("web");
    a.set_group("web");
    a.set_node_id(node_id);
    a.set_desired_status(Allocation::RUN);
    auto* t = a.mutable_task_group()->add_tasks();
    t->set_name("server");
    t->set_driver("exec");
    t->set_command("/bin/sh");
    t->add_args("-c");
    t->add_args("exec sleep 9007.5");
    t->mutable_kill_timeout()->set_nanos(200'000'000);
    master_.PutAlloc(a);
    ASSERT_TRUE(WaitFor([&] {
      auto got = master_.Alloc("orphan-1");
      return got && got->client_status() == Allocation::RUNNING;
    }));
    pid = master_.Alloc("orphan-1")->task_states(0).pid();
    (*agent)->Shutdown();
  }
  ASSERT_TRUE(ProcessAlive(pid, 0));
  // As if the agent had died before saving the record; meanwhile the
  // masters dropped the allocation.
  std::filesystem::remove(dir_.path() + "/state/orphan-1.json");
  master_.RemoveAlloc("orphan-1");

  auto agent = Agent::Start(Config());
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid, 0); }))
      << "the orphaned task (pid " << pid << ") still runs";
  EXPECT_TRUE(testing::ProcessesWithArg("sleep 9007.5").empty());
  (*agent)->Shutdown();
}

TEST_F(AgentDiscoveryTest, DockerEngineThatComesUpLaterIsAdvertised) {
  const char* sock = std::getenv("ORCH_DOCKER_SOCKET");
  if (sock == nullptr || *sock == '\0') {
    GTEST_SKIP() << "ORCH_DOCKER_SOCKET is not set (scripts/dockerd.sh starts a private dockerd)";
  }
  AgentConfig cfg = Config();
  cfg.drivers = {"exec", "docker"};
  cfg.docker_socket = dir_.path() + "/docker.sock";  // nothing there yet
  cfg.docker_probe_interval = "200ms";
  auto agent = Agent::Start(cfg);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  std::string node_id = (*agent)->node_id();
  ASSERT_TRUE(WaitFor([&] { return master_.Node(node_id).has_value(); }));
  auto drivers = master_.Node(node_id)->attributes().drivers();
  EXPECT_EQ(std::count(drivers.begin(), drivers.end(), "docker"), 0);
  EXPECT_TRUE(master_.Node(node_id)->attributes().docker_version().empty());

  // The engine "comes up" at the configured path.
  std::filesystem::create_symlink(sock, cfg.docker_socket);
  EXPECT_TRUE(WaitFor([&] {
    auto n = master_.Node(node_id);
    if (!n) return false;
    const auto& d = n->attributes().drivers();
    return std::count(d.begin(), d.end(), "docker") == 1 &&
           !n->attributes().docker_version().empty();
  })) << "the node never advertised docker";
  auto n = master_.Node(node_id);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(std::count(n->attributes().drivers().begin(), n->attributes().drivers().end(), "exec"),
            1);
  (*agent)->Shutdown();
}

}  // namespace
}  // namespace orch::agent
