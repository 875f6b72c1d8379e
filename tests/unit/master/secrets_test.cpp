// Task secrets stay out of what the masters show: every read endpoint and
// the plan's diff answer with "(redacted)" (or an opaque tag) instead of the
// value, while the node running the allocation gets the value through its
// watch; a secret change still replaces the allocations.
#include "master/secrets.h"

#include <gtest/gtest.h>

#include "common/index_waiters.h"
#include "common/json.h"
#include "common/router.h"
#include "master/controllers/eval_worker.h"
#include "master/controllers/node_liveness.h"
#include "master/deployments/job_diff.h"
#include "master/http/all_routes.h"
#include "master/log/raft_log.h"
#include "master/state/state_store.h"
#include "orch/v1/api.pb.h"
#include "test_util.h"

namespace orch::master {
namespace {

constexpr char kSecretJob[] = R"(
id: vault
type: service
groups:
  - name: g
    count: 1
    tasks:
      - name: t
        driver: exec
        command: /bin/sh
        args: [-c, "sleep 600"]
        env: { PLAIN: visible-value }
        secrets: { DB_PASSWORD: hunter2-s3cret }
        resources: { cpu: 100, memory: 32 }
)";

TEST(SecretsTest, RedactedJsonHidesValuesKeepsKeysAndLeavesTheOriginal) {
  v1::Job job = testing::SampleJob("j", 1);
  (*job.mutable_groups(0)->mutable_tasks(0)->mutable_secrets())["TOKEN"] = "abc-123";
  v1::JobList list;
  *list.add_jobs() = job;
  std::string json = RedactedJson(list);
  EXPECT_EQ(json.find("abc-123"), std::string::npos) << json;
  EXPECT_NE(json.find("\"TOKEN\":\"(redacted)\""), std::string::npos) << json;
  EXPECT_EQ(list.jobs(0).groups(0).tasks(0).secrets().at("TOKEN"), "abc-123");
  v1::Node node = testing::SampleNode("n", 1000, 1024);
  EXPECT_EQ(RedactedJson(node), ToJson(node)) << "a message without tasks is as it was";
}

TEST(SecretsTest, DiffShowsAChangedSecretAsATagNeverItsValueAndStillReplaces) {
  v1::Job before = testing::SampleJob("j", 1);
  (*before.mutable_groups(0)->mutable_tasks(0)->mutable_secrets())["TOKEN"] = "old-value-1";
  v1::Job after = before;
  (*after.mutable_groups(0)->mutable_tasks(0)->mutable_secrets())["TOKEN"] = "new-value-2";
  v1::JobDiff diff = DiffJobs(&before, after);
  std::string json = ToJson(diff);
  EXPECT_EQ(json.find("old-value-1"), std::string::npos) << json;
  EXPECT_EQ(json.find("new-value-2"), std::string::npos) << json;
  ASSERT_EQ(diff.fields_size(), 1) << json;
  EXPECT_EQ(diff.fields(0).type(), v1::FieldDiff::EDITED);
  EXPECT_NE(diff.fields(0).before(), diff.fields(0).after());
  EXPECT_NE(diff.fields(0).before().find("(secret "), std::string::npos) << json;
  EXPECT_EQ(diff.groups(0).update(), "destructive update") << json;
  // A whole new task with secrets: not shown either.
  v1::Job more = after;
  auto* t2 = more.mutable_groups(0)->add_tasks();
  *t2 = more.groups(0).tasks(0);
  t2->set_name("t2");
  json = ToJson(DiffJobs(&after, more));
  EXPECT_EQ(json.find("new-value-2"), std::string::npos) << json;
}

class SecretsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = testing::TempDir("secrets");
    store_ = std::move(*StateStore::Open(dir + "/state.db"));
    log_ = testing::StartSingleLeader(dir, store_.get());
    ASSERT_NE(log_, nullptr);
    liveness_ = std::make_unique<NodeLiveness>(store_.get(), log_.get(), SystemClock::Get(),
                                               std::chrono::seconds(10));
    worker_ = std::make_unique<EvalWorker>(store_.get(), log_.get(), SystemClock::Get());
    ApiDeps d;
    d.store = store_.get();
    d.log = log_.get();
    d.liveness = liveness_.get();
    d.clock = SystemClock::Get();
    RegisterAllRoutes(&router_, d, nullptr);
  }

  HttpResponse Call(const std::string& method, const std::string& target,
                    const std::string& body = "") {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    EXPECT_TRUE(ParseTarget(target, &req.path, &req.query).ok());
    return AnswerWaiting([this](const HttpRequest& r) { return router_.Handle(r); }, req);
  }

  Router router_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<RaftLog> log_;
  std::unique_ptr<NodeLiveness> liveness_;
  std::unique_ptr<EvalWorker> worker_;
};

TEST_F(SecretsApiTest, EveryReadEndpointRedactsButTheNodesOwnWatch) {
  v1::RegisterNodeRequest reg;
  *reg.mutable_node() = testing::SampleNode("", 4000, 4096);
  auto r = Call("POST", "/v1/nodes/register", ToJson(reg));
  ASSERT_EQ(r.status, 200) << r.body;
  v1::RegisterNodeResponse node;
  ASSERT_TRUE(FromJson(r.body, &node).ok());
  auto sub = Call("POST", "/v1/jobs", kSecretJob);
  ASSERT_EQ(sub.status, 200) << sub.body;
  EXPECT_EQ(sub.body.find("hunter2"), std::string::npos) << sub.body;
  EXPECT_EQ(worker_->RunOnce(), 1);
  v1::AllocationList mine;
  ASSERT_TRUE(
      FromJson(Call("GET", "/v1/nodes/" + node.node_id() + "/allocations").body, &mine).ok());
  ASSERT_EQ(mine.allocations_size(), 1);
  EXPECT_EQ(mine.allocations(0).task_group().tasks(0).secrets().at("DB_PASSWORD"), "hunter2-s3cret")
      << "the node running it gets the value";
  const std::string alloc = mine.allocations(0).id();

  for (const std::string& target : std::vector<std::string>{
           "/v1/jobs", "/v1/jobs/vault", "/v1/jobs/vault/versions", "/v1/jobs/vault/allocations",
           "/v1/allocations", "/v1/allocations?job=vault", "/v1/allocations/" + alloc,
           "/v1/deployments", "/v1/evaluations"}) {
    auto resp = Call("GET", target);
    EXPECT_EQ(resp.status, 200) << target << ": " << resp.body;
    EXPECT_EQ(resp.body.find("hunter2"), std::string::npos) << target << ": " << resp.body;
    if (target != "/v1/deployments" && target != "/v1/evaluations") {
      EXPECT_NE(resp.body.find("(redacted)"), std::string::npos) << target << ": " << resp.body;
      EXPECT_NE(resp.body.find("visible-value"), std::string::npos) << target << ": " << resp.body;
    }
  }
  std::string changed = kSecretJob;
  changed.replace(changed.find("hunter2-s3cret"), 14, "hunter3-n3w");
  auto plan = Call("POST", "/v1/jobs/plan", changed);
  ASSERT_EQ(plan.status, 200) << plan.body;
  EXPECT_EQ(plan.body.find("hunter"), std::string::npos) << plan.body;
  EXPECT_NE(plan.body.find("(secret "), std::string::npos) << plan.body;
}

}  // namespace
}  // namespace orch::master
