// The containerd driver end to end (issue 16): real masters, an agent with
// --drivers exec,containerd against the private containerd scripts/dockerd.sh
// starts (ORCH_CONTAINERD_SOCKET), images from the loopback registry:
// - a job writes to a host volume, is stopped, runs again and reads its data
//   back; its output reaches `orchctl logs`;
// - examples/web-containerd.yaml is served through the balancer, and still
//   is, by the same containers, after kill -9 of the agent and a new agent.
// Skips, saying why, without containerd.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "api/client/client.h"
#include "common/http_client.h"
#include "common/ids.h"
#include "masters.h"
#include "process.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

class ContainerdE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* sock = std::getenv("ORCH_CONTAINERD_SOCKET");
    const char* reg = std::getenv("ORCH_TEST_REGISTRY");
    if (sock == nullptr || reg == nullptr || !*sock || !*reg) {
      GTEST_SKIP()
          << "ORCH_CONTAINERD_SOCKET and ORCH_TEST_REGISTRY are not set (scripts/dockerd.sh)";
    }
    if (geteuid() != 0) GTEST_SKIP() << "containerd's tasks need root";
    socket_ = sock;
    image_ = std::string(reg) + "/orch-test/busybox:1";
    root_ = ::testing::TempDir() + "/orch-containerd-" + NewUuid().substr(0, 8);
    cluster_ =
        std::make_unique<MasterCluster>(root_, std::vector<std::string>{"--heartbeat-ttl", "10s"});
    cluster_->Bootstrap({"m1"});
    ASSERT_FALSE(cluster_->WaitLeader(30s).empty());
    std::filesystem::create_directories(root_ + "/data");
    agent_http_ = "127.0.0.1:" + std::to_string(FreePort());
    StartAgent();
  }
  void StartAgent() {
    agent_ = std::make_unique<Subprocess>(
        std::vector<std::string>{ORCH_AGENT_BIN, "--name", "c1", "--data-dir", root_ + "/agent",
                                 "--masters", cluster_->HttpUrlList(), "--http", agent_http_,
                                 "--drivers", "exec,containerd", "--containerd-socket", socket_,
                                 "--host-volume", "data=" + root_ + "/data"},
        root_ + "/agent.log");
  }
  void TearDown() override {
    if (socket_.empty()) return;
    OrchClient c(cluster_->HttpUrls());
    for (const char* j : {"cvol", "web-containerd"}) (void)StopJobAndWait(c, j);
    if (agent_) {
      agent_->Signal(SIGTERM);
      agent_->Wait(20s);
    }
    if (HasFailure() && cluster_) std::cerr << cluster_->Logs(150);
    if (HasFailure()) std::cerr << "==== agent.log\n" << ReadFile(root_ + "/agent.log");
    cluster_.reset();
    // Whatever way the test ended (an ASSERT returns early), no task it
    // started outlives it.
    if (int left = KillByMarker(root_ + "/"); left > 0)
      std::cerr << left << " leftover process(es) killed\n";
    std::error_code ec;
    if (!HasFailure()) std::filesystem::remove_all(root_, ec);
  }
  static bool StopJobAndWait(OrchClient& c, const std::string& job) {
    if (!c.StopJob(job).ok()) return false;
    return WaitFor(
        [&] {
          auto a = c.ListAllocations(job);
          if (!a.ok()) return true;
          for (const auto& x : a->value.allocations()) {
            if (x.client_status() == v1::Allocation::RUNNING ||
                x.client_status() == v1::Allocation::PENDING)
              return false;
          }
          return true;
        },
        30s);
  }
  v1::Job WithVolume(const std::string& script) {
    v1::Job j;
    j.set_id("cvol");
    j.set_type(v1::Job::SERVICE);
    auto* g = j.add_groups();
    g->set_name("g");
    g->set_count(1);
    auto& v = (*g->mutable_volumes())["data"];
    v.set_type("host");
    v.set_source("data");
    auto* t = g->add_tasks();
    t->set_name("t");
    t->set_driver("containerd");
    t->set_image(image_);
    t->set_command("/bin/sh");
    t->add_args("-c");
    t->add_args(script);
    t->mutable_resources()->set_cpu(10);
    t->mutable_resources()->set_memory(32);
    auto* m = t->add_volume_mounts();
    m->set_volume("data");
    m->set_destination("/srv/data");
    return j;
  }
  std::vector<std::string> RunningAllocs(OrchClient& c, const std::string& job, std::size_t n) {
    std::vector<std::string> ids;
    WaitFor(
        [&] {
          ids.clear();
          auto a = c.ListAllocations(job);
          if (!a.ok()) return false;
          for (const auto& x : a->value.allocations()) {
            if (x.client_status() == v1::Allocation::RUNNING &&
                x.desired_status() == v1::Allocation::RUN)
              ids.push_back(x.id());
          }
          return ids.size() == n;
        },
        60s);
    return ids;
  }

  std::string socket_, image_, root_, agent_http_;
  std::unique_ptr<MasterCluster> cluster_;
  std::unique_ptr<Subprocess> agent_;
};

TEST_F(ContainerdE2ETest, DataWrittenToAHostVolumeIsThereWhenTheJobRunsAgain) {
  OrchClient c(cluster_->HttpUrls());
  const std::string script =
      "seen=/srv/data/seen-$ORCH_ALLOC_ID; echo \"before: $(cat /srv/data/log 2>/dev/null)\" > "
      "$seen; echo \"$ORCH_ALLOC_ID\" >> /srv/data/log; echo started $ORCH_ALLOC_ID; "
      "exec sleep 600";
  ASSERT_TRUE(WaitFor([&] { return c.SubmitJob(WithVolume(script)).ok(); }, 20s));
  auto first = RunningAllocs(c, "cvol", 1);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_TRUE(WaitFor(
      [&] { return ReadFile(root_ + "/data/log").find(first[0]) != std::string::npos; }, 30s));
  // Its output, through the masters.
  auto logs = RunCommand({ORCHCTL_BIN, "--addr", cluster_->HttpUrlList(), "logs", first[0]});
  EXPECT_NE(logs.out.find("started " + first[0]), std::string::npos) << logs.out << logs.err;
  ASSERT_TRUE(StopJobAndWait(c, "cvol"));

  ASSERT_TRUE(c.SubmitJob(WithVolume(script)).ok());
  auto second = RunningAllocs(c, "cvol", 1);
  ASSERT_EQ(second.size(), 1u);
  ASSERT_NE(second[0], first[0]);
  std::string out;
  EXPECT_TRUE(WaitFor(
      [&] {
        out = ReadFile(root_ + "/data/seen-" + second[0]);
        return out.find("before: " + first[0]) != std::string::npos;
      },
      30s))
      << "the second run read back: " << out;
}

TEST_F(ContainerdE2ETest, TheWebContainerdExampleIsServedAndSurvivesKillNineOfTheAgent) {
  if (std::string(std::getenv("ORCH_TEST_REGISTRY")) != "127.0.0.1:5055") {
    GTEST_SKIP() << "examples/web-containerd.yaml names the registry 127.0.0.1:5055";
  }
  auto run = RunCommand({ORCHCTL_BIN, "--addr", cluster_->HttpUrlList(), "run", "-d", "-f",
                         std::string(ORCH_SOURCE_DIR) + "/examples/web-containerd.yaml"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  HttpClient http;
  auto served = [&] {
    return WaitFor(
        [&] {
          auto r = http.Get("http://127.0.0.1:8082/", 2s);
          return r.ok() && r->status == 200 && r->body == "orch test image\n";
        },
        90s);
  };
  EXPECT_TRUE(served()) << "nothing answered on the balancer's 8082";
  OrchClient c(cluster_->HttpUrls());
  auto before = RunningAllocs(c, "web-containerd", 2);
  ASSERT_EQ(before.size(), 2u);

  // kill -9 of the agent: the containers keep running; a new agent adopts
  // them (the same allocations, never a second container).
  agent_->Signal(SIGKILL);
  agent_->Wait(10s);
  StartAgent();
  EXPECT_TRUE(served());
  auto after = RunningAllocs(c, "web-containerd", 2);
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(after, before) << "the same allocations run on";
  std::string log = ReadFile(root_ + "/agent.log");
  EXPECT_NE(log.find("adopted container"), std::string::npos) << "the new agent adopted them";
  EXPECT_TRUE(StopJobAndWait(c, "web-containerd"));
}

}  // namespace
}  // namespace orch::e2e
