// End to end with Docker: a real orch-master and an orch-agent running
// `--drivers exec,docker` against a real dockerd (ORCH_DOCKER_SOCKET,
// ORCH_TEST_REGISTRY from scripts/dockerd.sh; skipped without them).
//
// A job of 5 docker allocations and one of 5 exec allocations run; the
// agent is killed with SIGKILL and restarted: all 10 still run, each exactly
// once (containers counted by label, processes by pid and by a marker in
// their command line). Then a job is stopped while the agent is down: once
// it is back, that job's containers are stopped and removed.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "api/client/client.h"
#include "common/http_client.h"
#include "common/ids.h"
#include "common/json.h"
#include "process.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

std::set<pid_t> ShellsWithArg(const std::string& marker);

pid_t ParentOf(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  int ppid = 0;
  char state = 0;
  if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) != 2) return 0;
  return ppid;
}

// Pids of the exec tasks (/bin/sh -c ...) whose command line holds `marker`.
// A shell running `while ...; do sleep 1; done` forks a copy of itself
// (same command line) before each exec of sleep: such a child of another
// match is the same task, not a second one.
std::set<pid_t> ProcessesWithArg(const std::string& marker) {
  std::set<pid_t> all = ShellsWithArg(marker);
  std::set<pid_t> out;
  for (pid_t pid : all) {
    if (!all.count(ParentOf(pid))) out.insert(pid);
  }
  return out;
}

std::set<pid_t> ShellsWithArg(const std::string& marker) {
  std::set<pid_t> out;
  DIR* d = opendir("/proc");
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = atoi(e->d_name);
    if (pid <= 0) continue;
    std::string cmd = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
    for (auto& c : cmd) {
      if (c == '\0') c = ' ';
    }
    // The task itself (its exec shim carries the same arguments after its own).
    if (cmd.rfind("/bin/sh -c ", 0) == 0 && cmd.find(marker) != std::string::npos) {
      out.insert(pid);
    }
  }
  closedir(d);
  return out;
}

class DockerE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* sock = std::getenv("ORCH_DOCKER_SOCKET");
    const char* reg = std::getenv("ORCH_TEST_REGISTRY");
    if (sock == nullptr || reg == nullptr || !*sock || !*reg) {
      GTEST_SKIP() << "ORCH_DOCKER_SOCKET and ORCH_TEST_REGISTRY are not set: run "
                      "`eval \"$(sudo scripts/dockerd.sh)\"` first (scripts/test.sh does as root)";
    }
    socket_ = sock;
    image_ = std::string(reg) + "/orch-test/busybox:1";
    HttpClientOptions o;
    o.unix_socket = socket_;
    docker_ = std::make_unique<HttpClient>(o);
    root_ = ::testing::TempDir() + "/orch-e2e-docker-" + NewUuid().substr(0, 8);
    std::filesystem::create_directories(root_);
    http_port_ = FreePort();
    raft_port_ = FreePort();
    agent_port_ = FreePort();
    client_ = std::make_unique<OrchClient>(std::vector<std::string>{MasterUrl()});
  }

  void TearDown() override {
    if (socket_.empty()) return;
    if (HasFailure()) std::cerr << Logs();
    if (agent_) agent_->Signal(SIGKILL), agent_->Wait(10s);
    if (master_) master_->Signal(SIGTERM), master_->Wait(10s);
    // Whatever is left: the jobs' containers and processes.
    for (const auto& job : jobs_) {
      for (const auto& id : Containers(job, true)) {
        (void)docker_->Do("DELETE", "http://docker/containers/" + id + "?force=1");
      }
    }
    for (pid_t pid : ProcessesWithArg(marker_)) kill(-pid, SIGKILL), kill(pid, SIGKILL);
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  std::string MasterUrl() const { return "http://127.0.0.1:" + std::to_string(http_port_); }

  void StartMaster() {
    master_ = std::make_unique<Subprocess>(
        std::vector<std::string>{ORCH_MASTER_BIN, "--id", "m1", "--data-dir", root_ + "/master",
                                 "--http", "127.0.0.1:" + std::to_string(http_port_), "--raft",
                                 "127.0.0.1:" + std::to_string(raft_port_), "--heartbeat-ttl",
                                 "20s"},
        root_ + "/master.log");
  }

  void StartAgent() {
    agent_ = std::make_unique<Subprocess>(
        std::vector<std::string>{ORCH_AGENT_BIN, "--name", "d1", "--data-dir", root_ + "/agent",
                                 "--masters", MasterUrl(), "--http",
                                 "127.0.0.1:" + std::to_string(agent_port_), "--drivers",
                                 "exec,docker", "--docker-socket", socket_},
        root_ + "/agent-" + std::to_string(++agent_starts_) + ".log");
  }

  std::string Logs() const {
    std::string out;
    for (const auto& e : std::filesystem::directory_iterator(root_)) {
      if (e.path().extension() == ".log") {
        out += "==== " + e.path().filename().string() + "\n" + ReadFile(e.path().string());
      }
    }
    return out;
  }

  // Ids of the containers labelled orch.job=<job> (running, or all).
  std::vector<std::string> Containers(const std::string& job, bool all = false) {
    std::string filters = UrlEncode("{\"label\":[\"orch.job=" + job + "\"]}");
    auto r = docker_->Get(std::string("http://docker/containers/json?all=") + (all ? "1" : "0") +
                          "&filters=" + filters);
    std::vector<std::string> ids;
    if (!r.ok() || r->status != 200) return ids;
    // Ids are the only 64-hex strings after "Id":"
    std::size_t pos = 0;
    while ((pos = r->body.find("\"Id\":\"", pos)) != std::string::npos) {
      pos += 6;
      ids.push_back(r->body.substr(pos, 64));
    }
    return ids;
  }

  // Allocation id -> pid of the job's running allocations.
  std::map<std::string, int> Running(const std::string& job) {
    std::map<std::string, int> out;
    auto allocs = client_->ListAllocations(job);
    if (!allocs.ok()) return out;
    for (const auto& a : allocs->value.allocations()) {
      if (a.client_status() != v1::Allocation::RUNNING || a.task_states_size() == 0) continue;
      out[a.id()] = a.task_states(0).pid();
    }
    return out;
  }

  std::string socket_, image_, root_;
  std::string marker_ = "orch-e2e-marker-" + NewUuid().substr(0, 8);
  int http_port_ = 0, raft_port_ = 0, agent_port_ = 0, agent_starts_ = 0;
  std::unique_ptr<HttpClient> docker_;
  std::unique_ptr<OrchClient> client_;
  std::unique_ptr<Subprocess> master_, agent_;
  std::vector<std::string> jobs_;
};

TEST_F(DockerE2ETest, TenAllocationsSurviveKillNineOfTheAgentExactlyOnce) {
  StartMaster();
  StartAgent();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto nodes = client_->ListNodes();
        if (!nodes.ok() || nodes->value.nodes_size() != 1) return false;
        const auto& n = nodes->value.nodes(0);
        const auto& d = n.attributes().drivers();
        return n.status() == v1::Node::READY && std::find(d.begin(), d.end(), "docker") != d.end();
      },
      30s))
      << "no ready node with the docker driver\n"
      << Logs();
  auto node = client_->ListNodes()->value.nodes(0);
  EXPECT_FALSE(node.attributes().docker_version().empty());

  std::string djob = "dock-" + NewUuid().substr(0, 6), ejob = "exec-" + NewUuid().substr(0, 6);
  jobs_ = {djob, ejob};
  std::string job_file = root_ + "/jobs.yaml";
  std::ofstream(root_ + "/docker.yaml") << "id: " << djob << R"(
type: service
groups:
  - name: web
    count: 5
    tasks:
      - name: server
        driver: docker
        image: )" << image_ << R"(
        command: /bin/sh
        args: ["-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
        resources: { cpu: 20, memory: 16 }
        kill_timeout: 2s
)";
  std::ofstream(root_ + "/exec.yaml") << "id: " << ejob << R"(
type: service
groups:
  - name: work
    count: 5
    tasks:
      - name: sleeper
        driver: exec
        command: /bin/sh
        args: ["-c", "while true; do sleep 1; done", ")" << marker_ << R"("]
        resources: { cpu: 20, memory: 16 }
)";
  for (const char* f : {"/docker.yaml", "/exec.yaml"}) {
    auto r = RunCommand({ORCHCTL_BIN, "run", "-d", "-f", root_ + f}, {{"ORCH_ADDR", MasterUrl()}});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  std::map<std::string, int> dock_before, exec_before;
  ASSERT_TRUE(WaitFor(
      [&] {
        dock_before = Running(djob);
        exec_before = Running(ejob);
        return dock_before.size() == 5 && exec_before.size() == 5;
      },
      90s))
      << "running: docker " << dock_before.size() << ", exec " << exec_before.size() << "\n"
      << Logs();
  std::vector<std::string> containers_before = Containers(djob);
  ASSERT_EQ(containers_before.size(), 5u);
  ASSERT_EQ(ProcessesWithArg(marker_).size(), 5u);

  // kill -9 of the agent; its work keeps running.
  agent_->Signal(SIGKILL);
  ASSERT_NE(agent_->Wait(10s), -1);
  EXPECT_EQ(Containers(djob).size(), 5u);
  EXPECT_EQ(ProcessesWithArg(marker_).size(), 5u);
  StartAgent();
  // Give the new agent time to reconcile (and to wrongly start copies).
  ASSERT_TRUE(WaitFor(
      [&] {
        auto h = HttpClient().Get("http://127.0.0.1:" + std::to_string(agent_port_) + "/healthz");
        return h.ok() && h->status == 200;
      },
      20s));
  std::this_thread::sleep_for(4s);

  auto dock_after = Running(djob);
  auto exec_after = Running(ejob);
  EXPECT_EQ(dock_after, dock_before) << "docker allocations changed";
  EXPECT_EQ(exec_after, exec_before) << "exec allocations changed";
  std::vector<std::string> containers_after = Containers(djob);
  std::sort(containers_before.begin(), containers_before.end());
  std::sort(containers_after.begin(), containers_after.end());
  EXPECT_EQ(containers_after, containers_before) << "containers lost or started twice";
  EXPECT_EQ(Containers(djob, /*all=*/true).size(), 5u);
  std::set<pid_t> procs = ProcessesWithArg(marker_);
  EXPECT_EQ(procs.size(), 5u) << "exec processes lost or started twice";
  for (const auto& [id, pid] : exec_after) EXPECT_TRUE(procs.count(pid)) << "pid " << pid;
  auto allocs = client_->ListAllocations(djob);
  ASSERT_TRUE(allocs.ok());
  EXPECT_EQ(allocs->value.allocations_size(), 5);

  // Stopped while the agent is down: stopped once it is back.
  agent_->Signal(SIGKILL);
  ASSERT_NE(agent_->Wait(10s), -1);
  auto stop = RunCommand({ORCHCTL_BIN, "stop", djob}, {{"ORCH_ADDR", MasterUrl()}});
  ASSERT_EQ(stop.exit_code, 0) << stop.out << stop.err;
  EXPECT_EQ(Containers(djob).size(), 5u);  // nobody acted yet
  StartAgent();
  EXPECT_TRUE(WaitFor([&] { return Containers(djob, /*all=*/true).empty(); }, 60s))
      << Containers(djob, true).size() << " containers of the stopped job remain\n"
      << Logs();
  EXPECT_EQ(ProcessesWithArg(marker_).size(), 5u) << "the exec job must keep running";

  auto stop2 = RunCommand({ORCHCTL_BIN, "stop", ejob}, {{"ORCH_ADDR", MasterUrl()}});
  EXPECT_EQ(stop2.exit_code, 0);
  EXPECT_TRUE(WaitFor([&] { return ProcessesWithArg(marker_).empty(); }, 30s));
}

}  // namespace
}  // namespace orch::e2e
