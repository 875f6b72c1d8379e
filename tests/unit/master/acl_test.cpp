// ACLs: the policy rules (pure), the state machine's ACL command, and the
// Authorizer's route checks against a real state store.
#include <gtest/gtest.h>

#include "common/ids.h"
#include "common/router.h"
#include "master/acl/authorizer.h"
#include "master/acl/policy.h"
#include "master/acl/route_rules.h"
#include "master/http/all_routes.h"
#include "master/state/state_store.h"
#include "test_util.h"

namespace orch::master {
namespace {

using acl::Access;
using acl::Resource;

v1::AclPolicy Policy(const std::string& name,
                     std::vector<std::tuple<std::string, std::string, std::string>> rules) {
  v1::AclPolicy p;
  p.set_name(name);
  for (const auto& [resource, access, prefix] : rules) {
    auto* r = p.add_rules();
    r->set_resource(resource);
    r->set_access(access);
    r->set_prefix(prefix);
  }
  return p;
}

TEST(AclPolicyTest, WriteImpliesReadAndNothingIsGrantedWithoutARule) {
  auto p = Policy("p", {{"job", "write", ""}, {"node", "read", ""}});
  std::vector<const v1::AclPolicy*> ps{&p};
  EXPECT_EQ(acl::Granted(ps, Resource::kJob, "web"), Access::kWrite);
  EXPECT_EQ(acl::Granted(ps, Resource::kNode), Access::kRead);
  EXPECT_EQ(acl::Granted(ps, Resource::kOperator), Access::kNone);
  EXPECT_EQ(acl::Granted(ps, Resource::kAcl), Access::kNone);
  EXPECT_EQ(acl::Granted({}, Resource::kJob, "web"), Access::kNone);
}

TEST(AclPolicyTest, TheLongestMatchingJobPrefixDecidesAndDenyWinsWithinIt) {
  auto a =
      Policy("a", {{"job", "read", ""}, {"job", "write", "web-"}, {"job", "deny", "web-secret"}});
  auto b = Policy("b", {{"job", "write", "web-secret"}});
  std::vector<const v1::AclPolicy*> ps{&a};
  EXPECT_EQ(acl::Granted(ps, Resource::kJob, "db"), Access::kRead);
  EXPECT_EQ(acl::Granted(ps, Resource::kJob, "web-front"), Access::kWrite);
  EXPECT_EQ(acl::Granted(ps, Resource::kJob, "web-secret-1"), Access::kNone);
  // A grant of the same prefix in another policy does not lift the deny.
  ps.push_back(&b);
  EXPECT_EQ(acl::Granted(ps, Resource::kJob, "web-secret-1"), Access::kNone);
  // Every job: only read (the empty prefix), and not even that with the deny.
  EXPECT_EQ(acl::GrantedOnAllJobs(ps), Access::kNone);
  auto c = Policy("c", {{"job", "read", ""}, {"job", "write", "web-"}});
  EXPECT_EQ(acl::GrantedOnAllJobs({&c}), Access::kRead);
  EXPECT_EQ(acl::GrantedOnSomeJob({&c}), Access::kWrite);
  auto only_web = Policy("w", {{"job", "write", "web-"}});
  EXPECT_EQ(acl::GrantedOnAllJobs({&only_web}), Access::kNone);
  EXPECT_EQ(acl::Granted({&only_web}, Resource::kJob, "db"), Access::kNone);
}

TEST(AclPolicyTest, BadPoliciesAndTokensAreRefusedNamingTheField) {
  EXPECT_TRUE(
      acl::ValidatePolicy(Policy("ok_1-x", {{"job", "read", "a"}, {"acl", "write", ""}})).ok());
  auto bad = [](const v1::AclPolicy& p) { return acl::ValidatePolicy(p).message(); };
  EXPECT_NE(bad(Policy("", {})).find("name"), std::string::npos);
  EXPECT_NE(bad(Policy("a b", {})).find("name"), std::string::npos);
  EXPECT_NE(bad(Policy("p", {{"jobs", "read", ""}})).find("rules[0].resource"), std::string::npos);
  EXPECT_NE(bad(Policy("p", {{"job", "read", ""}, {"job", "admin", ""}})).find("rules[1].access"),
            std::string::npos);
  EXPECT_NE(bad(Policy("p", {{"node", "read", "x"}})).find("prefix"), std::string::npos);
  v1::AclPolicy many = Policy("p", {});
  for (int i = 0; i < 101; ++i) *many.add_rules() = Policy("x", {{"job", "read", ""}}).rules(0);
  EXPECT_FALSE(acl::ValidatePolicy(many).ok());
  v1::AclToken t;
  t.set_type("root");
  EXPECT_NE(acl::ValidateTokenFields(t).message().find("type"), std::string::npos);
  t.set_type("management");
  t.add_policies("p");
  EXPECT_FALSE(acl::ValidateTokenFields(t).ok());
}

// Every route the master serves has a rule (a route without one is refused
// for everyone when ACLs are on).
TEST(AclRouteRulesTest, EveryRouteOfTheMasterHasARule) {
  Router router;
  ApiDeps deps;
  RegisterAllRoutes(&router, deps, nullptr);
  auto keys = router.Keys();
  EXPECT_GT(keys.size(), 40u);
  for (const auto& key : keys) EXPECT_TRUE(acl::RuleFor(key).has_value()) << key;
}

class AuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*StateStore::Open(testing::TempDir("acl") + "/state.db"));
    RegisterAllRoutes(&router_, ApiDeps{}, nullptr);
  }

  // Applies an ACL command; its outcome.
  Status Apply(v1::AclCommand c) {
    v1::Command cmd;
    *cmd.mutable_acl() = std::move(c);
    Status outcome;
    EXPECT_TRUE(store_->Apply(++index_, cmd, &outcome).ok());
    return outcome;
  }
  // A token of `type` with `policies`; its secret.
  std::string Token(const std::string& type, std::vector<std::string> policies,
                    bool bootstrap = false) {
    std::string secret = NewSecret();
    v1::AclCommand c;
    v1::AclToken* t = bootstrap ? c.mutable_bootstrap() : c.mutable_upsert_token();
    t->set_accessor_id(NewUuid());
    t->set_secret_hash(SecretHash(secret));
    t->set_type(type);
    for (auto& p : policies) t->add_policies(p);
    EXPECT_TRUE(Apply(c).ok());
    return secret;
  }
  void PutPolicy(const v1::AclPolicy& p) {
    v1::AclCommand c;
    *c.mutable_upsert_policy() = p;
    ASSERT_TRUE(Apply(c).ok());
  }
  static HttpRequest Req(const std::string& method, const std::string& path,
                         const std::string& secret = "") {
    HttpRequest r;
    r.method = method;
    r.path = r.target = path;
    if (!secret.empty()) r.headers["x-orch-token"] = secret;
    return r;
  }
  // The status the route check answers: 0 when it lets the request through.
  int Check(const HttpRequest& r) {
    auto denied = authz_.CheckRoute(r);
    return denied ? denied->status : 0;
  }

  std::unique_ptr<StateStore> store_;
  Router router_;
  acl::Authorizer authz_{nullptr, &router_, true};
  uint64_t index_ = 0;
};

TEST_F(AuthorizerTest, WithoutATokenOnlyOpenRoutesAnswer) {
  authz_ = acl::Authorizer(store_.get(), &router_, true);
  EXPECT_EQ(Check(Req("GET", "/healthz")), 0);
  EXPECT_EQ(Check(Req("POST", "/v1/acl/bootstrap")), 0);
  EXPECT_EQ(Check(Req("GET", "/v1/cluster/leader")), 0);
  for (auto [m, p] :
       std::vector<std::pair<std::string, std::string>>{{"POST", "/v1/jobs"},
                                                        {"GET", "/v1/jobs"},
                                                        {"GET", "/v1/jobs/web"},
                                                        {"POST", "/v1/cluster/members"},
                                                        {"POST", "/v1/nodes/n1/drain"},
                                                        {"POST", "/v1/nodes/register"},
                                                        {"POST", "/v1/nodes/n1/heartbeat"},
                                                        {"GET", "/v1/services"},
                                                        {"GET", "/v1/acl/tokens"},
                                                        {"GET", "/v1/acl/token/self"}}) {
    EXPECT_EQ(Check(Req(m, p)), 403) << m << " " << p;
  }
  // An unknown secret is refused, whatever the route needs.
  EXPECT_EQ(Check(Req("GET", "/v1/jobs", NewSecret())), 403);
  // ACLs off: everything goes through.
  acl::Authorizer off(store_.get(), &router_, false);
  EXPECT_FALSE(off.CheckRoute(Req("POST", "/v1/jobs")).has_value());
}

TEST_F(AuthorizerTest, AnEvaluationIsReadWithItsJob) {
  authz_ = acl::Authorizer(store_.get(), &router_, true);
  Status outcome;
  ASSERT_TRUE(store_
                  ->Apply(++index_,
                          testing::RegisterJobCmd(testing::SampleJob("web-a", 1), "e-web-1234"),
                          &outcome)
                  .ok());
  ASSERT_TRUE(store_
                  ->Apply(++index_,
                          testing::RegisterJobCmd(testing::SampleJob("db", 1), "e-db-5678"),
                          &outcome)
                  .ok());
  PutPolicy(Policy("web-reader", {{"job", "read", "web-"}}));
  const std::string reader = Token("client", {"web-reader"});
  EXPECT_EQ(Check(Req("GET", "/v1/evaluations/e-web-1234", reader)), 0);
  EXPECT_EQ(Check(Req("GET", "/v1/evaluations/e-db-5678", reader)), 403);
  EXPECT_EQ(Check(Req("GET", "/v1/evaluations/e-web-1234")), 403);
}

TEST_F(AuthorizerTest, OperatorSnapshotsNeedAclWrite) {
  // An image holds every token's hash and every task's secret.
  authz_ = acl::Authorizer(store_.get(), &router_, true);
  const std::string root = Token("management", {}, true);
  PutPolicy(
      Policy("operator", {{"operator", "write", ""}, {"job", "write", ""}, {"node", "write", ""}}));
  const std::string op = Token("client", {"operator"});
  for (const char* method : {"GET", "PUT"}) {
    EXPECT_EQ(Check(Req(method, "/v1/operator/snapshot")), 403) << method;
    EXPECT_EQ(Check(Req(method, "/v1/operator/snapshot", op)), 403) << method;
    EXPECT_EQ(Check(Req(method, "/v1/operator/snapshot", root)), 0) << method;
  }
}

TEST_F(AuthorizerTest, ManagementTokensDoEverythingClientTokensWhatTheirPoliciesGrant) {
  authz_ = acl::Authorizer(store_.get(), &router_, true);
  const std::string root = Token("management", {}, true);
  PutPolicy(Policy("readonly", {{"job", "read", ""}}));
  PutPolicy(Policy("web-deployer", {{"job", "write", "web-"}, {"node", "read", ""}}));
  PutPolicy(Policy("agent", {{"node", "write", ""}}));
  const std::string reader = Token("client", {"readonly"});
  const std::string deployer = Token("client", {"web-deployer"});
  const std::string agent = Token("client", {"agent"});

  EXPECT_EQ(Check(Req("POST", "/v1/cluster/members", root)), 0);
  EXPECT_EQ(Check(Req("DELETE", "/v1/acl/policies/x", root)), 0);

  EXPECT_EQ(Check(Req("GET", "/v1/jobs", reader)), 0);
  EXPECT_EQ(Check(Req("GET", "/v1/jobs/db", reader)), 0);
  EXPECT_EQ(Check(Req("GET", "/v1/allocations", reader)), 0);
  EXPECT_EQ(Check(Req("GET", "/v1/services", reader)), 0);
  EXPECT_EQ(Check(Req("DELETE", "/v1/jobs/db", reader)), 403);
  EXPECT_EQ(Check(Req("GET", "/v1/nodes", reader)), 403);
  EXPECT_EQ(Check(Req("GET", "/v1/acl/tokens", reader)), 403);
  EXPECT_EQ(Check(Req("GET", "/v1/acl/token/self", reader)), 0);
  // Submitting: the route lets a reader through only to the handler's
  // check of the job in the body; a reader has no write on any job.
  EXPECT_EQ(Check(Req("POST", "/v1/jobs", reader)), 403);

  EXPECT_EQ(Check(Req("POST", "/v1/jobs", deployer)), 0);  // some job: the handler checks which
  EXPECT_TRUE(authz_.CheckJob(Req("POST", "/v1/jobs", deployer), Access::kWrite, "web-front").ok());
  EXPECT_EQ(authz_.CheckJob(Req("POST", "/v1/jobs", deployer), Access::kWrite, "db").code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(Check(Req("DELETE", "/v1/jobs/web-front", deployer)), 0);
  EXPECT_EQ(Check(Req("DELETE", "/v1/jobs/db", deployer)), 403);
  EXPECT_EQ(Check(Req("GET", "/v1/allocations", deployer)), 403);  // not every job
  auto filtered = Req("GET", "/v1/allocations", deployer);
  filtered.query["job"] = "web-front";
  EXPECT_EQ(Check(filtered), 0);
  auto visible = authz_.JobReadFilter(Req("GET", "/v1/jobs", deployer));
  EXPECT_TRUE(visible("web-a"));
  EXPECT_FALSE(visible("db"));
  EXPECT_EQ(Check(Req("GET", "/v1/services", deployer)), 0);  // node read

  EXPECT_EQ(Check(Req("POST", "/v1/nodes/register", agent)), 0);
  EXPECT_EQ(Check(Req("POST", "/v1/nodes/n1/heartbeat", agent)), 0);
  EXPECT_EQ(Check(Req("POST", "/v1/nodes/n1/drain", agent)), 403);  // operator
  EXPECT_EQ(Check(Req("GET", "/v1/jobs", agent)), 403);

  // Bearer works as X-Orch-Token does.
  HttpRequest bearer = Req("POST", "/v1/cluster/members");
  bearer.headers["authorization"] = "Bearer " + root;
  EXPECT_EQ(Check(bearer), 0);

  // A deleted token stops working at once; a deleted policy's grants go.
  v1::AclCommand del;
  del.set_delete_policy("readonly");
  ASSERT_TRUE(Apply(del).ok());
  EXPECT_EQ(Check(Req("GET", "/v1/jobs", reader)), 403);
}

TEST_F(AuthorizerTest, ANodesTokenSpeaksOnlyForTheNodeWhoseSecretItPresents) {
  authz_ = acl::Authorizer(store_.get(), &router_, true);
  PutPolicy(Policy("agent", {{"node", "write", ""}}));
  const std::string agent = Token("client", {"agent"});
  const std::string n1_secret = NewSecret();
  v1::Node n1 = testing::SampleNode("n1");
  n1.set_secret_hash(SecretHash(n1_secret));
  Status outcome;
  ASSERT_TRUE(store_->Apply(++index_, testing::RegisterNodeCmd(n1), &outcome).ok());
  ASSERT_TRUE(outcome.ok());
  for (const std::string path : {"/v1/nodes/n1/heartbeat", "/v1/nodes/n1/allocations"}) {
    HttpRequest r = Req("POST", path, agent);
    EXPECT_EQ(Check(r), 403) << path << ": no node secret";
    r.headers["x-orch-node-secret"] = NewSecret();
    EXPECT_EQ(Check(r), 403) << path << ": another node's secret";
    r.headers["x-orch-node-secret"] = n1_secret;
    EXPECT_EQ(Check(r), 0) << path;
  }
  // Its watch too (another node's allocations carry that node's work).
  HttpRequest watch = Req("GET", "/v1/nodes/n1/allocations", agent);
  EXPECT_EQ(Check(watch), 403);
  watch.headers["x-orch-node-secret"] = n1_secret;
  EXPECT_EQ(Check(watch), 0);
  // An operator's management token needs no node secret.
  const std::string root = Token("management", {}, true);
  EXPECT_EQ(Check(Req("GET", "/v1/nodes/n1/allocations", root)), 0);
  EXPECT_EQ(Check(Req("POST", "/v1/nodes/n1/heartbeat", root)), 0);
}

TEST_F(AuthorizerTest, TheAnonymousPolicyAppliesToRequestsWithoutAToken) {
  authz_ = acl::Authorizer(store_.get(), &router_, true);
  PutPolicy(Policy("anonymous", {{"job", "read", ""}}));
  EXPECT_EQ(Check(Req("GET", "/v1/jobs")), 0);
  EXPECT_EQ(Check(Req("POST", "/v1/jobs")), 403);
}

TEST_F(AuthorizerTest, BootstrapHappensOnceAndSurvivesARestoreOfTheState) {
  authz_ = acl::Authorizer(store_.get(), &router_, true);
  const std::string root = Token("management", {}, true);
  EXPECT_NE(store_->Acl()->bootstrap_index, 0u);
  v1::AclCommand again;
  again.mutable_bootstrap()->set_accessor_id(NewUuid());
  again.mutable_bootstrap()->set_secret_hash(SecretHash(NewSecret()));
  again.mutable_bootstrap()->set_type("management");
  EXPECT_EQ(Apply(again).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->ListAclTokens().size(), 1u);
  EXPECT_TRUE(store_->ListAclTokens()[0].secret_hash().empty());  // never listed

  // Another store restored from this one's image knows the token.
  auto image = store_->SerializeImage();
  ASSERT_TRUE(image.ok());
  auto other = std::move(*StateStore::Open(testing::TempDir("acl2") + "/state.db"));
  ASSERT_TRUE(other->RestoreImage(*image).ok());
  acl::Authorizer restored(other.get(), &router_, true);
  EXPECT_FALSE(restored.CheckRoute(Req("POST", "/v1/cluster/members", root)).has_value());
  EXPECT_TRUE(restored.CheckRoute(Req("POST", "/v1/cluster/members", NewSecret())).has_value());
}

}  // namespace
}  // namespace orch::master
