#include "netns.h"

#include <unistd.h>

#include <filesystem>

#include "process.h"

namespace orch::e2e {
namespace {

constexpr char kNamePrefix[] = "orchnem";

// The full path of a system tool (RunCommand and Subprocess exec without a
// PATH search, and root's tools are in sbin).
std::string Tool(const std::string& name) {
  for (const char* dir : {"/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"}) {
    if (access((dir + name).c_str(), X_OK) == 0) return dir + name;
  }
  return name;
}

// Deletes the namespaces of earlier labs whose process is gone (deleting
// the switch namespace also deletes the veths whose ends it holds).
void DeleteStaleNamespaces() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec)) {
    const std::string name = entry.path().filename();
    if (name.rfind(kNamePrefix, 0) != 0) continue;
    const std::size_t dash = name.find('-');
    if (dash == std::string::npos) continue;
    const std::string pid = name.substr(sizeof(kNamePrefix) - 1, dash - (sizeof(kNamePrefix) - 1));
    if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
    if (ProcessAlive(static_cast<pid_t>(std::stol(pid)))) continue;
    RunCommand({Tool("ip"), "netns", "delete", name});
  }
}

}  // namespace

Result<std::unique_ptr<NetworkLab>> NetworkLab::Create(const std::vector<std::string>& members) {
  if (geteuid() != 0) return Status::FailedPrecondition("network namespaces need root");
  DeleteStaleNamespaces();
  std::unique_ptr<NetworkLab> lab(new NetworkLab());
  Status st = lab->Build(members);
  if (!st.ok()) return st;  // the destructor deletes what was made
  return lab;
}

Status NetworkLab::Build(const std::vector<std::string>& members) {
  prefix_ = kNamePrefix + std::to_string(getpid());
  switch_ns_ = prefix_ + "-sw";
  host_veth_ = "onem" + std::to_string(getpid());
  subnet_ = "10.231." + std::to_string(getpid() % 250 + 1) + ".";
  ORCH_RETURN_IF_ERROR(Run({Tool("ip"), "netns", "add", switch_ns_}));
  ORCH_RETURN_IF_ERROR(Run({Tool("ip"), "-n", switch_ns_, "link", "add", "br0", "type", "bridge"}));
  ORCH_RETURN_IF_ERROR(Run({Tool("ip"), "-n", switch_ns_, "link", "set", "br0", "up"}));
  // This namespace's way in.
  ORCH_RETURN_IF_ERROR(Run({Tool("ip"), "link", "add", host_veth_, "type", "veth", "peer", "name",
                            "host", "netns", switch_ns_}));
  ORCH_RETURN_IF_ERROR(
      Run({Tool("ip"), "-n", switch_ns_, "link", "set", "host", "master", "br0", "up"}));
  ORCH_RETURN_IF_ERROR(Run({Tool("ip"), "addr", "add", subnet_ + "1/24", "dev", host_veth_}));
  ORCH_RETURN_IF_ERROR(Run({Tool("ip"), "link", "set", host_veth_, "up"}));
  for (std::size_t i = 0; i < members.size(); ++i) {
    Member m;
    m.netns = prefix_ + "-" + members[i];
    m.address = subnet_ + std::to_string(11 + i);
    const std::string port = "p" + std::to_string(i);  // its end on the bridge
    ORCH_RETURN_IF_ERROR(Run({Tool("ip"), "netns", "add", m.netns}));
    members_[members[i]] = m;
    ORCH_RETURN_IF_ERROR(Run({Tool("ip"), "-n", m.netns, "link", "set", "lo", "up"}));
    ORCH_RETURN_IF_ERROR(Run({Tool("ip"), "-n", switch_ns_, "link", "add", port, "type", "veth",
                              "peer", "name", "eth0", "netns", m.netns}));
    ORCH_RETURN_IF_ERROR(
        Run({Tool("ip"), "-n", switch_ns_, "link", "set", port, "master", "br0", "up"}));
    ORCH_RETURN_IF_ERROR(
        Run({Tool("ip"), "-n", m.netns, "addr", "add", m.address + "/24", "dev", "eth0"}));
    ORCH_RETURN_IF_ERROR(Run({Tool("ip"), "-n", m.netns, "link", "set", "eth0", "up"}));
    // Fails here, not in the middle of the test, when iptables cannot work.
    ORCH_RETURN_IF_ERROR(Iptables(members[i], {"-F", "INPUT"}));
  }
  return Status::Ok();
}

NetworkLab::~NetworkLab() {
  for (const auto& [id, m] : members_) RunCommand({Tool("ip"), "netns", "delete", m.netns});
  if (!switch_ns_.empty()) RunCommand({Tool("ip"), "netns", "delete", switch_ns_});
  RunCommand({Tool("ip"), "link", "delete", host_veth_});  // gone with its peer already, normally
}

Status NetworkLab::Run(const std::vector<std::string>& argv) const {
  CommandResult r = RunCommand(argv, {}, std::chrono::seconds(20));
  if (r.exit_code == 0) return Status::Ok();
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  return Status::Internal(cmd + ": exit " + std::to_string(r.exit_code) + ": " + r.err);
}

Status NetworkLab::Iptables(const std::string& member, std::vector<std::string> rule) const {
  std::vector<std::string> argv = Wrapper(member);
  argv.push_back(Tool("iptables"));
  argv.insert(argv.end(), rule.begin(), rule.end());
  return Run(argv);
}

const NetworkLab::Member& NetworkLab::Get(const std::string& member) const {
  return members_.at(member);
}

const std::string& NetworkLab::Address(const std::string& member) const {
  return Get(member).address;
}

std::vector<std::string> NetworkLab::Wrapper(const std::string& member) const {
  return {Tool("ip"), "netns", "exec", Get(member).netns};
}

Status NetworkLab::DropAll(const std::string& from, const std::string& to) {
  return Iptables(to, {"-A", "INPUT", "-s", Address(from), "-j", "DROP"});
}

Status NetworkLab::DropConnections(const std::string& from, const std::string& to,
                                   const std::vector<int>& ports) {
  for (int port : ports) {
    ORCH_RETURN_IF_ERROR(Iptables(to, {"-A", "INPUT", "-s", Address(from), "-p", "tcp", "--dport",
                                       std::to_string(port), "-j", "DROP"}));
  }
  return Status::Ok();
}

Status NetworkLab::Heal() {
  for (const auto& [id, m] : members_) ORCH_RETURN_IF_ERROR(Iptables(id, {"-F", "INPUT"}));
  return Status::Ok();
}

}  // namespace orch::e2e
