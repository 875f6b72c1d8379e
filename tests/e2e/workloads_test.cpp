// Workloads with real processes (issue 16):
// - a periodic job ("* * * * *") on three masters launches exactly one child
//   per minute across a kill -9 of the leader just before a minute boundary;
// - `orchctl job dispatch` runs a parameterized job with meta and a payload
//   the task reads from its directory;
// - with a real dockerd: a job writes to a host volume, is stopped, runs
//   again and reads its data back; a group asking for a volume no node has
//   is blocked with that reason.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <ctime>
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

v1::Job ExecBatch(const std::string& id, const std::string& script) {
  v1::Job j;
  j.set_id(id);
  j.set_type(v1::Job::BATCH);
  auto* g = j.add_groups();
  g->set_name("g");
  g->set_count(1);
  auto* t = g->add_tasks();
  t->set_name("t");
  t->set_driver("exec");
  t->set_command("/bin/sh");
  t->add_args("-c");
  t->add_args(script);
  t->mutable_resources()->set_cpu(10);
  t->mutable_resources()->set_memory(16);
  return j;
}

int64_t NowS() { return static_cast<int64_t>(std::time(nullptr)); }

class LaunchE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = ::testing::TempDir() + "/orch-launch-" + info->name() + "-" + std::to_string(getpid());
    std::filesystem::remove_all(root_);
    cluster_ = std::make_unique<MasterCluster>(
        root_, std::vector<std::string>{"--raft-tick", "20ms", "--election-ticks", "10",
                                        "--heartbeat-ttl", "5s"});
    cluster_->Bootstrap({"m1", "m2", "m3"});
    ASSERT_FALSE(cluster_->WaitLeader(30s).empty());
    agent_ = std::make_unique<Subprocess>(
        std::vector<std::string>{ORCH_AGENT_BIN, "--name", "a1", "--data-dir", root_ + "/agent",
                                 "--masters", cluster_->HttpUrlList(), "--http",
                                 "127.0.0.1:" + std::to_string(FreePort()), "--drivers", "exec"},
        root_ + "/agent.log");
  }
  void TearDown() override {
    if (agent_) {
      agent_->Signal(SIGTERM);
      agent_->Wait(15s);
    }
    KillByMarker(root_ + "/");
    if (HasFailure() && cluster_) std::cerr << cluster_->Logs(150);
    if (HasFailure()) std::cerr << "==== agent.log\n" << ReadFile(root_ + "/agent.log");
    cluster_.reset();
    if (!HasFailure()) std::filesystem::remove_all(root_);
  }

  std::vector<std::string> Children(OrchClient& c, const std::string& job) {
    std::vector<std::string> out;
    auto d = c.GetJob(job);
    if (d.ok()) {
      for (const auto& ch : d->value.children()) out.push_back(ch.id());
    }
    return out;
  }

  std::string root_;
  std::unique_ptr<MasterCluster> cluster_;
  std::unique_ptr<Subprocess> agent_;
};

TEST_F(LaunchE2ETest, APeriodicJobLaunchesOncePerMinuteAcrossALeaderFailover) {
  OrchClient any(cluster_->HttpUrls());
  v1::Job job = ExecBatch("tick", "echo tick " + root_);
  job.mutable_periodic()->set_cron("* * * * *");
  // Not within seconds of a minute boundary, so the first launch is known.
  while (NowS() % 60 > 55) std::this_thread::sleep_for(200ms);
  const int64_t submitted = NowS();
  ASSERT_TRUE(WaitFor([&] { return any.SubmitJob(job).ok(); }, 3s));
  const int64_t first = (submitted / 60 + 1) * 60;  // the first minute boundary after the submit
  const int64_t second = first + 60;
  // Just before the second boundary, the leader dies.
  while (NowS() < second - 4) std::this_thread::sleep_for(200ms);
  const std::string leader = cluster_->WaitLeader(10s);
  ASSERT_FALSE(leader.empty());
  cluster_->Kill(leader);
  ASSERT_FALSE(cluster_->WaitLeader(20s, leader).empty());
  std::vector<std::string> want = {"tick/periodic-" + std::to_string(first),
                                   "tick/periodic-" + std::to_string(second)};
  EXPECT_TRUE(WaitFor([&] { return Children(any, "tick") == want; }, 30s))
      << "children: " << ::testing::PrintToString(Children(any, "tick"));
  // Nothing more until the third boundary.
  std::this_thread::sleep_for(std::chrono::seconds(std::max<int64_t>(0, second + 50 - NowS())));
  EXPECT_EQ(Children(any, "tick"), want);
  // The children ran.
  for (const auto& c : want) {
    EXPECT_TRUE(WaitFor(
        [&] {
          auto d = any.GetJob(c);
          return d.ok() && d->value.allocations_size() == 1 &&
                 d->value.allocations(0).client_status() == v1::Allocation::COMPLETE;
        },
        30s))
        << c;
  }
  cluster_->Start(leader);
}

TEST_F(LaunchE2ETest, DispatchGivesTheTaskItsMetaAndPayload) {
  OrchClient any(cluster_->HttpUrls());
  v1::Job job = ExecBatch("resize",
                          "echo meta=$ORCH_META_size parent=$ORCH_PARENT_JOB; cat local/input.txt; "
                          ": " +
                              root_);
  job.mutable_parameterized()->set_payload("required");
  job.mutable_parameterized()->add_meta_required("size");
  job.mutable_groups(0)->mutable_tasks(0)->mutable_dispatch_payload()->set_file("input.txt");
  ASSERT_TRUE(WaitFor([&] { return any.SubmitJob(job).ok(); }, 20s));
  const std::string payload_file = root_ + "/payload.txt";
  std::ofstream(payload_file) << "the payload\n";
  auto refused = RunCommand(
      {ORCHCTL_BIN, "--addr", cluster_->HttpUrlList(), "job", "dispatch", "resize", payload_file});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("size"), std::string::npos) << refused.err;
  auto ok = RunCommand({ORCHCTL_BIN, "--addr", cluster_->HttpUrlList(), "job", "dispatch", "resize",
                        "--meta", "size=64", payload_file});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  ASSERT_NE(ok.out.find("dispatched job resize/dispatch-"), std::string::npos) << ok.out;
  std::string child = ok.out.substr(ok.out.find("resize/dispatch-"));
  child = child.substr(0, child.find(' '));
  std::string alloc;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto d = any.GetJob(child);
        if (!d.ok() || d->value.allocations_size() != 1) return false;
        alloc = d->value.allocations(0).id();
        return d->value.allocations(0).client_status() == v1::Allocation::COMPLETE;
      },
      30s))
      << child;
  std::string out = ReadFile(root_ + "/agent/allocs/" + alloc + "/t.stdout");
  EXPECT_NE(out.find("meta=64 parent=resize"), std::string::npos) << out;
  EXPECT_NE(out.find("the payload"), std::string::npos) << out;
  auto status =
      RunCommand({ORCHCTL_BIN, "--addr", cluster_->HttpUrlList(), "describe", "job", "resize"});
  EXPECT_NE(status.out.find(child), std::string::npos) << status.out;
}

// With Docker: host volumes.
class VolumeE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* sock = std::getenv("ORCH_DOCKER_SOCKET");
    const char* reg = std::getenv("ORCH_TEST_REGISTRY");
    if (sock == nullptr || reg == nullptr || !*sock || !*reg) {
      GTEST_SKIP() << "ORCH_DOCKER_SOCKET and ORCH_TEST_REGISTRY are not set (scripts/dockerd.sh)";
    }
    socket_ = sock;
    image_ = std::string(reg) + "/orch-test/busybox:1";
    root_ = ::testing::TempDir() + "/orch-volume-" + NewUuid().substr(0, 8);
    cluster_ =
        std::make_unique<MasterCluster>(root_, std::vector<std::string>{"--heartbeat-ttl", "10s"});
    cluster_->Bootstrap({"m1"});
    ASSERT_FALSE(cluster_->WaitLeader(30s).empty());
    std::filesystem::create_directories(root_ + "/data");
    chmod((root_ + "/data").c_str(), 0777);
    agent_ = std::make_unique<Subprocess>(
        std::vector<std::string>{ORCH_AGENT_BIN, "--name", "v1", "--data-dir", root_ + "/agent",
                                 "--masters", cluster_->HttpUrlList(), "--http",
                                 "127.0.0.1:" + std::to_string(FreePort()), "--drivers",
                                 "exec,docker", "--docker-socket", socket_, "--host-volume",
                                 "data=" + root_ + "/data"},
        root_ + "/agent.log");
  }
  void TearDown() override {
    if (socket_.empty()) return;
    OrchClient c(cluster_->HttpUrls());
    for (const char* j : {"vol", "vol2", "nowhere", "docker-web"})
      (void)StopJobAndWaitQuietly(c, j);
    if (agent_) {
      agent_->Signal(SIGTERM);
      agent_->Wait(20s);
    }
    if (HasFailure() && cluster_) std::cerr << cluster_->Logs(150);
    if (HasFailure()) std::cerr << "==== agent.log\n" << ReadFile(root_ + "/agent.log");
    cluster_.reset();
    std::error_code ec;
    if (!HasFailure()) std::filesystem::remove_all(root_, ec);
  }
  static bool StopJobAndWaitQuietly(OrchClient& c, const std::string& job) {
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
  v1::Job DockerWithVolume(const std::string& id, const std::string& source,
                           const std::string& script) {
    v1::Job j;
    j.set_id(id);
    j.set_type(v1::Job::SERVICE);
    auto* g = j.add_groups();
    g->set_name("g");
    g->set_count(1);
    auto& v = (*g->mutable_volumes())["data"];
    v.set_type("host");
    v.set_source(source);
    v.set_access_mode("single-node-single-writer");
    auto* t = g->add_tasks();
    t->set_name("t");
    t->set_driver("docker");
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
  std::string RunningAlloc(OrchClient& c, const std::string& job) {
    std::string id;
    WaitFor(
        [&] {
          auto a = c.ListAllocations(job);
          if (!a.ok()) return false;
          for (const auto& x : a->value.allocations()) {
            if (x.client_status() == v1::Allocation::RUNNING &&
                x.desired_status() == v1::Allocation::RUN) {
              id = x.id();
              return true;
            }
          }
          return false;
        },
        60s);
    return id;
  }

  std::string socket_, image_, root_;
  std::unique_ptr<MasterCluster> cluster_;
  std::unique_ptr<Subprocess> agent_;
};

TEST_F(VolumeE2ETest, DataWrittenToAHostVolumeIsThereWhenTheJobRunsAgain) {
  OrchClient c(cluster_->HttpUrls());
  const std::string script =
      "seen=/srv/data/seen-$ORCH_ALLOC_ID; echo \"before: $(cat /srv/data/log 2>/dev/null)\" > "
      "$seen; "
      "echo \"volume at $ORCH_VOLUME_data\" >> $seen; echo \"$ORCH_ALLOC_ID\" >> /srv/data/log; "
      "exec sleep 600";
  ASSERT_TRUE(
      WaitFor([&] { return c.SubmitJob(DockerWithVolume("vol", "data", script)).ok(); }, 20s));
  std::string first = RunningAlloc(c, "vol");
  ASSERT_FALSE(first.empty());
  ASSERT_TRUE(
      WaitFor([&] { return ReadFile(root_ + "/data/log").find(first) != std::string::npos; }, 30s));
  ASSERT_TRUE(StopJobAndWaitQuietly(c, "vol"));

  ASSERT_TRUE(c.SubmitJob(DockerWithVolume("vol", "data", script)).ok());
  std::string second = RunningAlloc(c, "vol");
  ASSERT_FALSE(second.empty());
  ASSERT_NE(second, first);
  std::string out;
  EXPECT_TRUE(WaitFor(
      [&] {
        // Written by the second run, a line at a time: wait for both lines.
        out = ReadFile(root_ + "/data/seen-" + second);
        return out.find("before: " + first) != std::string::npos &&
               out.find("volume at ") != std::string::npos;
      },
      30s))
      << "the second run read back: " << out;
  EXPECT_NE(out.find("volume at /srv/data"), std::string::npos) << out;

  // A second single writer on the same node waits; a volume nobody has blocks.
  ASSERT_TRUE(c.SubmitJob(DockerWithVolume("vol2", "data", script)).ok());
  ASSERT_TRUE(c.SubmitJob(DockerWithVolume("nowhere", "nowhere", script)).ok());
  auto blocked_with = [&](const std::string& job, const std::string& why) {
    return WaitFor(
        [&] {
          auto d = c.GetJob(job);
          if (!d.ok()) return false;
          for (const auto& e : d->value.evaluations()) {
            if (e.status() == v1::Evaluation::BLOCKED &&
                e.status_description().find(why) != std::string::npos)
              return true;
          }
          return false;
        },
        20s);
  };
  EXPECT_TRUE(blocked_with("vol2", "volume has a single writer"));
  EXPECT_TRUE(blocked_with("nowhere", "missing host volume \"nowhere\""));
}

// The README's build-then-run flow: docker build and push of
// examples/docker-web, then its job file, served through the balancer.
TEST_F(VolumeE2ETest, TheDockerWebExampleIsBuiltPushedAndServedBehindTheBalancer) {
  const std::string image =
      std::string(std::getenv("ORCH_TEST_REGISTRY")) + "/examples/docker-web:1";
  if (std::string(std::getenv("ORCH_TEST_REGISTRY")) != "127.0.0.1:5055") {
    GTEST_SKIP() << "examples/docker-web names the registry 127.0.0.1:5055";
  }
  const std::string docker_host = "unix://" + socket_;
  std::string docker;
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin"}) {
    if (docker.empty() && access((std::string(dir) + "/docker").c_str(), X_OK) == 0)
      docker = std::string(dir) + "/docker";
  }
  if (docker.empty()) GTEST_SKIP() << "no docker client (docker.io)";
  auto build = RunCommand({docker, "-H", docker_host, "build", "-q", "-t", image,
                           std::string(ORCH_SOURCE_DIR) + "/examples/docker-web"},
                          {}, 120s);
  ASSERT_EQ(build.exit_code, 0) << build.out << build.err;
  auto push = RunCommand({docker, "-H", docker_host, "push", image}, {}, 120s);
  ASSERT_EQ(push.exit_code, 0) << push.out << push.err;
  (void)RunCommand({docker, "-H", docker_host, "rmi", image});  // the agent pulls it
  auto run = RunCommand({ORCHCTL_BIN, "--addr", cluster_->HttpUrlList(), "run", "-d", "-f",
                         std::string(ORCH_SOURCE_DIR) + "/examples/docker-web/job.yaml"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  HttpClient http;
  std::string body;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = http.Get("http://127.0.0.1:8081/", 2s);
        if (!r.ok() || r->status != 200) return false;
        body = r->body;
        return true;
      },
      90s))
      << "nothing answered on the balancer's 8081";
  EXPECT_EQ(body, "hello from an image built for orch\n");
  OrchClient c(cluster_->HttpUrls());
  EXPECT_TRUE(StopJobAndWaitQuietly(c, "docker-web"));
}

}  // namespace
}  // namespace orch::e2e
