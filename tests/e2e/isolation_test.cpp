// End to end, exec task isolation (issue 13): on an agent with its default
// flags a job's exec task that names no user runs as nobody, cannot write
// /root, sees only its own processes and cannot fork past its pids limit,
// all read back through the masters (`orchctl logs`); a job asking for
// root is refused by that agent with the reason in the task's state, and
// runs as root on an agent started with --exec-allow-root. A task's secrets
// reach it but no read endpoint or plan shows them, and the agent keeps them
// in files only it can read.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "cluster.h"
#include "common/http_client.h"
#include "common/json.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

class IsolationE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "isolation needs the agent to run as root";
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = ::testing::TempDir() + "/orch-e2e-isolation-" + info->name();
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    cluster_ = std::make_unique<LocalCluster>(root_);
  }
  void TearDown() override {
    if (!cluster_) return;
    if (HasFailure()) std::cerr << cluster_->Logs();
    for (const auto& job : jobs_) StopJobAndWait(cluster_->client(), job, 30s);
    cluster_.reset();
  }

  std::string WriteJob(const std::string& name, const std::string& text) {
    std::string path = root_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  // A master and one agent named `agent` (with `flags`), ready.
  void StartCluster(const std::string& agent, const std::vector<std::string>& flags = {}) {
    cluster_->StartMaster();
    cluster_->StartAgent(agent, flags);
    ASSERT_TRUE(cluster_->WaitReady(1, 20s)) << cluster_->Logs();
  }

  // `orchctl run -d -f file` of job `id` (stopped at TearDown), then its
  // first allocation once `pred` holds.
  std::optional<v1::Allocation> Run(const std::string& id, const std::string& file,
                                    const std::function<bool(const v1::Allocation&)>& pred) {
    auto run = cluster_->Orchctl({"run", "-d", "-f", file});
    EXPECT_EQ(run.exit_code, 0) << run.out << run.err;
    if (run.exit_code != 0) return std::nullopt;
    jobs_.push_back(id);
    return WaitAlloc(id, pred);
  }
  static bool Running(const v1::Allocation& a) {
    return a.client_status() == v1::Allocation::RUNNING;
  }

  // `orchctl logs alloc` until `done` holds of its output (or `timeout`).
  CommandResult WaitLogs(const std::string& alloc,
                         const std::function<bool(const std::string&)>& done,
                         std::chrono::milliseconds timeout = 20s) {
    CommandResult out;
    WaitFor(
        [&] {
          out = cluster_->Orchctl({"logs", alloc});
          return done(out.out);
        },
        timeout);
    return out;
  }

  std::optional<v1::Allocation> WaitAlloc(const std::string& job,
                                          const std::function<bool(const v1::Allocation&)>& pred) {
    std::optional<v1::Allocation> last;
    bool ok = WaitFor(
        [&] {
          last = FirstAlloc(cluster_->client(), job);
          return last && pred(*last);
        },
        30s);
    if (!ok) {
      ADD_FAILURE() << "alloc of " << job
                    << " never got there; last: " << (last ? ToJson(*last) : "none");
      return std::nullopt;
    }
    return last;
  }

  std::string root_;
  std::unique_ptr<LocalCluster> cluster_;
  std::vector<std::string> jobs_;
};

TEST_F(IsolationE2ETest, TaskWithoutUserRunsAsNobodyAndIsContained) {
  StartCluster("a1");
  std::string marker = "9021." + std::to_string(getpid());
  std::string job = WriteJob("contained.yaml",
                             R"(
id: contained
type: service
groups:
  - name: g
    count: 1
    tasks:
      - name: t
        driver: exec
        command: /bin/sh
        pids_limit: 10
        args: [-c, "id -u; touch /root/orch-e2e-x; echo root=$?; echo pid=$$; echo procs=$(ls /proc | grep -c '^[0-9]'); (i=0; while [ $i -lt 30 ]; do sleep )" +
                                 marker + R"( & i=$((i+1)); done); echo forked=$?; exec sleep 3600"]
        resources: { cpu: 10, memory: 32 }
)");
  auto a = Run("contained", job, Running);
  ASSERT_TRUE(a);
  CommandResult out = WaitLogs(
      a->id(), [](const std::string& o) { return o.find("forked=") != std::string::npos; });
  ASSERT_NE(out.out.find("forked="), std::string::npos) << out.out << out.err;
  EXPECT_EQ(out.out.substr(0, 6), "65534\n") << "runs as nobody: " << out.out;
  EXPECT_NE(out.out.find("root=1\n"), std::string::npos) << "cannot write /root: " << out.out;
  EXPECT_FALSE(std::filesystem::exists("/root/orch-e2e-x"));
  EXPECT_NE(out.out.find("pid=2\n"), std::string::npos) << "its own pid namespace: " << out.out;
  auto procs_at = out.out.find("procs=");
  ASSERT_NE(procs_at, std::string::npos);
  EXPECT_LE(std::stoi(out.out.substr(procs_at + 6)), 5)
      << "sees only its own processes: " << out.out;
  auto err = cluster_->Orchctl({"logs", a->id(), "--stderr"});
  EXPECT_NE(err.out.find("fork"), std::string::npos) << "forks past the limit fail: " << err.out;
  const std::string sleeper = "sleep" + std::string(1, '\0') + marker + '\0';
  const size_t sleepers =
      ProcessesMatching([&](const std::string& c) { return c == sleeper; }).size();
  EXPECT_GT(sleepers, 0u);
  EXPECT_LE(sleepers, 8u) << "10 pids: the shell, the subshell and at most 8 more";
  EXPECT_NE(out.out.find("forked=2"), std::string::npos)
      << "the subshell could not fork: " << out.out;

  ASSERT_TRUE(StopJobAndWait(cluster_->client(), "contained", 30s));
  jobs_.clear();
  EXPECT_TRUE(WaitFor(
      [&] {
        return ProcessesMatching(
                   [&](const std::string& c) { return c.find(marker) != std::string::npos; })
            .empty();
      },
      10s))
      << "the task's processes outlived it";
}

TEST_F(IsolationE2ETest, RootIsRefusedWithTheReasonUnlessTheAgentAllowsIt) {
  StartCluster("strict");
  std::string job = WriteJob("root.yaml", R"(
id: asroot
type: batch
groups:
  - name: g
    count: 1
    restart: { attempts: 0, mode: fail }
    tasks:
      - name: t
        driver: exec
        user: root
        command: /usr/bin/id
        args: [-u]
        resources: { cpu: 10, memory: 16 }
)");
  auto a = Run("asroot", job, [](const v1::Allocation& a) {
    return a.task_states_size() > 0 && a.task_states(0).failed();
  });
  ASSERT_TRUE(a);
  EXPECT_NE(a->task_states(0).message().find("root"), std::string::npos) << ToJson(*a);
  EXPECT_NE(a->task_states(0).message().find("--exec-allow-root"), std::string::npos) << ToJson(*a);
  auto status = cluster_->Orchctl({"describe", "alloc", a->id()});
  EXPECT_NE(status.out.find("--exec-allow-root"), std::string::npos) << status.out << status.err;
  ASSERT_TRUE(StopJobAndWait(cluster_->client(), "asroot", 30s));
  jobs_.clear();

  // An agent that allows root runs it as root.
  cluster_->StopAgent("strict", SIGTERM);
  cluster_->StartAgent("lenient", {"--exec-allow-root", "--label", "root=allowed"});
  ASSERT_TRUE(WaitFor(
      [&] {
        auto nodes = cluster_->client().ListNodes();
        if (!nodes.ok()) return false;
        for (const auto& n : nodes->value.nodes()) {
          if (n.name() == "lenient" && n.status() == v1::Node::READY) return true;
        }
        return false;
      },
      20s));
  std::string job2 = WriteJob("root2.yaml", R"(
id: asroot2
type: batch
constraints:
  - { attribute: "${meta.root}", operator: "=", value: allowed }
groups:
  - name: g
    count: 1
    tasks:
      - name: t
        driver: exec
        user: root
        command: /usr/bin/id
        args: [-u]
        resources: { cpu: 10, memory: 16 }
)");
  auto b = Run("asroot2", job2, [](const v1::Allocation& a) {
    return a.client_status() == v1::Allocation::COMPLETE;
  });
  ASSERT_TRUE(b);
  EXPECT_EQ(cluster_->Orchctl({"logs", b->id()}).out, "0\n");
}

TEST_F(IsolationE2ETest, SecretsReachTheTaskButNoReadEndpointOrPlan) {
  StartCluster("a1");
  std::string job = WriteJob("secret.yaml", R"(
id: secretive
type: service
groups:
  - name: g
    count: 1
    tasks:
      - name: t
        driver: exec
        command: /bin/sh
        args: [-c, "echo got=$DB_PASSWORD; exec sleep 3600"]
        secrets: { DB_PASSWORD: hunter2-e2e }
        resources: { cpu: 10, memory: 16 }
)");
  auto a = Run("secretive", job, Running);
  ASSERT_TRUE(a);
  CommandResult logs =
      WaitLogs(a->id(), [](const std::string& o) { return o == "got=hunter2-e2e\n"; });
  ASSERT_EQ(logs.out, "got=hunter2-e2e\n") << logs.err;
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"describe", "job", "secretive", "-o", "json"},
                                             {"describe", "alloc", a->id(), "-o", "json"},
                                             {"get", "jobs", "-o", "json"},
                                             {"job", "history", "secretive", "-o", "json"}}) {
    auto r = cluster_->Orchctl(args);
    EXPECT_EQ(r.out.find("hunter2"), std::string::npos)
        << args[0] << " " << args[1] << ": " << r.out;
  }
  auto detail = cluster_->Orchctl({"describe", "job", "secretive", "-o", "json"});
  EXPECT_NE(detail.out.find("(redacted)"), std::string::npos) << detail.out;
  std::string changed = WriteJob(
      "secret2.yaml", ReadFile(job).replace(ReadFile(job).find("hunter2-e2e"), 11, "hunter3-e2e"));
  auto plan = cluster_->Orchctl({"plan", "-f", changed, "-o", "json"});
  EXPECT_EQ(plan.out.find("hunter"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("secrets"), std::string::npos)
      << "the change shows, its value does not: " << plan.out;
  // The agent's own API serves task logs to the masters only.
  auto nodes = cluster_->client().ListNodes();
  ASSERT_TRUE(nodes.ok() && nodes->value.nodes_size() == 1);
  auto direct = HttpClient().Get(nodes->value.nodes(0).address() + "/v1/allocations/" + a->id() +
                                 "/logs?task=t");
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  EXPECT_EQ(direct->status, 403) << direct->body;
  EXPECT_EQ(direct->body.find("hunter2"), std::string::npos);
  // The agent's record of the allocation holds the value: only root reads it.
  std::string record = cluster_->agent_data_dir("a1") + "/state/" + a->id() + ".json";
  struct stat st;
  ASSERT_EQ(stat(record.c_str(), &st), 0) << record;
  EXPECT_EQ(st.st_mode & 0077, 0u) << "mode " << std::oct << (st.st_mode & 0777);
}

}  // namespace
}  // namespace orch::e2e
