// ACLs end to end (issue 13): real masters started with --acl, an agent
// with a node token, orchctl as a user runs it. Anonymous requests get 403
// and change nothing; bootstrap works once; a client token does what its
// policies grant; a management token does everything through orchctl; a
// token presented to a follower goes with the write to the leader.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cluster.h"
#include "common/http_client.h"
#include "common/ids.h"
#include "common/json.h"
#include "masters.h"
#include "orch/v1/acl.pb.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

const char* kJob = R"(id: web
type: service
groups:
  - name: web
    count: 1
    tasks:
      - {name: t, driver: exec, command: /bin/sleep, args: ["300"], resources: {cpu: 10, memory: 8}}
)";

HttpClient Client(const std::string& secret = "") {
  HttpClientOptions o;
  if (!secret.empty()) o.headers.emplace_back("X-Orch-Token", secret);
  return HttpClient(o);
}

std::string WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

// The token orchctl printed with -o json.
v1::AclToken ParseToken(const CommandResult& r) {
  v1::AclToken t;
  EXPECT_TRUE(FromJson(r.out, &t).ok()) << r.out << r.err;
  return t;
}

class AclE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/orch-acl-e2e-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root_);
    cluster_ = std::make_unique<LocalCluster>(root_);
    cluster_->StartMaster({"--acl"});
    ASSERT_TRUE(
        WaitFor([&] { return Client().Get(cluster_->master_url() + "/healthz").ok(); }, 20s));
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << cluster_->Logs();
    if (!management_.empty()) {
      cluster_->UseToken(management_);
      EXPECT_TRUE(StopJobAndWait(cluster_->client(), "web", 30s));
    }
    cluster_.reset();
  }
  CommandResult Ctl(const std::string& secret, std::vector<std::string> args) {
    if (!secret.empty()) args.insert(args.begin(), {"--token", secret});
    return cluster_->Orchctl(args);
  }
  std::string Url(const std::string& path) const { return cluster_->master_url() + path; }

  std::string root_;
  std::unique_ptr<LocalCluster> cluster_;
  std::string management_;
};

TEST_F(AclE2ETest, AnonymousIsRefusedBootstrapOnceTokensDoWhatTheirPoliciesGrant) {
  // Anonymous: 403, and nothing changes.
  HttpClient anon = Client();
  struct Case {
    std::string method, path, body;
  };
  for (const Case& c : std::vector<Case>{
           {"POST", "/v1/jobs", kJob},
           {"POST", "/v1/cluster/members",
            R"({"id":"m9","raft_address":"127.0.0.1:1","http_address":"http://127.0.0.1:2"})"},
           {"POST", "/v1/nodes/n1/drain", R"({"enable":true})"},
           {"GET", "/v1/jobs", ""},
           {"GET", "/v1/acl/tokens", ""},
       }) {
    auto resp = anon.Do(c.method, Url(c.path), c.body);
    ASSERT_TRUE(resp.ok()) << resp.status().ToString();
    EXPECT_EQ(resp->status, 403) << c.method << " " << c.path << ": " << resp->body;
    EXPECT_NE(resp->body.find("permission denied"), std::string::npos) << resp->body;
  }
  // A made-up secret is refused too.
  EXPECT_EQ(Client("0123456789abcdef").Get(Url("/v1/jobs"))->status, 403);

  // Bootstrap: once.
  auto boot = Ctl("", {"acl", "bootstrap", "-o", "json"});
  ASSERT_EQ(boot.exit_code, 0) << boot.err;
  v1::AclToken root = ParseToken(boot);
  ASSERT_FALSE(root.secret_id().empty());
  EXPECT_EQ(root.type(), "management");
  management_ = root.secret_id();
  auto again = Ctl("", {"acl", "bootstrap"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("already bootstrapped"), std::string::npos) << again.err;

  // Nothing the anonymous requests asked for happened.
  auto jobs = Client(management_).Get(Url("/v1/jobs"));
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(jobs->status, 200);
  EXPECT_EQ(jobs->body.find("\"web\""), std::string::npos) << jobs->body;
  auto members = Ctl(management_, {"cluster", "members"});
  EXPECT_EQ(members.out.find("m9"), std::string::npos) << members.out;

  // Policies and tokens through orchctl with the management token.
  auto policy = WriteFile(root_ + "/readonly.yaml",
                          "description: read jobs\nrules:\n  - {resource: job, access: read}\n");
  ASSERT_EQ(Ctl(management_, {"acl", "policy", "apply", "readonly", policy}).exit_code, 0);
  auto agent_policy =
      WriteFile(root_ + "/agent.yaml",
                "rules:\n  - {resource: node, access: write}\n  - {resource: job, access: read}\n");
  ASSERT_EQ(Ctl(management_, {"acl", "policy", "apply", "agent", agent_policy}).exit_code, 0);
  auto bad = WriteFile(root_ + "/bad.yaml", "rules:\n  - {resource: jobs, access: read}\n");
  auto refused = Ctl(management_, {"acl", "policy", "apply", "bad", bad});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("rules[0].resource"), std::string::npos) << refused.err;

  auto reader_made = Ctl(management_, {"acl", "token", "create", "--name", "ci", "--policy",
                                       "readonly", "-o", "json"});
  ASSERT_EQ(reader_made.exit_code, 0) << reader_made.err;
  v1::AclToken reader = ParseToken(reader_made);
  auto agent_made = Ctl(management_, {"acl", "token", "create", "--policy", "agent", "-o", "json"});
  ASSERT_EQ(agent_made.exit_code, 0) << agent_made.err;
  v1::AclToken agent = ParseToken(agent_made);
  auto listed = Ctl(management_, {"acl", "token", "list"});
  EXPECT_NE(listed.out.find(reader.accessor_id()), std::string::npos) << listed.out;
  EXPECT_EQ(listed.out.find(reader.secret_id()), std::string::npos) << "a secret was listed";

  // The agent registers and runs work with its node token.
  cluster_->StartAgent("n1", {"--token", agent.secret_id()});
  cluster_->UseToken(management_);
  ASSERT_TRUE(cluster_->WaitReady(1, 20s));

  // The agent's token speaks for its own node only: the node's writes need
  // that node's secret (kept in the agent's data dir) too.
  auto nodes = cluster_->client().ListNodes();
  ASSERT_TRUE(nodes.ok());
  ASSERT_EQ(nodes->value.nodes_size(), 1);
  const std::string node_id = nodes->value.nodes(0).id();
  std::string node_secret;
  std::ifstream(cluster_->agent_data_dir("n1") + "/node-secret") >> node_secret;
  ASSERT_FALSE(node_secret.empty());
  const std::string heartbeat = Url("/v1/nodes/" + node_id + "/heartbeat");
  EXPECT_EQ(Client(agent.secret_id()).Post(heartbeat, "{}")->status, 403);
  HttpClientOptions other;
  other.headers = {{"X-Orch-Token", agent.secret_id()}, {"X-Orch-Node-Secret", "not-its-secret"}};
  auto forged =
      HttpClient(other).Post(Url("/v1/nodes/" + node_id + "/allocations"), R"({"updates":[]})");
  ASSERT_TRUE(forged.ok());
  EXPECT_EQ(forged->status, 403) << forged->body;
  HttpClientOptions own;
  own.headers = {{"X-Orch-Token", agent.secret_id()}, {"X-Orch-Node-Secret", node_secret}};
  EXPECT_EQ(HttpClient(own).Post(heartbeat, "{}")->status, 200);
  const std::string watch = Url("/v1/nodes/" + node_id + "/allocations");
  EXPECT_EQ(Client(agent.secret_id()).Get(watch)->status, 403);
  EXPECT_EQ(HttpClient(own).Get(watch)->status, 200);

  // The reader lists but cannot submit.
  auto ro_get = Ctl(reader.secret_id(), {"get", "jobs"});
  EXPECT_EQ(ro_get.exit_code, 0) << ro_get.err;
  auto job_file = WriteFile(root_ + "/web.yaml", kJob);
  auto ro_run = Ctl(reader.secret_id(), {"run", "-f", job_file, "-d"});
  EXPECT_NE(ro_run.exit_code, 0);
  EXPECT_NE(ro_run.err.find("permission denied"), std::string::npos) << ro_run.err;
  auto ro_self = Ctl(reader.secret_id(), {"acl", "token", "self"});
  EXPECT_NE(ro_self.out.find("readonly"), std::string::npos) << ro_self.out;

  // The management token runs the job to completion through orchctl.
  auto run = Ctl(management_, {"run", "-f", job_file, "--timeout", "60s"});
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  auto alloc = FirstAlloc(cluster_->client(), "web");
  ASSERT_TRUE(alloc.has_value());
  EXPECT_EQ(alloc->client_status(), v1::Allocation::RUNNING);
  // And the reader sees it.
  EXPECT_NE(Ctl(reader.secret_id(), {"get", "jobs"}).out.find("web"), std::string::npos);

  // A deleted token stops working at once.
  ASSERT_EQ(Ctl(management_, {"acl", "token", "delete", reader.accessor_id()}).exit_code, 0);
  auto gone = Ctl(reader.secret_id(), {"get", "jobs"});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE(gone.err.find("ACL token not found"), std::string::npos) << gone.err;
}

// Three masters with --acl: bootstrap and writes sent to a follower go to
// the leader with their token; anonymous writes through a follower are
// refused by the leader.
TEST(AclMastersE2ETest, ATokenGoesWithAWriteAFollowerForwards) {
  const std::string root = ::testing::TempDir() + "/orch-acl-masters";
  MasterCluster masters(root, {"--acl"});
  masters.Bootstrap({"m1", "m2", "m3"});
  std::string leader = masters.WaitLeader(20s);
  ASSERT_FALSE(leader.empty()) << masters.Logs();
  std::string follower = leader == "m1" ? "m2" : "m1";
  const std::string at = masters.HttpUrl(follower);

  // Until the leader has announced its REST address a follower answers 503.
  Result<HttpResponse> boot = Status::Unavailable("not tried");
  ASSERT_TRUE(WaitFor(
      [&] {
        boot = Client().Post(at + "/v1/acl/bootstrap", "{}");
        return boot.ok() && boot->status != 503;
      },
      20s));
  ASSERT_EQ(boot->status, 200) << boot->body;
  v1::AclToken root_token;
  ASSERT_TRUE(FromJson(boot->body, &root_token).ok());
  EXPECT_EQ(Client().Post(masters.HttpUrl(leader) + "/v1/acl/bootstrap", "{}")->status, 409);

  auto anon = Client().Post(at + "/v1/jobs", TinyJob("anon"));
  ASSERT_TRUE(anon.ok());
  EXPECT_EQ(anon->status, 403) << anon->body;
  auto ok = Client(root_token.secret_id()).Post(at + "/v1/jobs", TinyJob("tiny"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200) << ok->body << masters.Logs();
  // Every master knows the token once it has applied it.
  for (const auto& id : masters.All()) {
    EXPECT_TRUE(WaitFor(
        [&] {
          auto r =
              Client(root_token.secret_id()).Get(masters.HttpUrl(id) + "/v1/jobs/tiny?stale=true");
          return r.ok() && r->status == 200;
        },
        10s))
        << id;
    auto r = Client().Get(masters.HttpUrl(id) + "/v1/jobs/anon?stale=true");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 403) << id;
  }
  auto listed = Client(root_token.secret_id()).Get(masters.HttpUrl(leader) + "/v1/jobs");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->body.find("anon"), std::string::npos);

  // An agent with a client token talks to a follower: its node's own
  // requests (a heartbeat) reach the leader with its node secret.
  auto policy = Client(root_token.secret_id())
                    .Do("PUT", at + "/v1/acl/policies/agent",
                        R"({"name":"agent","rules":[{"resource":"node","access":"write"}]})");
  ASSERT_TRUE(policy.ok() && policy->status == 200)
      << (policy.ok() ? policy->body : policy.status().ToString());
  auto token =
      Client(root_token.secret_id())
          .Post(at + "/v1/acl/tokens", R"({"name":"agent","type":"client","policies":["agent"]})");
  ASSERT_TRUE(token.ok() && token->status == 200)
      << (token.ok() ? token->body : token.status().ToString());
  v1::AclToken agent_token;
  ASSERT_TRUE(FromJson(token->body, &agent_token).ok());
  OrchClient agent({at}, OrchClientOptions{agent_token.secret_id(), NewSecret(), {}});
  v1::Node node;
  node.set_id(NewUuid());
  node.set_name("n1");
  node.mutable_capacity()->set_cpu(1000);
  node.mutable_capacity()->set_memory(1024);
  auto registered = agent.RegisterNode(node);
  ASSERT_TRUE(registered.ok()) << registered.status().ToString();
  Result<v1::HeartbeatResponse> beat = Status::Unavailable("not tried");
  // The registration must have reached the follower's state first.
  EXPECT_TRUE(WaitFor([&] { return (beat = agent.Heartbeat(node.id(), {})).ok(); }, 10s))
      << beat.status().ToString() << masters.Logs();
}

}  // namespace
}  // namespace orch::e2e
