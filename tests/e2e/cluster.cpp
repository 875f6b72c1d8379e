#include "cluster.h"

#include <signal.h>

#include <filesystem>
#include <iostream>

namespace orch::e2e {

LocalCluster::LocalCluster(std::string root) : root_(std::move(root)) {
  std::filesystem::remove_all(root_);
  std::filesystem::create_directories(root_);
  http_port_ = FreePort();
  raft_port_ = FreePort();
  client_ = std::make_unique<OrchClient>(std::vector<std::string>{master_url()});
}

LocalCluster::~LocalCluster() {
  for (auto& [name, agent] : agents_) {
    if (agent && agent->running()) {
      agent->Signal(SIGTERM);
      agent->Wait(std::chrono::seconds(10));
    }
  }
  if (master_ && master_->running()) {
    master_->Signal(SIGTERM);
    master_->Wait(std::chrono::seconds(10));
  }
  // Agents leave tasks running by design (a restarted agent adopts them).
  // Each test stops its jobs, but one that ended early (an ASSERT) did not:
  // its tasks' supervisors name the agents' data dirs, under root_.
  if (int left = KillByMarker(root_ + "/"); left > 0)
    std::cerr << left << " leftover process(es) killed\n";
}

void LocalCluster::StartMaster(const std::vector<std::string>& extra) {
  std::vector<std::string> argv{ORCH_MASTER_BIN, "--id", "m1", "--data-dir", root_ + "/master",
                                "--http", "127.0.0.1:" + std::to_string(http_port_), "--raft",
                                "127.0.0.1:" + std::to_string(raft_port_), "--heartbeat-ttl", "3s"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  master_ = std::make_unique<Subprocess>(argv, root_ + "/master.log");
}

void LocalCluster::StopMaster(int sig) { master_->Signal(sig); }

int LocalCluster::MasterExitCode(std::chrono::milliseconds timeout) { return master_->Wait(timeout); }

void LocalCluster::StartAgent(const std::string& name, const std::vector<std::string>& extra) {
  std::vector<std::string> argv{ORCH_AGENT_BIN, "--name", name, "--data-dir", agent_data_dir(name),
                                "--masters", master_url(), "--http",
                                "127.0.0.1:" + std::to_string(FreePort()), "--drivers", "exec"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto p = std::make_unique<Subprocess>(argv, root_ + "/agent-" + name + ".log");
  for (auto& [n, a] : agents_) {
    if (n == name) {
      a = std::move(p);
      return;
    }
  }
  agents_.emplace_back(name, std::move(p));
}

void LocalCluster::StopAgent(const std::string& name, int sig) {
  for (auto& [n, a] : agents_) {
    if (n == name) a->Signal(sig);
  }
}

int LocalCluster::AgentExitCode(const std::string& name, std::chrono::milliseconds timeout) {
  for (auto& [n, a] : agents_) {
    if (n == name) return a->Wait(timeout);
  }
  return -1;
}

void LocalCluster::UseToken(const std::string& secret) {
  client_ = std::make_unique<OrchClient>(std::vector<std::string>{master_url()}, secret);
}

CommandResult LocalCluster::Orchctl(std::vector<std::string> args) {
  std::vector<std::string> argv{ORCHCTL_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, {{"ORCH_ADDR", master_url()}});
}

bool LocalCluster::WaitReady(int agents, std::chrono::milliseconds timeout) {
  return WaitFor(
      [&] {
        auto nodes = client_->ListNodes();
        if (!nodes.ok()) return false;
        int ready = 0;
        for (const auto& n : nodes->value.nodes()) ready += n.status() == v1::Node::READY;
        return ready >= agents;
      },
      timeout);
}

std::string LocalCluster::Logs() const {
  std::string out;
  for (const auto& entry : std::filesystem::directory_iterator(root_)) {
    if (entry.path().extension() == ".log") {
      out += "==== " + entry.path().filename().string() + "\n" + ReadFile(entry.path().string());
    }
  }
  return out;
}

std::optional<v1::Allocation> FirstAlloc(OrchClient& client, const std::string& job) {
  auto allocs = client.ListAllocations(job);
  if (!allocs.ok() || allocs->value.allocations_size() == 0) return std::nullopt;
  return allocs->value.allocations(0);
}

bool StopJobAndWait(OrchClient& client, const std::string& job, std::chrono::milliseconds timeout) {
  (void)client.StopJob(job);
  return WaitFor(
      [&] {
        auto allocs = client.ListAllocations(job);
        if (!allocs.ok()) return false;
        for (const auto& a : allocs->value.allocations()) {
          if (a.client_status() == v1::Allocation::PENDING || a.client_status() == v1::Allocation::RUNNING) {
            return false;
          }
        }
        return true;
      },
      timeout);
}

std::string ExecJob(const std::string& id, const std::string& type, const std::string& command,
                    const std::vector<std::string>& args, int64_t memory) {
  std::string a;
  for (const auto& x : args) a += (a.empty() ? "" : ",") + ("\"" + x + "\"");
  return R"({"id":")" + id + R"(","type":")" + type +
         R"(","groups":[{"name":"g","count":1,"tasks":[)" +
         R"({"name":"t","driver":"exec","command":")" + command + R"(","args":[)" + a + "]," +
         R"("resources":{"cpu":10,"memory":)" + std::to_string(memory) + "}}]}]}";
}

bool RunToCompletion(OrchClient& client, const std::string& id, std::chrono::milliseconds timeout,
                     std::string* why) {
  auto submitted = client.SubmitJobDocument(ExecJob(id, "batch", "/bin/true"));
  if (!submitted.ok()) {
    if (why) *why = submitted.status().ToString();
    return false;
  }
  std::optional<v1::Allocation> last;
  bool done = WaitFor(
      [&] {
        last = FirstAlloc(client, id);
        return last && last->client_status() == v1::Allocation::COMPLETE;
      },
      timeout);
  if (!done && why)
    *why = last ? "its allocation is " + v1::Allocation::ClientStatus_Name(last->client_status())
                : "no allocation";
  return done;
}

}  // namespace orch::e2e
