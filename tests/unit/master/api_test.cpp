// The master's REST handlers through the router, on a real state store and
// log in a temp dir, without sockets.
#include "master/http/api.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "common/index_waiters.h"
#include "common/json.h"
#include "master/acl/authorizer.h"
#include "master/controllers/eval_worker.h"
#include "master/http/all_routes.h"
#include "master/replication/raft_node.h"
#include "master/state/state_store.h"
#include "orch/v1/api.pb.h"
#include "test_util.h"

namespace orch::master {
namespace {

constexpr const char* kHello = R"(
id: hello
type: service
groups:
  - name: hello
    count: 1
    tasks:
      - name: say
        driver: exec
        command: /bin/sh
        args: [-c, "echo hi; sleep 60"]
        resources: { cpu: 100, memory: 32 }
)";

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = testing::TempDir("api");
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

  HttpResponse Call(const std::string& method, const std::string& target, const std::string& body = "") {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    EXPECT_TRUE(ParseTarget(target, &req.path, &req.query).ok());
    return AnswerWaiting([this](const HttpRequest& r) { return router_.Handle(r); }, req);
  }

  std::string RegisterNode(const std::string& name) {
    v1::RegisterNodeRequest req;
    *req.mutable_node() = testing::SampleNode("", 4000, 4096);
    req.mutable_node()->set_name(name);
    auto resp = Call("POST", "/v1/nodes/register", ToJson(req));
    EXPECT_EQ(resp.status, 200) << resp.body;
    v1::RegisterNodeResponse out;
    EXPECT_TRUE(FromJson(resp.body, &out).ok());
    return out.node_id();
  }

  // Call through `router`, expecting a handler that gives its worker back
  // while its write commits (HttpResponse::later) and a 200 in the end.
  HttpResponse CallExpectingLater(const Router& router, const std::string& method,
                                  const std::string& target, const std::string& body) {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    EXPECT_TRUE(ParseTarget(target, &req.path, &req.query).ok());
    bool answered_later = false;
    HttpResponse resp = AnswerWaiting(
        [&](const HttpRequest& r) {
          HttpResponse out = router.Handle(r);
          answered_later = static_cast<bool>(out.later);
          return out;
        },
        req);
    EXPECT_TRUE(answered_later) << method << " " << target << " answered at once";
    EXPECT_EQ(resp.status, 200) << target << ": " << resp.body;
    return resp;
  }

  void ExpectError(const HttpResponse& resp, int status, const std::string& needle) {
    EXPECT_EQ(resp.status, status) << resp.body;
    v1::ErrorResponse err;
    ASSERT_TRUE(FromJson(resp.body, &err, false).ok()) << resp.body;
    EXPECT_FALSE(err.error().code().empty());
    EXPECT_NE(err.error().message().find(needle), std::string::npos) << err.error().message();
  }

  Router router_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<replication::RaftNode> log_;
  std::unique_ptr<NodeLiveness> liveness_;
  std::unique_ptr<EvalWorker> worker_;
};

TEST_F(ApiTest, SubmittedJobIsPlacedOnARegisteredNode) {
  std::string node = RegisterNode("n1");
  auto resp = Call("POST", "/v1/jobs", kHello);
  ASSERT_EQ(resp.status, 200) << resp.body;
  v1::SubmitJobResponse sub;
  ASSERT_TRUE(FromJson(resp.body, &sub).ok());
  EXPECT_EQ(sub.job_id(), "hello");
  EXPECT_FALSE(sub.eval_id().empty());
  EXPECT_EQ(worker_->RunOnce(), 1);

  auto allocs = Call("GET", "/v1/nodes/" + node + "/allocations");
  ASSERT_EQ(allocs.status, 200);
  EXPECT_FALSE(allocs.Header("X-Orch-Index").empty());
  v1::AllocationList list;
  ASSERT_TRUE(FromJson(allocs.body, &list).ok());
  ASSERT_EQ(list.allocations_size(), 1);
  EXPECT_EQ(list.allocations(0).job_id(), "hello");
  EXPECT_EQ(list.allocations(0).task_group().tasks(0).command(), "/bin/sh");

  v1::JobDetail detail;
  ASSERT_TRUE(FromJson(Call("GET", "/v1/jobs/hello").body, &detail).ok());
  EXPECT_EQ(detail.allocations_size(), 1);
  EXPECT_EQ(detail.evaluations(0).status(), v1::Evaluation::COMPLETE);
}

TEST_F(ApiTest, AnIdenticalResubmitIsANoOpAndSaysSo) {
  RegisterNode("n1");
  v1::SubmitJobResponse first, again, changed;
  ASSERT_TRUE(FromJson(Call("POST", "/v1/jobs", kHello).body, &first).ok());
  EXPECT_FALSE(first.unchanged());
  EXPECT_EQ(first.version(), 0u);
  EXPECT_EQ(worker_->RunOnce(), 1);
  auto before = store_->ListAllocations("hello");
  ASSERT_EQ(before.size(), 1u);

  // The same file again (also as JSON): same version, no evaluation, the
  // running allocation untouched.
  auto resp = Call("POST", "/v1/jobs", kHello);
  ASSERT_EQ(resp.status, 200) << resp.body;
  ASSERT_TRUE(FromJson(resp.body, &again).ok());
  EXPECT_TRUE(again.unchanged()) << resp.body;
  EXPECT_EQ(again.version(), 0u);
  EXPECT_TRUE(again.eval_id().empty());
  EXPECT_TRUE(store_->PendingEvaluations().empty());
  EXPECT_EQ(worker_->RunOnce(), 0);
  auto after = store_->ListAllocations("hello");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].id(), before[0].id());
  EXPECT_EQ(after[0].job_version(), 0u);

  // A real change makes a new version.
  std::string edited = kHello;
  edited.replace(edited.find("/bin/sh"), 7, "/bin/bash");
  ASSERT_TRUE(FromJson(Call("POST", "/v1/jobs", edited).body, &changed).ok());
  EXPECT_FALSE(changed.unchanged());
  EXPECT_EQ(changed.version(), 1u);
  EXPECT_FALSE(changed.eval_id().empty());
}

TEST_F(ApiTest, NoNodeLeavesTheEvaluationBlockedUntilOneRegisters) {
  ASSERT_EQ(Call("POST", "/v1/jobs", kHello).status, 200);
  worker_->RunOnce();
  v1::JobDetail detail;
  ASSERT_TRUE(FromJson(Call("GET", "/v1/jobs/hello").body, &detail).ok());
  EXPECT_EQ(detail.evaluations(0).status(), v1::Evaluation::BLOCKED);
  EXPECT_NE(detail.evaluations(0).status_description().find("no nodes registered"), std::string::npos);
  RegisterNode("late");
  EXPECT_EQ(worker_->RunOnce(), 1);
  ASSERT_TRUE(FromJson(Call("GET", "/v1/jobs/hello").body, &detail).ok());
  EXPECT_EQ(detail.allocations_size(), 1);
}

TEST_F(ApiTest, BadJobsAre400AndChangeNothing) {
  RegisterNode("n1");
  uint64_t before = store_->AppliedIndex();
  ExpectError(Call("POST", "/v1/jobs", "id: [oops"), 400, "malformed document");
  ExpectError(Call("POST", "/v1/jobs", "{\"id\": \"x\""), 400, "malformed document");
  ExpectError(Call("POST", "/v1/jobs", std::string(kHello) + "colour: red\n"), 400, "colour: unknown field");
  ExpectError(Call("POST", "/v1/jobs", "type: service\ngroups: []\n"), 400, "id: is required");
  std::string neg = kHello;
  neg.replace(neg.find("count: 1"), 8, "count: -2");
  ExpectError(Call("POST", "/v1/jobs", neg), 400, "groups[0].count: must not be negative");
  ExpectError(Call("POST", "/v1/jobs", "id: x\ngroups: [ { name: g, count: 1 } ]"), 400,
              "groups[0].tasks: at least one task");
  std::string drv = kHello;
  drv.replace(drv.find("driver: exec"), 12, "driver: qemu");
  ExpectError(Call("POST", "/v1/jobs", drv), 400, "groups[0].tasks[0].driver: unknown driver \"qemu\"");
  std::string zero = kHello;
  zero.replace(zero.find("cpu: 100"), 8, "cpu: 0");
  ExpectError(Call("POST", "/v1/jobs", zero), 400, "groups[0].tasks[0].resources.cpu: must be positive");
  EXPECT_EQ(store_->AppliedIndex(), before);
  EXPECT_EQ(Call("GET", "/v1/jobs").body, "{}");
}

TEST_F(ApiTest, UnknownThingsAre404) {
  ExpectError(Call("GET", "/v1/jobs/nope"), 404, "job \"nope\" not found");
  ExpectError(Call("DELETE", "/v1/jobs/nope"), 404, "not found");
  ExpectError(Call("GET", "/v1/nodes/nope"), 404, "not found");
  ExpectError(Call("POST", "/v1/nodes/nope/heartbeat", "{}"), 404, "not found");
  ExpectError(Call("GET", "/v1/allocations/nope"), 404, "not found");
  ExpectError(Call("GET", "/v1/nothing"), 404, "no such endpoint");
  ExpectError(Call("PUT", "/v1/jobs"), 405, "not allowed");
}

TEST_F(ApiTest, BadQueryParametersAre400) {
  ExpectError(Call("GET", "/v1/jobs?index=abc"), 400, "index");
  ExpectError(Call("GET", "/v1/jobs?index=1&wait=forever"), 400, "wait");
}

// Nomad's spread: up to wait/16 more, at random, so watches that began
// together do not all end together; the cap applies before it.
TEST(ReadOptionsTest, WaitGetsUpToASixteenthMoreAtRandom) {
  ApiDeps d;
  d.max_wait = std::chrono::milliseconds(60'000);
  HttpRequest req;
  req.query["index"] = "7";
  req.query["wait"] = "32s";
  std::set<int64_t> waits;
  for (int i = 0; i < 200; ++i) {
    auto o = ParseReadOptions(req, d);
    ASSERT_TRUE(o.ok());
    EXPECT_GE(o->wait.count(), 32'000);
    EXPECT_LE(o->wait.count(), 34'000);
    waits.insert(o->wait.count());
  }
  EXPECT_GT(waits.size(), 50u);  // spread, not one value
  req.query["wait"] = "10m";     // capped at max_wait, then spread
  auto o = ParseReadOptions(req, d);
  ASSERT_TRUE(o.ok());
  EXPECT_GE(o->wait.count(), 60'000);
  EXPECT_LE(o->wait.count(), 63'750);
}

TEST_F(ApiTest, BlockingQueryReturnsWhenStateMovesPastIndex) {
  auto first = Call("GET", "/v1/jobs");
  uint64_t index = std::stoull(first.Header("X-Orch-Index"));
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_EQ(Call("POST", "/v1/jobs", kHello).status, 200);
  });
  auto blocked = Call("GET", "/v1/jobs?index=" + std::to_string(index) + "&wait=30s");
  writer.join();
  EXPECT_GT(std::stoull(blocked.Header("X-Orch-Index")), index);
  v1::JobList jobs;
  ASSERT_TRUE(FromJson(blocked.body, &jobs).ok());
  ASSERT_EQ(jobs.jobs_size(), 1);
  // With nothing new, the wait ends and answers the same index.
  auto idle = Call("GET", "/v1/jobs?index=" + blocked.Header("X-Orch-Index") + "&wait=50ms");
  EXPECT_EQ(idle.Header("X-Orch-Index"), blocked.Header("X-Orch-Index"));
}

// A stale reader (an agent's watch) learns whether the master it asked
// still follows a leader.
TEST_F(ApiTest, ReadsSayWhetherThisMasterKnowsALeader) {
  for (const char* path : {"/v1/jobs?stale=true", "/v1/services?stale=true", "/v1/jobs"}) {
    auto resp = Call("GET", path);
    EXPECT_EQ(resp.status, 200) << path << ": " << resp.body;
    EXPECT_EQ(resp.Header("X-Orch-Known-Leader"), "true") << path;
  }
  log_->Close();  // this master no longer takes part: it knows no leader
  for (const char* path : {"/v1/jobs?stale=true", "/v1/services?stale=true"}) {
    auto resp = Call("GET", path);
    EXPECT_EQ(resp.status, 200) << path << ": " << resp.body;
    EXPECT_EQ(resp.Header("X-Orch-Known-Leader"), "false") << path;
  }
}

TEST_F(ApiTest, StopMarksAllocationsToStop) {
  std::string node = RegisterNode("n1");
  ASSERT_EQ(Call("POST", "/v1/jobs", kHello).status, 200);
  worker_->RunOnce();
  ASSERT_EQ(Call("DELETE", "/v1/jobs/hello").status, 200);
  worker_->RunOnce();
  v1::AllocationList list;
  ASSERT_TRUE(FromJson(Call("GET", "/v1/allocations?job=hello").body, &list).ok());
  ASSERT_EQ(list.allocations_size(), 1);
  EXPECT_EQ(list.allocations(0).desired_status(), v1::Allocation::STOP);
}

// Operators' writes wait for their commit without a worker
// (HttpResponse::later), as job submissions do; each still gets its answer.
TEST_F(ApiTest, OperatorWritesAnswerLaterWithoutHoldingAWorker) {
  std::string node = RegisterNode("n1");
  ASSERT_EQ(Call("POST", "/v1/jobs", kHello).status, 200);
  worker_->RunOnce();
  v1::AllocationList list;
  ASSERT_TRUE(FromJson(Call("GET", "/v1/allocations?job=hello").body, &list).ok());
  ASSERT_EQ(list.allocations_size(), 1);
  const std::string alloc = list.allocations(0).id();

  auto later = [this](const std::string& method, const std::string& target,
                      const std::string& body) {
    return CallExpectingLater(router_, method, target, body);
  };
  v1::ScaleResponse scaled;
  ASSERT_TRUE(FromJson(later("POST", "/v1/jobs/hello/scale", R"({"group":"hello","count":2})").body,
                       &scaled)
                  .ok());
  EXPECT_FALSE(scaled.eval_id().empty());
  EXPECT_GT(scaled.index(), 0u);
  later("POST", "/v1/allocations/" + alloc + "/restart", "");
  later("POST", "/v1/allocations/" + alloc + "/signal", R"({"signal":"SIGHUP"})");
  v1::DrainResponse drained;
  ASSERT_TRUE(
      FromJson(later("POST", "/v1/nodes/" + node + "/drain", R"({"enable":true})").body, &drained)
          .ok());
  EXPECT_EQ(drained.node_id(), node);
  EXPECT_EQ(drained.eval_ids_size(), 1);  // the one job on it
  v1::AllocActionResponse stopped;
  ASSERT_TRUE(
      FromJson(later("POST", "/v1/allocations/" + alloc + "/stop", "").body, &stopped).ok());
  EXPECT_FALSE(stopped.eval_id().empty());
  later("DELETE", "/v1/jobs/hello", "");

  auto job = store_->GetJob("hello");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->groups(0).count(), 2);
  EXPECT_TRUE(job->stop());
  auto n = store_->GetNode(node);
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->has_drain());
}

TEST_F(ApiTest, AclWritesAnswerLaterWithoutHoldingAWorker) {
  Router router;
  acl::Authorizer authz(store_.get(), &router, true);
  ApiDeps d;
  d.store = store_.get();
  d.log = log_.get();
  d.clock = SystemClock::Get();
  d.acl = &authz;
  RegisterAllRoutes(&router, d, nullptr);

  v1::AclToken root;
  ASSERT_TRUE(
      FromJson(CallExpectingLater(router, "POST", "/v1/acl/bootstrap", "").body, &root).ok());
  EXPECT_FALSE(root.secret_id().empty());
  EXPECT_GT(root.create_index(), 0u);
  CallExpectingLater(router, "PUT", "/v1/acl/policies/readers",
                     R"({"rules":[{"resource":"job","access":"read"}]})");
  v1::AclToken reader;
  ASSERT_TRUE(FromJson(CallExpectingLater(router, "POST", "/v1/acl/tokens",
                                          R"({"name":"r","type":"client","policies":["readers"]})")
                           .body,
                       &reader)
                  .ok());
  CallExpectingLater(router, "DELETE", "/v1/acl/tokens/" + reader.accessor_id(), "");
  CallExpectingLater(router, "DELETE", "/v1/acl/policies/readers", "");
  EXPECT_NE(store_->Acl()->bootstrap_index, 0u);
  EXPECT_EQ(store_->Acl()->policies.count("readers"), 0u);
}

TEST_F(ApiTest, AgentReportsUpdateAllocationStatus) {
  std::string node = RegisterNode("n1");
  ASSERT_EQ(Call("POST", "/v1/jobs", kHello).status, 200);
  worker_->RunOnce();
  auto alloc = store_->ListAllocations("hello")[0];
  v1::UpdateAllocationsRequest req;
  auto* u = req.add_updates();
  u->set_id(alloc.id());
  u->set_client_status(v1::Allocation::RUNNING);
  auto* ts = u->add_task_states();
  ts->set_name("say");
  ts->set_state(v1::TaskState::RUNNING);
  ts->set_pid(4242);
  ASSERT_EQ(Call("POST", "/v1/nodes/" + node + "/allocations", ToJson(req)).status, 200);
  auto after = store_->GetAllocation(alloc.id());
  EXPECT_EQ(after->client_status(), v1::Allocation::RUNNING);
  EXPECT_EQ(after->task_states(0).pid(), 4242);
  EXPECT_EQ(store_->GetJob("hello")->status(), v1::Job::RUNNING);
  // The agent's periodic re-send of the same state (with its measured use)
  // stays out of the Raft log; a change goes in.
  const uint64_t applied = store_->AppliedIndex();
  u->mutable_usage()->set_cpu(150);
  ASSERT_EQ(Call("POST", "/v1/nodes/" + node + "/allocations", ToJson(req)).status, 200);
  EXPECT_EQ(store_->AppliedIndex(), applied) << "a report that changes nothing was proposed";
  EXPECT_EQ(liveness_->Usage(alloc.id())->cpu(), 150) << "its use is still noted";
  ts->set_restarts(1);
  ASSERT_EQ(Call("POST", "/v1/nodes/" + node + "/allocations", ToJson(req)).status, 200);
  EXPECT_GT(store_->AppliedIndex(), applied);
  EXPECT_EQ(store_->GetAllocation(alloc.id())->task_states(0).restarts(), 1);
  // Another node cannot report on it.
  std::string other = RegisterNode("n2");
  u->set_client_status(v1::Allocation::FAILED);
  ASSERT_EQ(Call("POST", "/v1/nodes/" + other + "/allocations", ToJson(req)).status, 200);
  EXPECT_EQ(store_->GetAllocation(alloc.id())->client_status(), v1::Allocation::RUNNING);
}

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

TEST_F(ApiTest, EveryReadEndpointRedactsSecretsButTheNodesOwnWatch) {
  const std::string node = RegisterNode("n1");
  auto sub = Call("POST", "/v1/jobs", kSecretJob);
  ASSERT_EQ(sub.status, 200) << sub.body;
  EXPECT_EQ(sub.body.find("hunter2"), std::string::npos) << sub.body;
  EXPECT_EQ(worker_->RunOnce(), 1);
  v1::AllocationList mine;
  ASSERT_TRUE(FromJson(Call("GET", "/v1/nodes/" + node + "/allocations").body, &mine).ok());
  ASSERT_EQ(mine.allocations_size(), 1);
  EXPECT_EQ(mine.allocations(0).task_group().tasks(0).secrets().at("DB_PASSWORD"), "hunter2-s3cret")
      << "the node running it gets the value";
  const std::string alloc = mine.allocations(0).id();

  for (const std::string& target : std::vector<std::string>{
           "/v1/jobs", "/v1/jobs/vault", "/v1/jobs/vault/versions", "/v1/jobs/vault/allocations",
           "/v1/allocations", "/v1/allocations?job=vault", "/v1/allocations/" + alloc}) {
    auto resp = Call("GET", target);
    EXPECT_EQ(resp.status, 200) << target << ": " << resp.body;
    EXPECT_EQ(resp.body.find("hunter2"), std::string::npos) << target << ": " << resp.body;
    EXPECT_NE(resp.body.find("(redacted)"), std::string::npos) << target << ": " << resp.body;
    EXPECT_NE(resp.body.find("visible-value"), std::string::npos) << target << ": " << resp.body;
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
