// Ephemeral disk migration end to end (issue 16): one master with --acl and
// two agents (exec driver) holding the management token. A service whose
// group migrates its ephemeral disk writes into ORCH_ALLOC_DIR (a 3 MB
// random file and its checksum); its node is drained; the replacement on
// the other node finds the same bytes when it starts, fetched through the
// master from the old node's agent with that node's credential. An agent's
// fetch of another node's allocation is refused.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/client/client.h"
#include "cluster.h"
#include "common/http_client.h"
#include "common/json.h"
#include "orch/v1/acl.pb.h"
#include "orch/v1/api.pb.h"
#include "process.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

// Writes the blob once (the first allocation), then records who ran and
// what the blob's checksum was.
const char* kJob = R"({"id": "keeper", "type": "SERVICE", "groups": [{
  "name": "g", "count": 1,
  "ephemeral_disk": {"migrate": true, "size": 64},
  "tasks": [{"name": "t", "driver": "exec", "command": "/bin/sh",
    "args": ["-c", "D=\"$ORCH_ALLOC_DIR\"; [ -f \"$D/blob\" ] || head -c 3000000 /dev/urandom > \"$D/blob\"; echo \"$ORCH_ALLOC_ID\" >> \"$D/history\"; sha256sum < \"$D/blob\" >> \"$D/sums\"; exec sleep 600"],
    "resources": {"cpu": 10, "memory": 16}}]}]})";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class EphemeralDiskE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/orch-disk-e2e-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(root_);
    cluster_ = std::make_unique<LocalCluster>(root_);
    cluster_->StartMaster({"--acl"});
    HttpClient anon;
    Result<HttpResponse> boot = Status::Unavailable("not yet");
    ASSERT_TRUE(WaitFor(
        [&] {
          boot = anon.Post(cluster_->master_url() + "/v1/acl/bootstrap", "{}");
          return boot.ok() && boot->status == 200;
        },
        20s));
    v1::AclToken token;
    ASSERT_TRUE(FromJson(boot->body, &token).ok()) << boot->body;
    management_ = token.secret_id();
    cluster_->UseToken(management_);
    cluster_->StartAgent("a1", {"--token", management_});
    cluster_->StartAgent("a2", {"--token", management_});
    ASSERT_TRUE(cluster_->WaitReady(2, 30s)) << cluster_->Logs();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << cluster_->Logs();
    if (!management_.empty()) {
      EXPECT_TRUE(StopJobAndWait(cluster_->client(), "keeper", 60s));
    }
    cluster_.reset();
    if (!HasFailure()) std::filesystem::remove_all(root_);
  }

  std::vector<v1::Allocation> Allocs() {
    auto l = cluster_->client().JobAllocations("keeper");
    if (!l.ok()) return {};
    return {l->value.allocations().begin(), l->value.allocations().end()};
  }
  std::string AgentOf(const std::string& node_id) {
    auto n = cluster_->client().GetNode(node_id);
    return n.ok() ? n->value.name() : "";
  }
  std::string SharedDir(const std::string& agent, const std::string& alloc_id) {
    return cluster_->agent_data_dir(agent) + "/allocs/" + alloc_id + "/_shared";
  }

  std::string root_;
  std::unique_ptr<LocalCluster> cluster_;
  std::string management_;
};

TEST_F(EphemeralDiskE2ETest, ADrainedAllocationsDiskMovesToItsReplacementOnAnotherNode) {
  auto submitted = cluster_->client().SubmitJobDocument(kJob);
  ASSERT_TRUE(submitted.ok()) << submitted.status().ToString();
  v1::Allocation first;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& a : Allocs()) {
          if (a.client_status() == v1::Allocation::RUNNING) first = a;
        }
        return !first.id().empty() &&
               Lines(ReadFile(SharedDir(AgentOf(first.node_id()), first.id()) + "/sums")).size() ==
                   1;
      },
      30s))
      << "the first allocation never wrote its disk";
  const std::string old_agent = AgentOf(first.node_id());
  const std::string new_agent = old_agent == "a1" ? "a2" : "a1";
  const std::string first_sum = ReadFile(SharedDir(old_agent, first.id()) + "/sums");

  // Another node cannot fetch this allocation's disk: it is not its allocation.
  HttpClientOptions o;
  o.headers.emplace_back("X-Orch-Token", management_);
  HttpClient http(o);
  std::string other_node;
  auto nodes = cluster_->client().ListNodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status().ToString();
  for (const auto& n : nodes->value.nodes()) {
    if (n.id() != first.node_id()) other_node = n.id();
  }
  auto foreign = http.Get(cluster_->master_url() + "/v1/nodes/" + other_node + "/allocations/" +
                          first.id() + "/previous-disk?check=true");
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ(foreign->status, 403) << foreign->body;

  auto drained = cluster_->client().DrainNode(first.node_id(), true);
  ASSERT_TRUE(drained.ok()) << drained.status().ToString();
  v1::Allocation second;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& a : Allocs()) {
          if (a.previous_allocation() == first.id() && a.client_status() == v1::Allocation::RUNNING)
            second = a;
        }
        return !second.id().empty() &&
               Lines(ReadFile(SharedDir(new_agent, second.id()) + "/sums")).size() == 2;
      },
      60s))
      << "no replacement ran with the migrated disk; last: " << ToJson(second);
  EXPECT_EQ(AgentOf(second.node_id()), new_agent);
  auto history = Lines(ReadFile(SharedDir(new_agent, second.id()) + "/history"));
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0], first.id());
  EXPECT_EQ(history[1], second.id());
  auto sums = Lines(ReadFile(SharedDir(new_agent, second.id()) + "/sums"));
  EXPECT_EQ(sums[0] + "\n", first_sum);
  EXPECT_EQ(sums[1], sums[0]) << "the blob arrived changed";
  EXPECT_EQ(second.client_description().find("not migrated"), std::string::npos)
      << second.client_description();
  EXPECT_EQ(std::filesystem::file_size(SharedDir(new_agent, second.id()) + "/blob"), 3000000u);
}

}  // namespace
}  // namespace orch::e2e
