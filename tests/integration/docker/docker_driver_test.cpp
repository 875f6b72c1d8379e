// The docker driver against a real dockerd: lifecycle, limits as the engine
// holds them, a published port reachable from the host, logs, stop grace,
// failures, pulling from a local registry (and a clear error when a registry
// cannot be reached), discovery by label and adoption by a new driver.
// Needs ORCH_DOCKER_SOCKET and ORCH_TEST_REGISTRY (scripts/dockerd.sh prints
// them); skips, saying so, without them.
#include "agent/drivers/docker/docker_driver.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "agent/files.h"
#include "agent/health/probe.h"
#include "common/base64.h"
#include "common/http_client.h"
#include "common/ids.h"
#include "tests/support/ports.h"

namespace orch::agent {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

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

class DockerDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* sock = std::getenv("ORCH_DOCKER_SOCKET");
    const char* reg = std::getenv("ORCH_TEST_REGISTRY");
    if (sock == nullptr || reg == nullptr || !*sock || !*reg) {
      GTEST_SKIP() << "ORCH_DOCKER_SOCKET and ORCH_TEST_REGISTRY are not set: run "
                      "`eval \"$(sudo scripts/dockerd.sh)\"` first (scripts/test.sh does as root)";
    }
    socket_ = sock;
    registry_ = reg;
    image_ = registry_ + "/orch-test/busybox:1";
    char tmpl[] = "/tmp/orch-docker-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    driver_ = NewDriver();
    ASSERT_NE(driver_, nullptr);
  }

  void TearDown() override {
    if (driver_ == nullptr) return;
    driver_->SetEventCallback(nullptr);  // a test's callback may name its locals
    // Whatever a test left behind: every container of its allocations.
    auto list = driver_->client().ListContainers("orch.alloc", true);
    if (list.ok()) {
      for (auto& c : *list) {
        if (allocs_.count(c.labels["orch.alloc"])) (void)driver_->client().RemoveContainer(c.id, true);
      }
    }
    driver_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::unique_ptr<DockerDriver> NewDriver(std::chrono::milliseconds pull_timeout = 60s,
                                          DockerDriverOptions o = {}) {
    o.socket = socket_;
    if (o.poll_interval == DockerDriverOptions{}.poll_interval) o.poll_interval = 100ms;
    o.pull_timeout = pull_timeout;
    auto d = DockerDriver::Connect(o);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }

  TaskSpec Spec(const std::string& task, std::vector<std::string> args,
                const std::string& command = "/bin/sh") {
    TaskSpec s;
    s.alloc_id = NewUuid();
    allocs_.insert(s.alloc_id);
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
    EXPECT_TRUE(MakeDirs(s.task_dir).ok());
    return s;
  }

  void EnsureImage() {
    auto have = driver_->client().ImageExists(image_);
    ASSERT_TRUE(have.ok()) << have.status().ToString();
    if (!*have) {
      ASSERT_TRUE(driver_->client().PullImage(image_, 60s).ok());
    }
  }

  TaskStatus WaitExited(const std::string& id, DockerDriver* d = nullptr) {
    auto st = (d ? d : driver_.get())->Wait(id, 60s);
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    EXPECT_FALSE(st.ok() && st->running()) << "task " << id << " did not exit";
    return st.ok() ? *st : TaskStatus{};
  }

  // Containers carrying orch.alloc=<alloc>, running or not.
  std::vector<ContainerSummary> ContainersOf(const std::string& alloc, bool all = true) {
    auto list = driver_->client().ListContainers("orch.alloc=" + alloc, all);
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    return list.ok() ? *list : std::vector<ContainerSummary>{};
  }

  json InspectJson(const std::string& id) {
    auto r = driver_->client().Request("GET", "/containers/" + id + "/json");
    EXPECT_TRUE(r.ok() && r->status == 200);
    return r.ok() ? json::parse(r->body, nullptr, false) : json();
  }

  std::string socket_, registry_, image_, dir_;
  std::set<std::string> allocs_;
  std::unique_ptr<DockerDriver> driver_;
};

TEST_F(DockerDriverTest, NegotiatesApiVersionAndReportsEngineVersion) {
  EXPECT_FALSE(driver_->engine_version().empty());
  // 1.41 or the engine's own when older.
  EXPECT_LE(driver_->api_version(), std::string("1.41"));
  EXPECT_GE(driver_->api_version().size(), 4u);
}

TEST_F(DockerDriverTest, UnreachableSocketIsAClearError) {
  DockerDriverOptions o;
  o.socket = dir_ + "/no-such.sock";
  auto d = DockerDriver::Connect(o);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(d.status().message().find("no-such.sock"), std::string::npos) << d.status().message();
}

TEST_F(DockerDriverTest, LifecycleStartRunningThenExitCodeAndContainerRemoved) {
  EnsureImage();
  auto spec = Spec("life", {"-c", "sleep 1; echo done $GREETING"});
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->driver(), "docker");
  EXPECT_FALSE(h->container_id().empty());
  EXPECT_GT(h->pid(), 0);
  std::string id = TaskId(spec.alloc_id, "life");
  auto st = driver_->Inspect(id);
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->running());

  // Labels and restart policy as the engine holds them.
  json j = InspectJson(h->container_id());
  EXPECT_EQ(j["Config"]["Labels"]["orch.alloc"], spec.alloc_id);
  EXPECT_EQ(j["Config"]["Labels"]["orch.job"], "job-life");
  EXPECT_EQ(j["Config"]["Labels"]["orch.task"], "life");
  EXPECT_EQ(j["HostConfig"]["RestartPolicy"]["Name"], "no");
  EXPECT_EQ(j["Name"], "/" + DockerDriver::ContainerName(spec.alloc_id, "life"));
  // The host's PATH is not forced on the image.
  for (const auto& e : j["Config"]["Env"]) EXPECT_EQ(e.get<std::string>().find("/host/path"), std::string::npos);

  TaskStatus done = WaitExited(id);
  EXPECT_TRUE(done.exit_known);
  EXPECT_EQ(done.exit_code, 0);
  EXPECT_EQ(done.signal, 0);
  EXPECT_FALSE(done.oom_killed);
  EXPECT_GT(done.finished_at_ms, 0);
  // Removed once exited, its output kept in the task's file.
  EXPECT_TRUE(WaitFor([&] { return ContainersOf(spec.alloc_id).empty(); }));
  EXPECT_TRUE(WaitFor([&] { return Slurp(spec.stdout_path) == "done hi\n"; })) << Slurp(spec.stdout_path);
}

TEST_F(DockerDriverTest, LimitsAreVisibleInInspect) {
  EnsureImage();
  auto spec = Spec("limits", {"-c", "sleep 600"});
  spec.cpu_millicores = 250;
  spec.memory_mib = 64;
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  json j = InspectJson(h->container_id());
  EXPECT_EQ(j["HostConfig"]["NanoCpus"].get<int64_t>(), 250'000'000);
  EXPECT_EQ(j["HostConfig"]["Memory"].get<int64_t>(), 64LL * 1024 * 1024);
  auto usage = driver_->Stats(TaskId(spec.alloc_id, "limits"));
  ASSERT_TRUE(usage.ok()) << usage.status().ToString();
  EXPECT_GT(usage->memory_bytes, 0);
  EXPECT_LT(usage->memory_bytes, 64LL * 1024 * 1024);
  ASSERT_TRUE(driver_->Stop(TaskId(spec.alloc_id, "limits"), 0ms).ok());
  WaitExited(TaskId(spec.alloc_id, "limits"));
}

TEST_F(DockerDriverTest, UserAndPidsLimitReachTheContainerAndCommandChecksRunInsideIt) {
  EnsureImage();
  auto spec = Spec("who", {"-c", "id -u; exec sleep 600"});
  spec.user = "65534";
  spec.pids_limit = 32;
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  json j = InspectJson(h->container_id());
  EXPECT_EQ(j["Config"]["User"], "65534");
  EXPECT_EQ(j["HostConfig"]["PidsLimit"].get<int64_t>(), 32);
  // A command check of the task sees the container: its pid 1 is the task,
  // it runs as the container's user.
  auto r = health::ProbeCommand("/bin/sh", {"-c", "cat /proc/1/cmdline; echo; id -u"}, {}, "",
                                std::chrono::seconds(5), h->pid());
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_NE(r.message.find("sleep"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("65534"), std::string::npos) << r.message;
  ASSERT_TRUE(driver_->Stop(TaskId(spec.alloc_id, "who"), 0ms).ok());
  WaitExited(TaskId(spec.alloc_id, "who"));
  EXPECT_TRUE(WaitFor([&] { return Slurp(spec.stdout_path) == "65534\n"; }))
      << Slurp(spec.stdout_path);
}

TEST_F(DockerDriverTest, PublishedPortIsReachableFromTheHost) {
  EnsureImage();
  int host_port = orch::testing::FreeLoopbackPort();
  auto spec = Spec("web", {"httpd", "-f", "-p", "8080", "-h", "/www"}, "/bin/busybox");
  spec.ports.push_back({"http", host_port, 8080});
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  json j = InspectJson(h->container_id());
  EXPECT_TRUE(j["Config"]["ExposedPorts"].contains("8080/tcp"));
  EXPECT_EQ(j["HostConfig"]["PortBindings"]["8080/tcp"][0]["HostPort"], std::to_string(host_port));
  HttpClient http;
  std::string body;
  EXPECT_TRUE(WaitFor([&] {
    auto r = http.Get("http://127.0.0.1:" + std::to_string(host_port) + "/", 2s);
    if (!r.ok() || r->status != 200) return false;
    body = r->body;
    return true;
  })) << "nothing answered on 127.0.0.1:" << host_port;
  EXPECT_EQ(body, "orch test image\n");
}

TEST_F(DockerDriverTest, LogsSeparateStdoutAndStderrAndFollow) {
  EnsureImage();
  auto spec = Spec("logs", {"-c", "echo out1; echo err1 >&2; sleep 1; echo out2; echo err2 >&2; sleep 2"});
  ASSERT_TRUE(driver_->Start(spec).ok());
  std::string id = TaskId(spec.alloc_id, "logs");
  // Follow while it runs: returns once the container exits.
  std::string out, err;
  LogOptions follow;
  follow.follow = true;
  Status st = driver_->Logs(id, follow, [&](LogStream s, std::string_view d) {
    (s == LogStream::kStderr ? err : out).append(d);
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out, "out1\nout2\n");
  EXPECT_EQ(err, "err1\nerr2\n");
  WaitExited(id);
  // After exit (the container removed) the same output, from the files.
  EXPECT_TRUE(WaitFor([&] { return ContainersOf(spec.alloc_id).empty(); }));
  std::string out2, err2;
  LogOptions only_err;
  only_err.stdout_stream = false;
  ASSERT_TRUE(driver_->Logs(id, only_err, [&](LogStream s, std::string_view d) {
                (s == LogStream::kStderr ? err2 : out2).append(d);
                return true;
              }).ok());
  EXPECT_EQ(out2, "");
  EXPECT_EQ(err2, "err1\nerr2\n");
  // Copied to the task's files once the exit was reported.
  EXPECT_TRUE(WaitFor([&] { return Slurp(spec.stdout_path) == "out1\nout2\n"; }))
      << Slurp(spec.stdout_path);
  EXPECT_TRUE(WaitFor([&] { return Slurp(spec.stderr_path) == "err1\nerr2\n"; }))
      << Slurp(spec.stderr_path);
}

TEST_F(DockerDriverTest, FollowOfAQuietTaskEndsWhenTheReaderGoesAway) {
  EnsureImage();
  auto spec = Spec("quiet", {"-c", "echo hi; sleep 600"});
  ASSERT_TRUE(driver_->Start(spec).ok());
  std::string id = TaskId(spec.alloc_id, "quiet");
  std::string out;
  int pings = 0;
  LogOptions follow;
  follow.follow = true;
  // The reader "goes away" after the first output: the next empty chunk
  // (the driver's "still there?") is answered with false.
  Status st = driver_->Logs(id, follow, [&](LogStream, std::string_view d) {
    if (d.empty()) {
      ++pings;
      return out.empty();
    }
    out.append(d);
    return true;
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(out, "hi\n");
  EXPECT_GE(pings, 1);
  EXPECT_TRUE(driver_->Inspect(id)->running());
}

TEST_F(DockerDriverTest, StopLetsATaskThatHandlesSigtermExitCleanly) {
  EnsureImage();
  auto spec = Spec("graceful", {"-c", "trap 'echo got TERM; exit 0' TERM; echo ready; "
                                       "while true; do sleep 0.1; done"});
  ASSERT_TRUE(driver_->Start(spec).ok());
  std::string id = TaskId(spec.alloc_id, "graceful");
  ASSERT_TRUE(WaitFor([&] {
    std::string out;
    (void)driver_->Logs(id, {}, [&](LogStream, std::string_view d) { out.append(d); return true; });
    return out.find("ready") != std::string::npos;
  }));
  ASSERT_TRUE(driver_->Stop(id, 20s).ok());
  EXPECT_TRUE(driver_->Inspect(id)->stop_requested);
  TaskStatus st = WaitExited(id);
  EXPECT_EQ(st.signal, 0) << st.message;
  EXPECT_EQ(st.exit_code, 0) << st.message;
  EXPECT_TRUE(WaitFor([&] { return Slurp(spec.stdout_path).find("got TERM") != std::string::npos; }));
}

TEST_F(DockerDriverTest, StopKillsATaskThatIgnoresSigtermAfterTheGrace) {
  EnsureImage();
  auto spec = Spec("stubborn", {"-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"});
  ASSERT_TRUE(driver_->Start(spec).ok());
  std::string id = TaskId(spec.alloc_id, "stubborn");
  ASSERT_TRUE(WaitFor([&] {
    std::string out;
    (void)driver_->Logs(id, {}, [&](LogStream, std::string_view d) { out.append(d); return true; });
    return out.find("ready") != std::string::npos;
  }));
  ASSERT_TRUE(driver_->Stop(id, 1s).ok());
  TaskStatus st = WaitExited(id);
  EXPECT_EQ(st.signal, SIGKILL) << st.message;
  EXPECT_EQ(st.exit_code, -1);
  EXPECT_TRUE(st.stop_requested);
}

TEST_F(DockerDriverTest, FailureIsReportedWithItsExitCode) {
  EnsureImage();
  auto spec = Spec("fail", {"-c", "echo failing >&2; exit 3"});
  ASSERT_TRUE(driver_->Start(spec).ok());
  TaskStatus st = WaitExited(TaskId(spec.alloc_id, "fail"));
  EXPECT_TRUE(st.exit_known);
  EXPECT_EQ(st.exit_code, 3);
  EXPECT_EQ(st.signal, 0);
  EXPECT_FALSE(st.stop_requested);
}

TEST_F(DockerDriverTest, MissingCommandFailsTheStartAndLeavesNoContainer) {
  EnsureImage();
  auto spec = Spec("nocmd", {}, "/no/such/program");
  auto h = driver_->Start(spec);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("/no/such/program"), std::string::npos) << h.status().message();
  EXPECT_TRUE(ContainersOf(spec.alloc_id).empty());
}

TEST_F(DockerDriverTest, MissingImageIsRejected) {
  auto spec = Spec("noimage", {"-c", "true"});
  spec.image.clear();
  auto h = driver_->Start(spec);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(DockerDriverTest, OutOfMemoryIsReported) {
  EnsureImage();
  // dd's 64 MiB buffer, filled from /dev/zero, in 16 MiB. After a second:
  // a process killed within milliseconds of its start can die before the
  // engine watches the cgroup for OOM events, and Docker itself then reports
  // a plain SIGKILL (OOMKilled false), which no driver can tell apart.
  auto spec = Spec("oom", {"-c", "sleep 1; exec dd if=/dev/zero of=/dev/null bs=64M count=4"});
  spec.memory_mib = 16;
  ASSERT_TRUE(driver_->Start(spec).ok());
  TaskStatus st = WaitExited(TaskId(spec.alloc_id, "oom"));
  EXPECT_TRUE(st.oom_killed) << "exit " << st.exit_code << " " << st.message;
  EXPECT_NE(st.message.find("memory limit of 16 MiB"), std::string::npos) << st.message;
}

TEST_F(DockerDriverTest, PullsAnAbsentImageFromTheRegistry) {
  // Without a local copy the start goes through the registry.
  ASSERT_TRUE(driver_->client().RemoveImage(image_).ok());
  ASSERT_FALSE(*driver_->client().ImageExists(image_));
  auto spec = Spec("pulled", {"-c", "echo pulled"});
  std::vector<std::string> progress;  // what the task's status says meanwhile
  spec.progress = [&](const std::string& m) { progress.push_back(m); };
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_TRUE(*driver_->client().ImageExists(image_));
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress[0].rfind("pulling image " + image_, 0), 0u) << progress[0];
  EXPECT_EQ(WaitExited(TaskId(spec.alloc_id, "pulled")).exit_code, 0);
}

TEST_F(DockerDriverTest, AbsentImageInTheRegistryIsAClearError) {
  auto spec = Spec("absent", {"-c", "true"});
  spec.image = registry_ + "/orch-test/no-such-image:1";
  auto h = driver_->Start(spec);
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.status().message().find("pulling image " + spec.image), std::string::npos)
      << h.status().message();
  EXPECT_TRUE(ContainersOf(spec.alloc_id).empty());
}

TEST_F(DockerDriverTest, UnreachableRegistryFailsWithinThePullTimeout) {
  // A registry that accepts connections and never answers.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int silent_port = ntohs(addr.sin_port);

  auto driver = NewDriver(/*pull_timeout=*/2s);
  auto spec = Spec("silent", {"-c", "true"});
  spec.image = "127.0.0.1:" + std::to_string(silent_port) + "/orch-test/busybox:1";
  auto h = driver->Start(spec);
  close(fd);
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().code(), StatusCode::kDeadlineExceeded) << h.status().ToString();
  EXPECT_NE(h.status().message().find("registry"), std::string::npos) << h.status().message();
  EXPECT_NE(h.status().message().find(spec.image), std::string::npos) << h.status().message();

  // Nobody listening at all: the engine's own words (connection refused).
  int closed_port = orch::testing::FreeLoopbackPort();
  auto spec2 = Spec("refused", {"-c", "true"});
  spec2.image = "127.0.0.1:" + std::to_string(closed_port) + "/orch-test/busybox:1";
  auto h2 = driver->Start(spec2);
  ASSERT_FALSE(h2.ok());
  EXPECT_NE(h2.status().message().find("pulling image " + spec2.image), std::string::npos)
      << h2.status().message();
  EXPECT_NE(h2.status().message().find("refused"), std::string::npos) << h2.status().message();
}

TEST_F(DockerDriverTest, DiscoverFindsContainersByLabel) {
  EnsureImage();
  auto a = Spec("one", {"-c", "sleep 600"});
  auto b = Spec("two", {"-c", "sleep 600"});
  auto ha = driver_->Start(a);
  auto hb = driver_->Start(b);
  ASSERT_TRUE(ha.ok() && hb.ok());
  // A fresh driver that tracks nothing still finds both.
  auto fresh = NewDriver();
  auto found = fresh->Discover();
  std::map<std::string, pb::TaskHandle> by_alloc;
  for (auto& h : found) by_alloc[h.alloc_id()] = h;
  ASSERT_TRUE(by_alloc.count(a.alloc_id));
  ASSERT_TRUE(by_alloc.count(b.alloc_id));
  EXPECT_EQ(by_alloc[a.alloc_id].container_id(), ha->container_id());
  EXPECT_EQ(by_alloc[a.alloc_id].task(), "one");
  EXPECT_EQ(by_alloc[b.alloc_id].task(), "two");
  EXPECT_EQ(by_alloc[b.alloc_id].driver(), "docker");
  EXPECT_TRUE(fresh->List().empty());
}

TEST_F(DockerDriverTest, NewDriverAdoptsRunningContainerAndNeverStartsItTwice) {
  EnsureImage();
  auto spec = Spec("adopt", {"-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"});
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok());
  std::string id = TaskId(spec.alloc_id, "adopt");
  driver_.reset();  // the agent goes away; the container stays
  driver_ = NewDriver();
  ASSERT_TRUE(driver_->Recover(*h).ok());
  auto st = driver_->Inspect(id);
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->running());
  EXPECT_EQ(st->pid, h->pid());
  // Started again (a record lost between create and save): the same container.
  auto again = NewDriver();
  auto h2 = again->Start(spec);
  ASSERT_TRUE(h2.ok()) << h2.status().ToString();
  EXPECT_EQ(h2->container_id(), h->container_id());
  EXPECT_EQ(ContainersOf(spec.alloc_id).size(), 1u);
  again.reset();
  // The adopting driver stops it.
  ASSERT_TRUE(driver_->Stop(id, 10s).ok());
  TaskStatus done = WaitExited(id);
  EXPECT_EQ(done.exit_code, 0);
  EXPECT_TRUE(WaitFor([&] { return ContainersOf(spec.alloc_id).empty(); }));
}

TEST_F(DockerDriverTest, RecoverReportsAContainerThatExitedWhileAway) {
  EnsureImage();
  // It outlives the first driver (whose monitor would otherwise see the
  // exit and remove the container), then exits with nobody watching.
  auto spec = Spec("gone", {"-c", "sleep 2; echo bye; exit 4"});
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok());
  driver_.reset();
  // Exits while no driver watches.
  DockerClientOptions co;
  co.socket = socket_;
  auto client = DockerClient::Connect(co);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(WaitFor([&] {
    auto info = (*client)->InspectContainer(h->container_id());
    return info.ok() && !info->running;
  }));
  driver_ = NewDriver();
  ASSERT_TRUE(driver_->Recover(*h).ok());
  std::string id = TaskId(spec.alloc_id, "gone");
  auto st = driver_->Inspect(id);
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->running());
  EXPECT_EQ(st->exit_code, 4);
  // Cleaned up like any exit: output kept, container removed.
  EXPECT_TRUE(WaitFor([&] { return ContainersOf(spec.alloc_id).empty(); }));
  EXPECT_EQ(Slurp(spec.stdout_path), "bye\n");
}

}  // namespace
}  // namespace orch::agent

namespace orch::agent {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// With the monitor's own looks an hour apart, only the engine's event
// stream can tell the driver that a container exited or ran out of memory.
TEST_F(DockerDriverTest, ExitsAndOomsAreSeenFromTheEventStreamAlone) {
  EnsureImage();
  DockerDriverOptions o;
  o.poll_interval = std::chrono::hours(1);
  o.resync_interval = std::chrono::hours(1);
  driver_ = NewDriver(60s, o);
  ASSERT_NE(driver_, nullptr);
  DockerClientOptions co;
  co.socket = socket_;
  auto client = DockerClient::Connect(co);
  ASSERT_TRUE(client.ok());
  // The driver's callback runs before it removes an exited container: the
  // engine's own FinishedAt is read there (the task's finished_at is when
  // the engine's die event said so). Its state is shared, not the test's
  // locals: the monitor thread may still be in it when the test ends.
  struct Watch {
    std::mutex mu;
    std::string task, container;
    int64_t noticed_ms = 0, engine_finished_ms = 0;
    std::unique_ptr<DockerClient> client;
    DockerDriver* driver = nullptr;  // calls the callback, so outlives its calls
  };
  auto w = std::make_shared<Watch>();
  w->client = std::move(*client);
  w->driver = driver_.get();
  driver_->SetEventCallback([w] {
    int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    std::lock_guard lk(w->mu);
    if (w->task.empty() || w->noticed_ms != 0) return;
    auto st = w->driver->Inspect(w->task);
    if (!st.ok() || st->running()) return;
    w->noticed_ms = now;
    // dockerd finishes its own exit handling a little after the die event.
    for (int i = 0; i < 100; ++i) {
      auto info = w->client->InspectContainer(w->container);
      if (!info.ok()) return;
      if (!info->running) {
        w->engine_finished_ms = info->finished_at_ms;
        return;
      }
      std::this_thread::sleep_for(10ms);
    }
  });
  auto watch = [&](const std::string& task, const std::string& cid) {
    std::lock_guard lk(w->mu);
    w->task = task;
    w->container = cid;
    w->noticed_ms = w->engine_finished_ms = 0;
  };
  auto report = [&](const char* what) {
    std::lock_guard lk(w->mu);
    // A figure, not a check: how long after the engine's FinishedAt the
    // driver knew.
    if (w->noticed_ms > 0 && w->engine_finished_ms > 0) {
      std::printf("%s noticed %lld ms after the engine's FinishedAt\n", what,
                  static_cast<long long>(w->noticed_ms - w->engine_finished_ms));
    }
  };
  std::this_thread::sleep_for(1500ms);  // the stream is up (and the first look done)
  auto spec = Spec("exits", {"-c", "sleep 1; exit 3"});
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok());
  watch(TaskId(spec.alloc_id, "exits"), h->container_id());
  TaskStatus st = WaitExited(TaskId(spec.alloc_id, "exits"));
  EXPECT_EQ(st.exit_code, 3);
  EXPECT_TRUE(st.exit_known);
  EXPECT_GT(st.finished_at_ms, 0);
  report("exit");

  auto oom = Spec("oom", {"-c", "sleep 1; exec dd if=/dev/zero of=/dev/null bs=64M count=4"});
  oom.memory_mib = 16;
  auto ho = driver_->Start(oom);
  ASSERT_TRUE(ho.ok());
  watch(TaskId(oom.alloc_id, "oom"), ho->container_id());
  st = WaitExited(TaskId(oom.alloc_id, "oom"));
  EXPECT_TRUE(st.oom_killed) << "exit " << st.exit_code << " " << st.message;
  report("OOM kill");
}

TEST_F(DockerDriverTest, TheTasksDockerSettingsReachTheContainer) {
  EnsureImage();
  auto spec = Spec("cfg", {}, "");
  spec.command = "cat /etc/hosts; ulimit -n; df -k /dev/shm | tail -1; pwd; ls /sys/class/net";
  auto& d = spec.docker;
  d.add_entrypoint("/bin/sh");
  d.add_entrypoint("-c");
  d.set_network_mode("none");
  d.add_cap_drop("NET_RAW");
  d.add_extra_hosts("db.internal:10.1.2.3");
  (*d.mutable_labels())["team"] = "storage";
  (*d.mutable_labels())["orch.alloc"] = "not-yours";
  d.set_work_dir("/tmp");
  d.set_shm_size_mib(32);
  auto* u = d.add_ulimits();
  u->set_name("nofile");
  u->set_soft(512);
  u->set_hard(1024);
  d.set_log_max_size_mib(5);
  d.set_log_max_files(2);
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  json j = InspectJson(h->container_id());
  EXPECT_EQ(j["HostConfig"]["NetworkMode"], "none");
  EXPECT_EQ(j["HostConfig"]["CapDrop"][0], "NET_RAW");
  EXPECT_EQ(j["HostConfig"]["LogConfig"]["Config"]["max-size"], "5m");
  EXPECT_EQ(j["HostConfig"]["LogConfig"]["Config"]["max-file"], "2");
  EXPECT_EQ(j["Config"]["Labels"]["team"], "storage");
  EXPECT_EQ(j["Config"]["Labels"]["orch.alloc"], spec.alloc_id) << "orch.* labels stay the agent's";
  TaskStatus st = WaitExited(TaskId(spec.alloc_id, "cfg"));
  EXPECT_EQ(st.exit_code, 0);
  // The output is copied to the task's file once the exit is reported.
  std::string out;
  EXPECT_TRUE(
      WaitFor([&] { return (out = ReadAll(spec.stdout_path)).find("lo") != std::string::npos; }));
  EXPECT_NE(out.find("10.1.2.3\tdb.internal"), std::string::npos) << out;
  EXPECT_NE(out.find("\n512\n"), std::string::npos) << out;
  EXPECT_NE(out.find(" 32768 "), std::string::npos) << "a 32 MiB /dev/shm: " << out;
  EXPECT_NE(out.find("\n/tmp\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("eth0"), std::string::npos) << "network none has no eth0: " << out;
  EXPECT_NE(out.find("lo"), std::string::npos) << out;
}

TEST_F(DockerDriverTest, PrivilegedAndCapabilitiesAreWhatTheAgentAllows) {
  EnsureImage();
  auto priv = Spec("priv", {"-c", "true"});
  priv.docker.set_privileged(true);
  auto refused = driver_->Start(priv);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("--docker-allow-privileged"), std::string::npos)
      << refused.status().ToString();
  auto caps = Spec("caps", {"-c", "true"});
  caps.cap_add = {"SYS_ADMIN"};
  refused = driver_->Start(caps);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("SYS_ADMIN"), std::string::npos)
      << refused.status().ToString();
  EXPECT_TRUE(ContainersOf(priv.alloc_id).empty());
  EXPECT_TRUE(ContainersOf(caps.alloc_id).empty());

  DockerDriverOptions o;
  o.allow_privileged = true;
  o.allowed_caps = {"SYS_ADMIN", "NET_ADMIN"};
  driver_ = NewDriver(60s, o);
  auto ok = Spec("caps-ok", {"-c", "grep CapEff /proc/self/status"});
  ok.cap_add = {"NET_ADMIN"};
  auto h = driver_->Start(ok);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(InspectJson(h->container_id())["HostConfig"]["CapAdd"][0], "NET_ADMIN");
  EXPECT_EQ(WaitExited(TaskId(ok.alloc_id, "caps-ok")).exit_code, 0);
}

TEST_F(DockerDriverTest, AUdpPortAnswers) {
  EnsureImage();
  int host_port = orch::testing::FreeLoopbackPort();
  auto spec = Spec("udp", {"9999"}, "/udp-echo");
  spec.mounts = {{ORCH_TEST_UDP_ECHO, "/udp-echo", true}};
  spec.ports.push_back({"dns", host_port, 9999, "udp"});
  auto h = driver_->Start(spec);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  json j = InspectJson(h->container_id());
  EXPECT_EQ(j["HostConfig"]["PortBindings"]["9999/udp"][0]["HostPort"], std::to_string(host_port));
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  timeval tv{0, 200'000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(host_port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  EXPECT_TRUE(WaitFor([&] {
    sendto(fd, "ping", 4, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    char buf[64];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    answer.assign(buf, static_cast<size_t>(n));
    return true;
  })) << "no UDP answer on 127.0.0.1:"
      << host_port;
  close(fd);
  EXPECT_EQ(answer, "echo: ping");
}

TEST_F(DockerDriverTest, APrivateRegistryIsPulledFromWithCredentialsAndRefusedWithout) {
  const char* reg = std::getenv("ORCH_TEST_AUTH_REGISTRY");
  if (reg == nullptr || !*reg)
    GTEST_SKIP() << "ORCH_TEST_AUTH_REGISTRY is not set (scripts/dockerd.sh)";
  const std::string image = std::string(reg) + "/orch-test/busybox:1";
  (void)driver_->client().RemoveImage(image);
  auto anonymous = Spec("anon", {"-c", "true"});
  anonymous.image = image;
  auto refused = driver_->Start(anonymous);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("pulling image " + image), std::string::npos)
      << refused.status().ToString();
  auto wrong = Spec("wrong", {"-c", "true"});
  wrong.image = image;
  wrong.docker.mutable_auth()->set_username("orch-test");
  wrong.docker.mutable_auth()->set_password("not-the-password");
  EXPECT_FALSE(driver_->Start(wrong).ok());

  // The task's own credentials.
  auto own = Spec("own", {"-c", "echo pulled"});
  own.image = image;
  own.docker.mutable_auth()->set_username("orch-test");
  own.docker.mutable_auth()->set_password("orch-test-secret");
  auto h = driver_->Start(own);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(WaitExited(TaskId(own.alloc_id, "own")).exit_code, 0);

  // The agent's config.json.
  ASSERT_TRUE(driver_->client().RemoveImage(image).ok());
  DockerDriverOptions o;
  o.auth_config_json = "{\"auths\": {\"" + std::string(reg) + "\": {\"auth\": \"" +
                       EncodeBase64("orch-test:orch-test-secret") + "\"}}}";
  driver_ = NewDriver(60s, o);
  auto agent = Spec("agent", {"-c", "echo pulled"});
  agent.image = image;
  h = driver_->Start(agent);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(WaitExited(TaskId(agent.alloc_id, "agent")).exit_code, 0);
}

}  // namespace
}  // namespace orch::agent
