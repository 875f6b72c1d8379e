// `orchctl cluster ...` end to end against fake masters that answer the
// cluster endpoints as master/http/cluster_api.cpp does and record what they
// were sent.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/orchctl/cli.h"
#include "common/http_server.h"
#include "common/json.h"
#include "common/router.h"
#include "tests/unit/orchctl/cli_harness.h"

namespace orch::ctl {
namespace {

using clitest::CliRun;
using clitest::ExpectOneLineError;
using clitest::Orchctl;

v1::Member MakeMember(const std::string& id, v1::Member::Role role, uint64_t match,
                      bool leader = false) {
  v1::Member m;
  m.set_id(id);
  m.set_role(role);
  m.set_match_index(match);
  m.set_leader(leader);
  std::string n = id.substr(1);
  m.set_raft_address("127.0.0.1:" + n + "647");
  m.set_http_address("http://127.0.0.1:" + n + "646");
  return m;
}

// A quorum m1 (leader), m2, m3 as the leader sees it, plus `extra`.
v1::MemberList Quorum(uint64_t leader_match, std::vector<v1::Member> extra = {}) {
  v1::MemberList list;
  list.set_leader_id("m1");
  *list.add_members() = MakeMember("m1", v1::Member::VOTER, leader_match, true);
  *list.add_members() = MakeMember("m2", v1::Member::VOTER, leader_match);
  *list.add_members() = MakeMember("m3", v1::Member::VOTER, leader_match - 1);
  for (auto& m : extra) *list.add_members() = std::move(m);
  return list;
}

struct Seen {
  std::string method;
  std::string path;
  std::string body;
  std::string line() const { return method + " " + path; }
};

// A master serving the cluster endpoints. GET /v1/cluster/members answers
// the scripted lists in turn (the last one again once they run out).
class FakeClusterMaster {
 public:
  FakeClusterMaster() {
    router_.Add("GET", "/v1/cluster/members", [this](const HttpRequest& req, const PathParams&) {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back({req.method, req.path, req.body});
      if (members_.empty()) return HttpResponse::Json(200, "{}");
      v1::MemberList list = members_[std::min(next_members_, members_.size() - 1)];
      ++next_members_;
      return HttpResponse::Json(200, ToJson(list));
    });
    router_.Add("GET", "/v1/cluster/leader", [this](const HttpRequest& req, const PathParams&) {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back({req.method, req.path, req.body});
      if (leader_.leader_id().empty()) {
        return HttpResponse::Error(Status::Unavailable("no leader elected yet"));
      }
      return HttpResponse::Json(200, ToJson(leader_));
    });
    router_.Add("POST", "/v1/cluster/members", [this](const HttpRequest& req, const PathParams&) {
      std::lock_guard<std::mutex> lock(mu_);
      seen_.push_back({req.method, req.path, req.body});
      if (!write_error_.ok()) return HttpResponse::Error(write_error_);
      v1::AddMemberRequest body;
      Status st = FromJson(req.body, &body);
      if (!st.ok()) return HttpResponse::Error(st);
      v1::ClusterResponse resp;
      resp.set_index(77);
      resp.set_message("member " + body.id() +
                       (body.promote()
                            ? " is a voter"
                            : (body.learner() ? " added as learner" : " added as voter")));
      return HttpResponse::Json(200, ToJson(resp));
    });
    router_.Add("DELETE", "/v1/cluster/members/{id}",
                [this](const HttpRequest& req, const PathParams& p) {
                  std::lock_guard<std::mutex> lock(mu_);
                  seen_.push_back({req.method, req.path, req.body});
                  if (!write_error_.ok()) return HttpResponse::Error(write_error_);
                  v1::ClusterResponse resp;
                  resp.set_message("member " + p.at("id") + " removed");
                  return HttpResponse::Json(200, ToJson(resp));
                });
    router_.Add("POST", "/v1/cluster/transfer-leader",
                [this](const HttpRequest& req, const PathParams&) {
                  std::lock_guard<std::mutex> lock(mu_);
                  seen_.push_back({req.method, req.path, req.body});
                  if (!write_error_.ok()) return HttpResponse::Error(write_error_);
                  v1::TransferLeaderRequest body;
                  Status st = FromJson(req.body, &body);
                  if (!st.ok()) return HttpResponse::Error(st);
                  v1::ClusterResponse resp;
                  resp.set_message("leadership transferred to " + body.id());
                  return HttpResponse::Json(200, ToJson(resp));
                });
    auto server = HttpServer::Start(HttpServerOptions{},
                                    [this](const HttpRequest& req) { return router_.Handle(req); });
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (server.ok()) server_ = std::move(server).value();
  }
  ~FakeClusterMaster() {
    if (server_) server_->Shutdown();
  }

  std::string addr() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  void ScriptMembers(std::vector<v1::MemberList> lists) {
    std::lock_guard<std::mutex> lock(mu_);
    members_ = std::move(lists);
    next_members_ = 0;
  }
  void SetLeader(const std::string& id, const std::string& address, uint64_t term) {
    std::lock_guard<std::mutex> lock(mu_);
    leader_.set_leader_id(id);
    leader_.set_address(address);
    leader_.set_term(term);
  }
  // Every write answers this error (e.g. 503 while there is no leader).
  void FailWrites(Status st) {
    std::lock_guard<std::mutex> lock(mu_);
    write_error_ = std::move(st);
  }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  std::vector<std::string> lines() {
    std::vector<std::string> out;
    for (const auto& s : seen()) out.push_back(s.line());
    return out;
  }

 private:
  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::vector<v1::MemberList> members_;
  std::size_t next_members_ = 0;
  v1::LeaderResponse leader_;
  Status write_error_;
  std::vector<Seen> seen_;
};

v1::AddMemberRequest AddBody(const Seen& s) {
  v1::AddMemberRequest req;
  EXPECT_TRUE(FromJson(s.body, &req, /*lenient=*/false).ok()) << s.body;
  return req;
}

// Time moves only when orchctl sleeps; the sleeps are counted.
struct FakeTime {
  std::shared_ptr<int64_t> now = std::make_shared<int64_t>(1'000'000);
  std::shared_ptr<int> sleeps = std::make_shared<int>(0);
  Clock clock() const {
    Clock c;
    c.now_ms = [now = now] { return *now; };
    c.sleep_for = [now = now, sleeps = sleeps](std::chrono::milliseconds d) {
      *now += d.count();
      ++*sleeps;
    };
    return c;
  }
};

const std::string kNoLeader =
    "no leader: the masters are electing one (or cannot reach a majority); retry shortly";

TEST(ClusterCliTest, MembersTableMarksTheLeaderAndBlanksUnknownMatch) {
  FakeClusterMaster m;
  v1::Member learner = MakeMember("m4", v1::Member::LEARNER, 0);
  learner.clear_http_address();
  m.ScriptMembers({Quorum(1240, {learner})});
  CliRun r = Orchctl({"--addr", m.addr(), "cluster", "members"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "ID   ROLE      LEADER   RAFT ADDRESS     HTTP ADDRESS            MATCH\n"
            "m1   voter     *        127.0.0.1:1647   http://127.0.0.1:1646   1240\n"
            "m2   voter              127.0.0.1:2647   http://127.0.0.1:2646   1240\n"
            "m3   voter              127.0.0.1:3647   http://127.0.0.1:3646   1239\n"
            "m4   learner            127.0.0.1:4647   -\n");
  EXPECT_EQ(m.lines(), std::vector<std::string>{"GET /v1/cluster/members"});
}

TEST(ClusterCliTest, MembersAsJsonAndYamlAreTheApiAnswer) {
  FakeClusterMaster m;
  m.ScriptMembers({Quorum(10, {MakeMember("m4", v1::Member::LEARNER, 3)})});
  CliRun json = Orchctl({"--addr", m.addr(), "cluster", "members", "-o", "json"});
  EXPECT_EQ(json.code, 0) << json.err;
  v1::MemberList list;
  ASSERT_TRUE(FromJson(json.out, &list, /*lenient=*/false).ok()) << json.out;
  ASSERT_EQ(list.members_size(), 4);
  EXPECT_EQ(list.members(3).role(), v1::Member::LEARNER);
  EXPECT_EQ(list.leader_id(), "m1");

  CliRun yaml = Orchctl({"-o", "yaml", "--addr", m.addr(), "cluster", "members"});
  EXPECT_EQ(yaml.code, 0) << yaml.err;
  YAML::Node doc = YAML::Load(yaml.out);
  EXPECT_EQ(doc["members"][3]["id"].as<std::string>(), "m4");
  EXPECT_EQ(doc["members"][3]["role"].as<std::string>(), "LEARNER");
}

TEST(ClusterCliTest, LeaderIsOneLine) {
  FakeClusterMaster m;
  m.SetLeader("m2", "http://127.0.0.1:5646", 7);
  CliRun r = Orchctl({"--addr", m.addr(), "cluster", "leader"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "m2 (http://127.0.0.1:5646, term 7)\n");
}

TEST(ClusterCliTest, NoLeaderIsOneLineAndExitOne) {
  FakeClusterMaster m;  // no leader set: 503
  CliRun r = Orchctl({"--addr", m.addr(), "cluster", "leader"});
  EXPECT_EQ(r.code, 1);
  ExpectOneLineError(r);
  EXPECT_EQ(r.err, "orchctl: no leader elected yet\n");
  EXPECT_EQ(r.out, "");
}

TEST(ClusterCliTest, AddWaitsForTheLearnerToCatchUpThenPromotes) {
  FakeClusterMaster m;
  m.ScriptMembers({
      Quorum(1000, {MakeMember("m4", v1::Member::LEARNER, 0)}),
      Quorum(1100, {MakeMember("m4", v1::Member::LEARNER, 500)}),
      Quorum(1240, {MakeMember("m4", v1::Member::LEARNER, 1234)}),
  });
  FakeTime time;
  CliRun r = Orchctl({"--addr", m.addr(), "cluster", "add", "m4", "--raft", "10.0.0.4:4647",
                      "--http", "http://10.0.0.4:4646/"},
                     {}, time.clock());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "m4 added as learner\n"
            "m4 caught up (match 1234/1240)\n"
            "m4 is a voter\n");
  EXPECT_EQ(r.err, "");
  std::vector<Seen> seen = m.seen();
  std::vector<std::string> lines;
  for (const auto& s : seen) lines.push_back(s.line());
  EXPECT_EQ(lines, (std::vector<std::string>{"POST /v1/cluster/members", "GET /v1/cluster/members",
                                             "GET /v1/cluster/members", "GET /v1/cluster/members",
                                             "POST /v1/cluster/members"}));
  ASSERT_EQ(seen.size(), 5u);
  v1::AddMemberRequest add = AddBody(seen.front());
  EXPECT_EQ(add.id(), "m4");
  EXPECT_EQ(add.raft_address(), "10.0.0.4:4647");
  EXPECT_EQ(add.http_address(), "http://10.0.0.4:4646");
  EXPECT_TRUE(add.learner());
  EXPECT_FALSE(add.promote());
  v1::AddMemberRequest promote = AddBody(seen.back());
  EXPECT_EQ(promote.id(), "m4");
  EXPECT_TRUE(promote.promote());
  EXPECT_EQ(promote.raft_address(), "");
  EXPECT_EQ(*time.sleeps, 2);  // between the three polls, none after
}

TEST(ClusterCliTest, AddAsksTheLeaderWhenTheMasterAskedDoesNotLead) {
  FakeClusterMaster leader;
  leader.ScriptMembers({Quorum(1240, {MakeMember("m4", v1::Member::LEARNER, 1200)})});
  FakeClusterMaster follower;
  // A follower's view: roles and the leader, but no match indexes.
  v1::MemberList view = Quorum(1240, {MakeMember("m4", v1::Member::LEARNER, 0)});
  for (auto& mem : *view.mutable_members()) mem.clear_match_index();
  follower.ScriptMembers({view});
  follower.SetLeader("m1", leader.addr(), 3);
  FakeTime time;
  CliRun r = Orchctl({"--addr", follower.addr(), "cluster", "add", "m4", "--raft", "10.0.0.4:4647"},
                     {}, time.clock());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "m4 added as learner\n"
            "m4 caught up (match 1200/1240)\n"
            "m4 is a voter\n");
  // Writes go to the master given (it forwards them); the catch-up is read
  // from the leader.
  EXPECT_EQ(follower.lines(),
            (std::vector<std::string>{"POST /v1/cluster/members", "GET /v1/cluster/members",
                                      "GET /v1/cluster/leader", "POST /v1/cluster/members"}));
  EXPECT_EQ(leader.lines(), std::vector<std::string>{"GET /v1/cluster/members"});
}

TEST(ClusterCliTest, AddGivesUpAtTheTimeoutAndLeavesALearner) {
  FakeClusterMaster m;
  m.ScriptMembers({Quorum(5000, {MakeMember("m4", v1::Member::LEARNER, 10)})});
  FakeTime time;
  CliRun r = Orchctl(
      {"--addr", m.addr(), "cluster", "add", "m4", "--raft", "10.0.0.4:4647", "--timeout", "3s"},
      {}, time.clock());
  EXPECT_EQ(r.code, 1);
  ExpectOneLineError(r);
  EXPECT_EQ(r.err,
            "orchctl: member m4 did not catch up within 3s (match 10/5000); it stays a learner: "
            "'orchctl cluster promote m4' makes it a voter\n");
  EXPECT_EQ(r.out, "m4 added as learner\n");
  std::vector<std::string> lines = m.lines();
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "POST /v1/cluster/members"), 1);
  EXPECT_EQ(*time.sleeps, 6);  // 3s at one poll per 500ms
}

TEST(ClusterCliTest, AddLearnerDoesNotPromote) {
  FakeClusterMaster m;
  CliRun r =
      Orchctl({"--addr", m.addr(), "cluster", "add", "m5", "--raft", "10.0.0.5:4647", "--learner"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "member m5 added as learner\n");
  std::vector<Seen> seen = m.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].line(), "POST /v1/cluster/members");
  v1::AddMemberRequest add = AddBody(seen[0]);
  EXPECT_TRUE(add.learner());
  EXPECT_FALSE(add.promote());
  EXPECT_EQ(add.http_address(), "");
}

TEST(ClusterCliTest, AddNoWaitAddsAVoterAtOnce) {
  FakeClusterMaster m;
  CliRun r =
      Orchctl({"--addr", m.addr(), "cluster", "add", "m5", "--raft", "10.0.0.5:4647", "--no-wait"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "member m5 added as voter\n");
  std::vector<Seen> seen = m.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_FALSE(AddBody(seen[0]).learner());
}

TEST(ClusterCliTest, PromoteSendsPromote) {
  FakeClusterMaster m;
  CliRun r = Orchctl({"--addr", m.addr(), "cluster", "promote", "m4"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "member m4 is a voter\n");
  std::vector<Seen> seen = m.seen();
  ASSERT_EQ(seen.size(), 1u);
  v1::AddMemberRequest body = AddBody(seen[0]);
  EXPECT_EQ(body.id(), "m4");
  EXPECT_TRUE(body.promote());
}

TEST(ClusterCliTest, RemoveDeletesTheMember) {
  FakeClusterMaster m;
  CliRun r = Orchctl({"--addr", m.addr(), "cluster", "remove", "m3"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "member m3 removed\n");
  std::vector<Seen> seen = m.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].line(), "DELETE /v1/cluster/members/m3");
  EXPECT_EQ(seen[0].body, "");
}

TEST(ClusterCliTest, TransferLeaderNamesTheTarget) {
  FakeClusterMaster m;
  CliRun r = Orchctl({"--addr", m.addr(), "cluster", "transfer-leader", "m2", "-o", "json"});
  EXPECT_EQ(r.code, 0) << r.err;
  v1::ClusterResponse resp;
  ASSERT_TRUE(FromJson(r.out, &resp, /*lenient=*/false).ok()) << r.out;
  EXPECT_EQ(resp.message(), "leadership transferred to m2");
  std::vector<Seen> seen = m.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].line(), "POST /v1/cluster/transfer-leader");
  v1::TransferLeaderRequest body;
  ASSERT_TRUE(FromJson(seen[0].body, &body, /*lenient=*/false).ok()) << seen[0].body;
  EXPECT_EQ(body.id(), "m2");
}

TEST(ClusterCliTest, NoLeaderOnAWritePassesThroughAsOneLine) {
  FakeClusterMaster m;
  m.FailWrites(Status::Unavailable(kNoLeader));
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"cluster", "remove", "m3"},
                                             {"cluster", "transfer-leader", "m2"},
                                             {"cluster", "promote", "m4"},
                                             {"cluster", "add", "m4", "--raft", "10.0.0.4:4647"}}) {
    std::vector<std::string> full = {"--addr", m.addr()};
    full.insert(full.end(), args.begin(), args.end());
    CliRun r = Orchctl(full);
    EXPECT_EQ(r.code, 1) << args[1];
    ExpectOneLineError(r);
    EXPECT_EQ(r.err, "orchctl: " + kNoLeader + "\n") << args[1];
    EXPECT_EQ(r.out, "") << args[1];
  }
}

TEST(ClusterCliTest, AddressErrorsAreUsageErrorsAndSendNothing) {
  FakeClusterMaster m;
  struct Case {
    std::vector<std::string> args;
    std::string err;  // a part of the one line
  };
  for (const Case& c : std::vector<Case>{
           {{"cluster", "add", "m4"}, "--raft"},
           {{"cluster", "add", "m4", "--raft", "10.0.0.4"},
            "--raft: \"10.0.0.4\" is not host:port"},
           {{"cluster", "add", "m4", "--raft", "10.0.0.4:0"}, "--raft: "},
           {{"cluster", "add", "m4", "--raft", "10.0.0.4:99999"}, "bad port"},
           {{"cluster", "add", "m4", "--raft", "10.0.0.4:4647", "--http", "10.0.0.4:4646"},
            "--http: \"10.0.0.4:4646\" must start with http://"},
           {{"cluster", "add", "m4", "--raft", "10.0.0.4:4647", "--http", "http://a:1,http://b:2"},
            "--http: give one address"},
           {{"cluster", "add", "m4", "--raft", "10.0.0.4:4647", "--timeout", "soon"},
            "--timeout: "},
           {{"cluster", "add", "--raft", "10.0.0.4:4647"}, "ID"},
           {{"cluster", "remove"}, "ID"},
           {{"cluster"}, "see 'orchctl cluster --help'"},
           {{"cluster", "frobnicate"}, "see 'orchctl cluster --help'"},
       }) {
    std::vector<std::string> full = {"--addr", m.addr()};
    full.insert(full.end(), c.args.begin(), c.args.end());
    CliRun r = Orchctl(full);
    EXPECT_EQ(r.code, 2) << r.err;
    ExpectOneLineError(r);
    EXPECT_NE(r.err.find(c.err), std::string::npos) << r.err;
  }
  EXPECT_TRUE(m.seen().empty());
}

TEST(ClusterCliTest, HelpListsTheVerbsWithExamples) {
  CliRun r = Orchctl({"cluster", "--help"});
  EXPECT_EQ(r.code, 0);
  for (const char* verb : {"members", "leader", "add", "promote", "remove", "transfer-leader"}) {
    EXPECT_NE(r.out.find(std::string("\n  ") + verb + " "), std::string::npos) << verb << r.out;
  }
  EXPECT_NE(r.out.find("orchctl cluster add m4 --raft"), std::string::npos) << r.out;
  CliRun add = Orchctl({"cluster", "add", "--help"});
  EXPECT_EQ(add.code, 0);
  for (const char* flag : {"--raft", "--http", "--learner", "--no-wait", "--timeout"}) {
    EXPECT_NE(add.out.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace orch::ctl
