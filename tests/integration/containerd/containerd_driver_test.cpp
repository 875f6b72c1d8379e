// The containerd driver against a real containerd (scripts/dockerd.sh starts
// a private one and prints ORCH_CONTAINERD_SOCKET) pulling from the loopback
// registries (ORCH_TEST_REGISTRY, ORCH_TEST_AUTH_REGISTRY): the docker
// driver's tests that make sense here (lifecycle, exit codes, limits read
// back from the cgroup, logs, stop grace, OOM, users, pulls with and without
// credentials, discovery, adoption by a new driver), exits seen from the
// events service alone, and a host volume's data surviving a second run.
// Each test uses a namespace of its own, so every test pulls. Skips, saying
// so, without containerd.
#include "agent/drivers/containerd/containerd_driver.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "agent/cgroups/cgroups.h"
#include "agent/drivers/containerd/containerd_client.h"
#include "agent/files.h"
#include "common/base64.h"
#include "common/ids.h"

namespace orch::agent {
namespace {

using namespace std::chrono_literals;

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds deadline = 30s) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return pred();
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ContainerdDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* sock = std::getenv("ORCH_CONTAINERD_SOCKET");
    const char* reg = std::getenv("ORCH_TEST_REGISTRY");
    if (sock == nullptr || reg == nullptr || !*sock || !*reg) {
      GTEST_SKIP() << "ORCH_CONTAINERD_SOCKET and ORCH_TEST_REGISTRY are not set: run "
                      "`eval \"$(sudo scripts/dockerd.sh)\"` first (scripts/test.sh does as root)";
    }
    if (geteuid() != 0) GTEST_SKIP() << "containerd's tasks need root";
    socket_ = sock;
    registry_ = reg;
    image_ = registry_ + "/orch-test/busybox:1";
    ns_ = "orch-test-" + NewUuid().substr(0, 10);
    char tmpl[] = "/tmp/orch-containerd-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    driver_ = NewDriver();
    ASSERT_NE(driver_, nullptr);
  }

  void TearDown() override {
    if (driver_ == nullptr) return;
    // Whatever a test left behind: every container of its namespace.
    driver_->SetEventCallback(nullptr);  // a test's callback may name its locals
    for (const auto& h : driver_->Discover()) {
      const std::string id = TaskId(h.alloc_id(), h.task());
      if (driver_->Inspect(id).status().code() == StatusCode::kNotFound) (void)driver_->Recover(h);
      (void)driver_->Stop(TaskId(h.alloc_id(), h.task()), 0ms);
      (void)driver_->Wait(TaskId(h.alloc_id(), h.task()), 10s);
      driver_->Forget(TaskId(h.alloc_id(), h.task()));
    }
    // The namespace's images: containerd's collector takes their content and
    // snapshots.
    ctrd::images::ListImagesRequest list;
    ctrd::images::ListImagesResponse images;
    auto ctx = driver_->client().Context();
    if (driver_->client().images().List(ctx.get(), list, &images).ok()) {
      for (const auto& img : images.images()) {
        ctrd::images::DeleteImageRequest del;
        del.set_name(img.name());
        del.set_sync(true);
        google::protobuf::Empty empty;
        auto dctx = driver_->client().Context();
        (void)driver_->client().images().Delete(dctx.get(), del, &empty);
      }
    }
    driver_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::unique_ptr<ContainerdDriver> NewDriver(ContainerdDriverOptions o = {}) {
    o.socket = socket_;
    o.ns = ns_;
    o.fifo_dir = dir_ + "/fifo";
    if (o.poll_interval == ContainerdDriverOptions{}.poll_interval) o.poll_interval = 100ms;
    auto d = ContainerdDriver::Connect(o);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }

  TaskSpec Spec(const std::string& task, std::vector<std::string> args,
                const std::string& command = "/bin/sh") {
    TaskSpec s;
    s.alloc_id = NewUuid();
    s.task = task;
    s.job_id = "job-" + task;
    s.group = "g";
    s.image = image_;
    s.command = command;
    s.args = std::move(args);
    s.env = {{"PATH", "/host/path/not/for/containers"}, {"GREETING", "hi"}};
    s.task_dir = dir_ + "/" + s.alloc_id + "/" + task;
    s.stdout_path = s.task_dir + ".stdout";
    s.stderr_path = s.task_dir + ".stderr";
    s.memory_mib = 64;
    s.cpu_millicores = 500;
    EXPECT_TRUE(MakeDirs(s.task_dir).ok());
    return s;
  }

  TaskStatus WaitExited(const std::string& id, ContainerdDriver* d = nullptr) {
    auto st = (d ? d : driver_.get())->Wait(id, 60s);
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    EXPECT_FALSE(st.ok() && st->running()) << "task " << id << " did not exit";
    return st.ok() ? *st : TaskStatus{};
  }

  bool ContainerExists(const std::string& cid) {
    ctrd::containers::GetContainerRequest req;
    req.set_id(cid);
    ctrd::containers::GetContainerResponse resp;
    auto ctx = driver_->client().Context();
    return driver_->client().containers().Get(ctx.get(), req, &resp).ok();
  }

  bool ImageExists(const std::string& name) {
    ctrd::images::GetImageRequest req;
    req.set_name(name);
    ctrd::images::GetImageResponse resp;
    auto ctx = driver_->client().Context();
    return driver_->client().images().Get(ctx.get(), req, &resp).ok();
  }

  std::string socket_, registry_, image_, ns_, dir_;
  std::unique_ptr<ContainerdDriver> driver_;
};

TEST_F(ContainerdDriverTest, ConnectsAndUnreachableSocketIsAClearError) {
  EXPECT_FALSE(driver_->version().empty());
  ContainerdDriverOptions o;
  o.socket = dir_ + "/nothing.sock";
  o.fifo_dir = dir_ + "/fifo2";
  auto d = ContainerdDriver::Connect(o);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(d.status().message().find("nothing.sock"), std::string::npos) << d.status().ToString();
}

TEST_F(ContainerdDriverTest, PullsRunsAndReportsTheExitCodeThenRemovesTheContainer) {
  auto spec = Spec("main", {"-c", "echo out $GREETING $PATH; echo err >&2; exit 3"});
  std::vector<std::string> progress;  // what the task's status says meanwhile
  spec.progress = [&](const std::string& m) { progress.push_back(m); };
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_GE(progress.size(), 2u);
  EXPECT_EQ(progress.front(), "pulling image " + image_);
  EXPECT_EQ(progress.back(), "unpacking image " + image_);
  EXPECT_GT(h->pid(), 0);
  EXPECT_TRUE(ImageExists(image_)) << "the pull made an image record";
  const std::string id = TaskId(spec.alloc_id, "main");
  TaskStatus st = WaitExited(id);
  EXPECT_TRUE(st.exit_known);
  EXPECT_EQ(st.exit_code, 3);
  EXPECT_FALSE(st.oom_killed);
  EXPECT_GT(st.finished_at_ms, 0);
  // The image's PATH, the task's other variables; streams apart.
  EXPECT_EQ(Slurp(spec.stdout_path), "out hi /bin\n");
  EXPECT_EQ(Slurp(spec.stderr_path), "err\n");
  EXPECT_TRUE(WaitFor([&] { return !ContainerExists(h->container_id()); }))
      << "the container is removed once its exit is collected";
  auto cg = Cgroups::Open({"orch-containerd", "auto"});
  if (cg->enabled()) {
    EXPECT_TRUE(WaitFor([&] { return !cg->Exists(cg->TaskCgroup(spec.alloc_id, "main")); }));
    // runc removes the task's level when the task is deleted; the driver
    // removes the allocation's a moment later, after the container and its
    // snapshot (checking at once failed in a full run: it was still there).
    const std::string alloc_level =
        cg->FilePath(cg->TaskCgroup(spec.alloc_id, "main"), "memory", "");
    EXPECT_TRUE(WaitFor([&] {
      return !std::filesystem::exists(
          std::filesystem::path(alloc_level).parent_path().parent_path());
    })) << "the allocation's cgroup level goes too: "
        << alloc_level;
  }
  // Logs read the files.
  std::string out;
  ASSERT_TRUE(driver_
                  ->Logs(id, {},
                         [&](LogStream s, std::string_view d) {
                           if (s == LogStream::kStdout) out += d;
                           return true;
                         })
                  .ok());
  EXPECT_EQ(out, "out hi /bin\n");
  driver_->Forget(id);
  EXPECT_TRUE(driver_->Inspect(id).status().code() == StatusCode::kNotFound);
}

TEST_F(ContainerdDriverTest, LimitsAreInTheTasksCgroupAndStatsReadIt) {
  auto spec = Spec("limits", {"-c", "sleep 30"});
  spec.memory_mib = 48;
  spec.cpu_millicores = 250;
  spec.pids_limit = 64;
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  auto cg = Cgroups::Open({"orch-containerd", "auto"});
  if (!cg->enabled()) GTEST_SKIP() << "no cgroups: " << cg->disabled_reason();
  const std::string name = cg->TaskCgroup(spec.alloc_id, "limits");
  auto limit = cg->MemoryLimit(name);
  ASSERT_TRUE(limit.ok()) << limit.status().ToString();
  EXPECT_EQ(*limit, 48 * 1024 * 1024);
  if (cg->mode() == CgroupMode::kV1) {
    EXPECT_EQ(Slurp(cg->FilePath(name, "cpu", "cpu.cfs_quota_us")), "25000\n");
    EXPECT_EQ(Slurp(cg->FilePath(name, "cpu", "cpu.shares")), "256\n");
  }
  auto pids = cg->Pids(name);
  ASSERT_TRUE(pids.ok());
  EXPECT_NE(std::find(pids->begin(), pids->end(), h->pid()), pids->end())
      << "the task's process is in its cgroup";
  auto usage = driver_->Stats(TaskId(spec.alloc_id, "limits"));
  ASSERT_TRUE(usage.ok()) << usage.status().ToString();
  EXPECT_GT(usage->memory_bytes, 0);
}

TEST_F(ContainerdDriverTest, StopSendsSigtermThenSigkillAfterTheGrace) {
  auto polite =
      Spec("polite", {"-c", "trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done"});
  auto stubborn = Spec("stubborn", {"-c", "trap '' TERM; while true; do sleep 0.1; done"});
  ASSERT_TRUE(driver_->Start(polite).ok());
  ASSERT_TRUE(driver_->Start(stubborn).ok());
  std::this_thread::sleep_for(500ms);  // the traps are set
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(driver_->Stop(TaskId(polite.alloc_id, "polite"), 10s).ok());
  ASSERT_TRUE(driver_->Stop(TaskId(stubborn.alloc_id, "stubborn"), 1500ms).ok());
  TaskStatus p = WaitExited(TaskId(polite.alloc_id, "polite"));
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_TRUE(WaitFor([&] { return Slurp(polite.stdout_path) == "bye\n"; }, 5s));
  TaskStatus s = WaitExited(TaskId(stubborn.alloc_id, "stubborn"));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(s.signal, SIGKILL) << s.message;
  EXPECT_GE(took, 1400ms) << "killed before its grace";
  EXPECT_LT(took, 10s);
}

TEST_F(ContainerdDriverTest, OutOfMemoryIsReported) {
  auto spec = Spec("oom", {"-c", "sleep 1; exec dd if=/dev/zero of=/dev/null bs=64M count=4"});
  spec.memory_mib = 16;
  ASSERT_TRUE(driver_->Start(spec).ok());
  TaskStatus st = WaitExited(TaskId(spec.alloc_id, "oom"));
  EXPECT_TRUE(st.oom_killed) << "exit " << st.exit_code << " " << st.message;
  EXPECT_NE(st.message.find("16 MiB"), std::string::npos) << st.message;
}

TEST_F(ContainerdDriverTest, ExitsAndOomsAreSeenFromTheEventServiceAlone) {
  ContainerdDriverOptions o;
  o.poll_interval = std::chrono::hours(1);
  o.resync_interval = std::chrono::hours(1);
  driver_ = NewDriver(o);
  ASSERT_NE(driver_, nullptr);
  std::atomic<int64_t> noticed_ms{0};
  driver_->SetEventCallback([&] {
    noticed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  });
  std::this_thread::sleep_for(1000ms);  // subscribed (and the first look done)
  auto spec = Spec("exits", {"-c", "sleep 1; exit 3"});
  ASSERT_TRUE(driver_->Start(spec).ok());
  TaskStatus st = WaitExited(TaskId(spec.alloc_id, "exits"));
  EXPECT_EQ(st.exit_code, 3);
  // A figure, not a check: how long after containerd's exited_at the driver
  // knew.
  if (noticed_ms > 0) {
    std::printf("exit noticed %lld ms after containerd's exited_at\n",
                static_cast<long long>(noticed_ms.load() - st.finished_at_ms));
  }
  noticed_ms = 0;
  auto oom = Spec("oom", {"-c", "sleep 1; exec dd if=/dev/zero of=/dev/null bs=64M count=4"});
  oom.memory_mib = 16;
  ASSERT_TRUE(driver_->Start(oom).ok());
  st = WaitExited(TaskId(oom.alloc_id, "oom"));
  EXPECT_TRUE(st.oom_killed) << "exit " << st.exit_code << " " << st.message;
  if (noticed_ms > 0) {
    std::printf("OOM kill noticed %lld ms after containerd's exited_at\n",
                static_cast<long long>(noticed_ms.load() - st.finished_at_ms));
  }
}

TEST_F(ContainerdDriverTest, UsersResolveAgainstTheImage) {
  auto numeric = Spec("numeric", {"-c", "id -u; id -g"});
  numeric.user = "1000:1001";
  ASSERT_TRUE(driver_->Start(numeric).ok());
  EXPECT_EQ(WaitExited(TaskId(numeric.alloc_id, "numeric")).exit_code, 0);
  EXPECT_EQ(Slurp(numeric.stdout_path), "1000\n1001\n");

  auto named = Spec("named", {"-c", "id -u"});
  named.user = "root";  // from the image's /etc/passwd
  ASSERT_TRUE(driver_->Start(named).ok());
  EXPECT_EQ(WaitExited(TaskId(named.alloc_id, "named")).exit_code, 0);
  EXPECT_EQ(Slurp(named.stdout_path), "0\n");

  auto unknown = Spec("unknown", {"-c", "true"});
  unknown.user = "nobody-here";
  auto h = driver_->Start(unknown);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("nobody-here"), std::string::npos) << h.status().ToString();
  EXPECT_FALSE(ContainerExists(ContainerdDriver::ContainerId(unknown.alloc_id, "unknown")))
      << "a failed start leaves no container";
}

TEST_F(ContainerdDriverTest, MissingImageAndMissingCommandAreClearErrors) {
  auto absent = Spec("absent", {"-c", "true"});
  absent.image = registry_ + "/orch-test/no-such-image:1";
  auto h = driver_->Start(absent);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("no-such-image"), std::string::npos) << h.status().ToString();

  auto missing = Spec("missing", {}, "/bin/not-there");
  h = driver_->Start(missing);
  ASSERT_FALSE(h.ok()) << "runc refuses to start a missing program";
  EXPECT_NE(h.status().message().find("not-there"), std::string::npos) << h.status().ToString();
  EXPECT_FALSE(ContainerExists(ContainerdDriver::ContainerId(missing.alloc_id, "missing")));
}

TEST_F(ContainerdDriverTest, APrivateRegistryIsPulledFromWithCredentialsAndRefusedWithout) {
  const char* reg = std::getenv("ORCH_TEST_AUTH_REGISTRY");
  if (reg == nullptr || !*reg)
    GTEST_SKIP() << "ORCH_TEST_AUTH_REGISTRY is not set (scripts/dockerd.sh)";
  const std::string image = std::string(reg) + "/orch-test/busybox:1";
  auto anonymous = Spec("anon", {"-c", "true"});
  anonymous.image = image;
  auto refused = driver_->Start(anonymous);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("credentials"), std::string::npos)
      << refused.status().ToString();

  ContainerdDriverOptions o;
  o.auth_config_json = "{\"auths\": {\"" + std::string(reg) + "\": {\"auth\": \"" +
                       EncodeBase64("orch-test:not-the-password") + "\"}}}";
  driver_ = NewDriver(o);
  auto wrong = Spec("wrong", {"-c", "true"});
  wrong.image = image;
  EXPECT_FALSE(driver_->Start(wrong).ok());

  o.auth_config_json = "{\"auths\": {\"" + std::string(reg) + "\": {\"auth\": \"" +
                       EncodeBase64("orch-test:orch-test-secret") + "\"}}}";
  driver_ = NewDriver(o);
  auto agent = Spec("agent", {"-c", "echo pulled"});
  agent.image = image;
  auto h = driver_->Start(agent);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(WaitExited(TaskId(agent.alloc_id, "agent")).exit_code, 0);
  EXPECT_EQ(Slurp(agent.stdout_path), "pulled\n");
}

TEST_F(ContainerdDriverTest, ANewDriverAdoptsARunningTaskAndItsOutputKeepsFlowing) {
  auto spec = Spec("long", {"-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.1; done"});
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  const std::string id = TaskId(spec.alloc_id, "long");
  ASSERT_TRUE(
      WaitFor([&] { return Slurp(spec.stdout_path).find("line 3\n") != std::string::npos; }));
  // The agent goes away (its copier too); the task keeps running.
  driver_.reset();
  std::this_thread::sleep_for(500ms);
  driver_ = NewDriver();
  ASSERT_NE(driver_, nullptr);
  auto found = driver_->Discover();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].alloc_id(), spec.alloc_id);
  EXPECT_EQ(found[0].container_id(), h->container_id());
  EXPECT_EQ(found[0].stdout_path(), spec.stdout_path);
  ASSERT_TRUE(driver_->Recover(*h).ok());
  auto st = driver_->Inspect(id);
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->running());
  // Starting it again adopts, never a second container.
  auto again = driver_->Start(spec);
  EXPECT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  // Output written while nobody read (held in the FIFO) and after.
  std::size_t before = Slurp(spec.stdout_path).size();
  ASSERT_TRUE(WaitFor([&] { return Slurp(spec.stdout_path).size() > before + 40; }))
      << "the new driver copies the task's output";
  std::string text = Slurp(spec.stdout_path);
  // No line lost across the hand-over: the numbers run on.
  int expected = 0;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_EQ(line, "line " + std::to_string(expected)) << "output lost or doubled";
    if (line != "line " + std::to_string(expected)) break;
    ++expected;
  }
  ASSERT_TRUE(driver_->Stop(id, 0ms).ok());
  TaskStatus done = WaitExited(id);
  EXPECT_EQ(done.signal, SIGKILL);
}

TEST_F(ContainerdDriverTest, RecoverReportsATaskThatExitedWhileAway) {
  auto spec = Spec("brief", {"-c", "sleep 1; exit 7"});
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  driver_.reset();
  std::this_thread::sleep_for(2500ms);
  driver_ = NewDriver();
  ASSERT_TRUE(driver_->Recover(*h).ok());
  TaskStatus st = WaitExited(TaskId(spec.alloc_id, "brief"));
  EXPECT_TRUE(st.exit_known);
  EXPECT_EQ(st.exit_code, 7);
}

TEST_F(ContainerdDriverTest, AHostVolumesDataOutlivesTheTaskAndAReadOnlyMountRefusesWrites) {
  const std::string vol = dir_ + "/volume";
  ASSERT_TRUE(MakeDirs(vol).ok());
  auto writer = Spec("writer", {"-c", "echo kept > /data/file"});
  writer.mounts.push_back({vol, "/data", false});
  ASSERT_TRUE(driver_->Start(writer).ok());
  EXPECT_EQ(WaitExited(TaskId(writer.alloc_id, "writer")).exit_code, 0);
  EXPECT_EQ(Slurp(vol + "/file"), "kept\n");
  auto reader = Spec("reader", {"-c", "cat /data/file; echo x > /data/other"});
  reader.mounts.push_back({vol, "/data", true});
  ASSERT_TRUE(driver_->Start(reader).ok());
  TaskStatus st = WaitExited(TaskId(reader.alloc_id, "reader"));
  EXPECT_NE(st.exit_code, 0) << "a read-only volume took a write";
  EXPECT_EQ(Slurp(reader.stdout_path), "kept\n");
  EXPECT_FALSE(std::filesystem::exists(vol + "/other"));
}

TEST_F(ContainerdDriverTest, TwoAgentsPullingTheSameImageAtOnceBothStart) {
  // Two agents on one containerd (the e2e tests run so): the same blobs
  // written and the same layers unpacked at the same moment.
  auto other = NewDriver();
  ASSERT_NE(other, nullptr);
  {
    auto a = Spec("a", {"-c", "true"});
    auto b = Spec("b", {"-c", "true"});
    Result<pb::TaskHandle> ha = Status::Internal("not run"), hb = Status::Internal("not run");
    std::thread ta([&] { ha = driver_->Start(a); });
    std::thread tb([&] { hb = other->Start(b); });
    ta.join();
    tb.join();
    ASSERT_TRUE(ha.ok()) << ha.status().ToString();
    ASSERT_TRUE(hb.ok()) << hb.status().ToString();
    EXPECT_EQ(WaitExited(TaskId(a.alloc_id, "a")).exit_code, 0);
    EXPECT_EQ(WaitExited(TaskId(b.alloc_id, "b"), other.get()).exit_code, 0);
  }
  other.reset();
}

TEST_F(ContainerdDriverTest, TwoTasksOfOneImagePullItOnceAndStartFast) {
  // A figure, not a check: start-to-running with the image present (the
  // pull is the first start's).
  auto first = Spec("first", {"-c", "sleep 30"});
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(driver_->Start(first).ok());
  auto t1 = std::chrono::steady_clock::now();
  auto second = Spec("second", {"-c", "sleep 30"});
  std::vector<std::string> progress;  // a pull would say so here
  second.progress = [&](const std::string& m) { progress.push_back(m); };
  ASSERT_TRUE(driver_->Start(second).ok());
  EXPECT_TRUE(progress.empty()) << "the second start pulled again: " << progress.front();
  auto t2 = std::chrono::steady_clock::now();
  std::printf("first start (with the pull) %lld ms, second %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(t1 - t0).count()),
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(t2 - t1).count()));
  EXPECT_TRUE(driver_->Inspect(TaskId(second.alloc_id, "second"))->running());
}

}  // namespace
}  // namespace orch::agent
