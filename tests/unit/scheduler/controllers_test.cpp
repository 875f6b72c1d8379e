// The scheduler inside the master, without sockets: plan apply re-checks,
// the eval worker's de-duplication and folding, scale, drain, plan, node
// down -> lost -> replaced, system jobs on joining nodes.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "common/index_waiters.h"
#include "common/json.h"
#include "master/controllers/eval_worker.h"
#include "master/http/api.h"
#include "master/http/deployments_api.h"
#include "master/http/lifecycle_api.h"
#include "master/http/scheduler_api.h"
#include "master/replication/raft_node.h"
#include "master/state/state_store.h"
#include "orch/v1/api.pb.h"
#include "sched_util.h"

namespace orch::master {
namespace {

class SchedulerMasterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string dir = ::testing::TempDir() + "/orch-sched-" + info->name();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    store_ = std::move(*StateStore::Open(dir + "/state.db"));
    replication::RaftNodeOptions o;
    o.member_id = "m1";
    o.initial_peers = {{"m1", "127.0.0.1:0"}};
    o.tick = std::chrono::milliseconds(10);
    log_ = std::move(*replication::RaftNode::Open(o, dir, store_.get()));
    log_->Start(nullptr);
    for (int i = 0; i < 500 && !log_->IsLeader(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(log_->IsLeader());
    worker_ = std::make_unique<EvalWorker>(store_.get(), log_.get(), SystemClock::Get());
    ApiDeps d;
    d.store = store_.get();
    d.log = log_.get();
    d.clock = SystemClock::Get();
    RegisterApiRoutes(&router_, d);
    RegisterSchedulerRoutes(&router_, d);
    RegisterDeploymentRoutes(&router_, d);
    RegisterLifecycleRoutes(&router_, d);
  }
  void TearDown() override {
    worker_.reset();
    if (log_) log_->Close();
  }

  HttpResponse Call(const std::string& method, const std::string& target, const std::string& body = "") {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    EXPECT_TRUE(ParseTarget(target, &req.path, &req.query).ok());
    return AnswerWaiting([&](const HttpRequest& r) { return router_.Handle(r); }, req);
  }
  uint64_t Propose(v1::Command cmd) {
    cmd.set_time_ms(SystemClock::Get()->NowMs());
    auto idx = log_->Propose(cmd, std::chrono::seconds(5));
    return idx.ok() ? *idx : 0;
  }
  void AddNode(const v1::Node& n) {
    v1::Command cmd;
    *cmd.mutable_register_node()->mutable_node() = n;
    Propose(cmd);
  }
  void Submit(const v1::Job& job) {
    auto resp = Call("POST", "/v1/jobs", ToJson(job));
    ASSERT_EQ(resp.status, 200) << resp.body;
  }
  // Marks every pending allocation running, as agents would report.
  void ReportRunning() {
    std::map<std::string, v1::Command> by_node;
    for (const auto& a : store_->ListAllocations()) {
      if (!IsLive(a) || a.client_status() == v1::Allocation::RUNNING) continue;
      auto& cmd = by_node[a.node_id()];
      cmd.mutable_update_allocations()->set_node_id(a.node_id());
      auto* u = cmd.mutable_update_allocations()->add_updates();
      u->set_id(a.id());
      u->set_client_status(v1::Allocation::RUNNING);
    }
    for (auto& [n, cmd] : by_node) Propose(cmd);
  }
  std::map<std::string, int> LiveByNode(const std::string& job) {
    std::map<std::string, int> out;
    for (const auto& a : store_->ListAllocations(job)) {
      if (IsLive(a)) out[a.node_id()]++;
    }
    return out;
  }

  Router router_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<replication::RaftNode> log_;
  std::unique_ptr<EvalWorker> worker_;
};

TEST_F(SchedulerMasterTest, ApplyRejectsWhatNoLongerFitsAndFollowsUp) {
  AddNode(sched::testing::Node("n1", 1000, 1024));
  Submit(sched::testing::Job("web", 0));
  auto eval = store_->PendingEvaluations().at(0);
  auto job = *store_->GetJob("web");
  v1::Command cmd;
  auto* p = cmd.mutable_plan();
  p->set_eval_id(eval.id());
  p->set_job_id("web");
  p->set_job_modify_index(job.modify_index());
  p->set_eval_status(v1::Evaluation::COMPLETE);
  p->set_followup_eval_id("follow-up");
  auto place = [&](const std::string& id, int64_t cpu, int64_t mem, int port) {
    auto* a = p->add_place();
    a->set_id(id);
    a->set_job_id("web");
    a->set_job_version(job.version());
    a->set_group("g");  // apply fills the task group from the stored job
    a->set_node_id("n1");
    a->set_name("web.g[" + id + "]");
    a->mutable_resources()->set_cpu(cpu);
    a->mutable_resources()->set_memory(mem);
    if (port) a->add_ports()->set_value(port);
  };
  place("ok", 600, 512, 20001);
  place("cpu", 600, 100, 0);      // 1200 > 1000 millicores
  place("mem", 100, 600, 0);      // 1112 > 1024 MiB
  place("port", 100, 100, 20001);  // taken by "ok"
  place("ok2", 100, 100, 20002);
  Propose(cmd);
  auto allocs = store_->ListAllocations("web");
  std::set<std::string> ids;
  for (const auto& a : allocs) ids.insert(a.id());
  EXPECT_EQ(ids, (std::set<std::string>{"ok", "ok2"}));
  auto node = *store_->GetNode("n1");
  EXPECT_LE(node.allocated().cpu(), 1000);
  bool follow = false;
  for (const auto& x : store_->ListEvaluations("web")) {
    if (x.id() == "follow-up") follow = x.status() == v1::Evaluation::PENDING;
    if (x.id() == eval.id()) {
      EXPECT_NE(x.status_description().find("3 placement(s) rejected"), std::string::npos);
    }
  }
  EXPECT_TRUE(follow);
  // The accepted placements carry the job's task group, filled on apply.
  for (const auto& a : allocs) {
    ASSERT_EQ(a.task_group().tasks_size(), 1) << a.id();
    EXPECT_EQ(a.task_group().tasks(0).command(), job.groups(0).tasks(0).command());
  }
}

TEST_F(SchedulerMasterTest, WorkerDeduplicatesPerJobAndFoldsPlans) {
  AddNode(sched::testing::Node("n1", 16000, 16384));
  // Three versions in a row (an identical resubmit would be a no-op).
  auto job = sched::testing::Job("web", 2);
  for (int v = 0; v < 3; ++v) {
    (*job.mutable_groups(0)->mutable_tasks(0)->mutable_env())["V"] = std::to_string(v);
    Submit(job);
  }
  for (int i = 0; i < 5; ++i) Submit(sched::testing::Job("other" + std::to_string(i), 1));
  ASSERT_EQ(store_->PendingEvaluations().size(), 8u);
  EXPECT_EQ(worker_->RunOnce(), 6);  // one plan per job
  EXPECT_EQ(worker_->entries_proposed(), 1u);  // folded into one entry
  EXPECT_TRUE(store_->PendingEvaluations().empty());
  int coalesced = 0;
  for (const auto& e : store_->ListEvaluations("web")) {
    coalesced += e.status_description().find("coalesced") != std::string::npos;
  }
  EXPECT_EQ(coalesced, 2);
  EXPECT_EQ(LiveByNode("web")["n1"], 2);  // the newest version only
  for (const auto& a : store_->ListAllocations("web")) EXPECT_EQ(a.job_version(), 2u);
}

TEST_F(SchedulerMasterTest, ScaleChangesTheCountOnly) {
  AddNode(sched::testing::Node("n1"));
  Submit(sched::testing::Job("web", 1));
  worker_->RunOnce();
  auto resp = Call("POST", "/v1/jobs/web/scale", R"({"group": "g", "count": 3})");
  ASSERT_EQ(resp.status, 200) << resp.body;
  worker_->RunOnce();
  EXPECT_EQ(LiveByNode("web")["n1"], 3);
  EXPECT_EQ(store_->GetJob("web")->version(), 0u);  // no new version: nothing replaced
  Call("POST", "/v1/jobs/web/scale", R"({"group": "g", "count": 1})");
  worker_->RunOnce();
  EXPECT_EQ(LiveByNode("web")["n1"], 1);
  EXPECT_EQ(Call("POST", "/v1/jobs/web/scale", R"({"group": "nope", "count": 1})").status, 404);
  EXPECT_EQ(Call("POST", "/v1/jobs/web/scale", R"({"group": "g", "count": -1})").status, 400);
  EXPECT_EQ(Call("POST", "/v1/jobs/nope/scale", R"({"group": "g", "count": 1})").status, 404);
}

TEST_F(SchedulerMasterTest, DrainMovesEverythingMaxParallelAtATimeAndUndoWorks) {
  AddNode(sched::testing::Node("a"));
  auto job = sched::testing::Job("web", 4);
  job.mutable_groups(0)->mutable_migrate()->set_max_parallel(2);
  Submit(job);
  worker_->RunOnce();
  ReportRunning();
  AddNode(sched::testing::Node("b"));
  auto resp = Call("POST", "/v1/nodes/a/drain", R"({"enable": true})");
  ASSERT_EQ(resp.status, 200) << resp.body;
  EXPECT_EQ(store_->GetNode("a")->status(), v1::Node::DRAINING);
  for (int round = 0; round < 10 && LiveByNode("web")["a"] > 0; ++round) {
    worker_->RunOnce();
    int not_running = 0;
    for (const auto& a : store_->ListAllocations("web")) {
      if (IsLive(a) && a.client_status() != v1::Allocation::RUNNING) ++not_running;
    }
    EXPECT_LE(not_running, 2);
    EXPECT_EQ(worker_->RunControllers(), 0);  // in flight: nothing more yet
    ReportRunning();
    worker_->RunControllers();
  }
  EXPECT_EQ(LiveByNode("web")["a"], 0);
  EXPECT_EQ(LiveByNode("web")["b"], 4);
  // Undo: the node takes work again.
  ASSERT_EQ(Call("POST", "/v1/nodes/a/drain", R"({"enable": false})").status, 200);
  EXPECT_EQ(store_->GetNode("a")->status(), v1::Node::READY);
  EXPECT_EQ(Call("POST", "/v1/nodes/zz/drain", R"({"enable": true})").status, 404);
}

TEST_F(SchedulerMasterTest, PlanEndpointExplainsAndChangesNothing) {
  AddNode(sched::testing::Node("n1", 4000, 1024));
  auto job = sched::testing::Job("web", 3, 100, 512);
  uint64_t before = store_->AppliedIndex();
  auto resp = Call("POST", "/v1/jobs/plan", ToJson(job));
  ASSERT_EQ(resp.status, 200) << resp.body;
  v1::PlanResponse plan;
  ASSERT_TRUE(FromJson(resp.body, &plan, false).ok()) << resp.body;
  EXPECT_EQ(plan.placements_size(), 2);
  ASSERT_EQ(plan.failures_size(), 1);
  EXPECT_EQ(plan.failures(0).reason(), "1 node filtered: 1 memory exhausted");
  EXPECT_EQ(store_->AppliedIndex(), before);
  EXPECT_TRUE(store_->ListJobs().empty());
  EXPECT_EQ(Call("POST", "/v1/jobs/plan", "{\"id\": \"\"}").status, 400);
}

TEST_F(SchedulerMasterTest, DownNodeWorkIsLostAndReplaced) {
  AddNode(sched::testing::Node("a"));
  AddNode(sched::testing::Node("b"));
  Submit(sched::testing::Job("web", 4));
  worker_->RunOnce();
  auto before = LiveByNode("web");
  std::string victim = before["a"] > 0 ? "a" : "b";
  std::string other = victim == "a" ? "b" : "a";
  v1::Command down;
  down.mutable_node_status()->set_node_id(victim);
  down.mutable_node_status()->set_status(v1::Node::DOWN);
  auto* e = down.mutable_node_status()->add_evals();
  e->set_id("down-eval");
  e->set_job_id("web");
  Propose(down);
  worker_->RunOnce();
  auto after = LiveByNode("web");
  EXPECT_EQ(after[victim], 0);
  EXPECT_EQ(after[other], 4);
  int lost = 0;
  for (const auto& a : store_->ListAllocations("web", victim)) lost += a.client_status() == v1::Allocation::LOST;
  EXPECT_EQ(lost, before[victim]);
}

TEST_F(SchedulerMasterTest, SystemJobReachesNodesThatJoinLater) {
  AddNode(sched::testing::Node("a"));
  auto job = sched::testing::Job("sys", 1);
  job.set_type(v1::Job::SYSTEM);
  Submit(job);
  worker_->RunOnce();
  worker_->RunControllers();  // primes the ready set (creates nothing: eval done)
  worker_->RunOnce();
  EXPECT_EQ(LiveByNode("sys").size(), 1u);
  AddNode(sched::testing::Node("b"));
  EXPECT_EQ(worker_->RunControllers(), 1);
  worker_->RunOnce();
  auto live = LiveByNode("sys");
  EXPECT_EQ(live["a"], 1);
  EXPECT_EQ(live["b"], 1);
}

TEST_F(SchedulerMasterTest, WorkerUsesTheLoadTheLeaderMeasured) {
  // Bin-packing alone prefers the smaller "busy" node; its measured load
  // must win over that.
  AddNode(sched::testing::Node("busy", 4000, 2048));
  AddNode(sched::testing::Node("idle", 4000, 4096));
  worker_->SetLoadSource([](const std::string& id) {
    v1::NodeLoad l;
    if (id == "busy") l.set_cpu(3600);  // 90% of 4000 millicores
    return l;
  });
  Submit(sched::testing::Job("web", 1, 200, 64));
  worker_->RunOnce();
  auto live = LiveByNode("web");
  EXPECT_EQ(live["idle"], 1);
  EXPECT_EQ(live["busy"], 0);
}

}  // namespace
}  // namespace orch::master

// ---- Hostile input reaching the scheduler (issue 10) -----------------------

namespace orch::master {
namespace {

// A job registered as the log would take it, around the REST validation.
v1::Command RegisterJobCmd(const v1::Job& job, const std::string& eval_id) {
  v1::Command cmd;
  *cmd.mutable_register_job()->mutable_job() = job;
  auto* e = cmd.mutable_register_job()->mutable_eval();
  e->set_id(eval_id);
  e->set_job_id(job.id());
  e->set_triggered_by(v1::Evaluation::JOB_REGISTER);
  return cmd;
}

// The job's newest evaluation (by create index).
v1::Evaluation EvalOf(StateStore* store, const std::string& job) {
  v1::Evaluation newest;
  for (const auto& e : store->ListEvaluations(job)) {
    if (e.create_index() >= newest.create_index()) newest = e;
  }
  return newest;
}

TEST_F(SchedulerMasterTest, AnEvaluationThatThrowsFailsAloneWithItsReason) {
  AddNode(sched::testing::Node("n1"));
  Submit(sched::testing::Job("bad", 1));
  Submit(sched::testing::Job("good", 2));
  worker_->SetScheduleHook([](const sched::JobInput& in) {
    if (in.job.id() == "bad") throw std::runtime_error("boom");
  });
  EXPECT_EQ(worker_->RunOnce(), 2);
  auto bad = EvalOf(store_.get(), "bad");
  EXPECT_EQ(bad.status(), v1::Evaluation::FAILED);
  EXPECT_NE(bad.status_description().find("scheduler failed: boom"), std::string::npos) << bad.status_description();
  EXPECT_EQ(LiveByNode("good")["n1"], 2);
  EXPECT_TRUE(store_->PendingEvaluations().empty());
}

TEST_F(SchedulerMasterTest, AStoredJobPastTheLimitsFailsItsEvaluationInsteadOfTheLeader) {
  // Written around validation (as a job stored before the limits was): the
  // reconciler would build 2^31 slots and abort every leader in turn.
  AddNode(sched::testing::Node("n1"));
  Propose(RegisterJobCmd(sched::testing::Job("huge", 2147483647), "e-huge"));
  Submit(sched::testing::Job("good", 1));
  EXPECT_EQ(worker_->RunOnce(), 2);
  auto huge = EvalOf(store_.get(), "huge");
  EXPECT_EQ(huge.status(), v1::Evaluation::FAILED);
  EXPECT_NE(huge.status_description().find("count 2147483647"), std::string::npos) << huge.status_description();
  EXPECT_EQ(LiveByNode("good")["n1"], 1);
}

TEST_F(SchedulerMasterTest, OverflowingTaskResourcesNeverFitNorDriveANodeNegative) {
  AddNode(sched::testing::Node("n1", 1000, 1024));
  // Two tasks of 2^62 millicores: their sum wrapped to a negative request
  // that fitted anywhere and made the node's allocated cpu negative.
  auto job = sched::testing::Job("wrap", 1, int64_t{1} << 62);
  auto* t2 = job.mutable_groups(0)->add_tasks();
  *t2 = job.groups(0).tasks(0);
  t2->set_name("t2");
  Propose(RegisterJobCmd(job, "e-wrap"));
  worker_->RunOnce();
  EXPECT_TRUE(LiveByNode("wrap").empty());
  auto node = *store_->GetNode("n1");
  EXPECT_GE(node.allocated().cpu(), 0);
  // And the node still takes ordinary work.
  Submit(sched::testing::Job("ok", 1));
  worker_->RunOnce();
  EXPECT_EQ(LiveByNode("ok")["n1"], 1);
}

TEST_F(SchedulerMasterTest, ARegexpConstraintOnAHugeLabelRunsInLinearTime) {
  // A 50 KB label is refused at registration now (even written around the
  // REST check, by the state machine)...
  auto huge = sched::testing::Node("n0");
  (*huge.mutable_attributes()->mutable_labels())["zone"] = std::string(50000, 'a');
  AddNode(huge);
  EXPECT_FALSE(store_->GetNode("n0").ok());
  // ...and (a+)+$ against 1,000 'a' then 'b' (the largest label allowed):
  // exponential backtracking in std::regex, linear in RE2.
  auto n = sched::testing::Node("n1");
  (*n.mutable_attributes()->mutable_labels())["zone"] = std::string(1023, 'a') + "b";
  AddNode(n);
  auto job = sched::testing::Job("re", 1);
  auto* c = job.mutable_groups(0)->add_constraints();
  c->set_attribute("${meta.zone}");
  c->set_operator_("regexp");
  c->set_value("(a+)+$");
  Submit(job);
  auto job2 = sched::testing::Job("re2", 1);
  auto* c2 = job2.mutable_groups(0)->add_constraints();
  c2->set_attribute("${meta.zone}");
  c2->set_operator_("regexp");
  c2->set_value("^a+b$");
  Submit(job2);
  worker_->RunOnce();
  EXPECT_TRUE(LiveByNode("re").empty());
  EXPECT_EQ(EvalOf(store_.get(), "re").status(), v1::Evaluation::BLOCKED);
  EXPECT_EQ(LiveByNode("re2")["n1"], 1);
}

}  // namespace
}  // namespace orch::master

namespace orch::master {
namespace {

TEST_F(SchedulerMasterTest, ResubmittedCountsScaleInPlaceThroughApply) {
  AddNode(sched::testing::Node("n1", 16000, 16384));
  auto job = sched::testing::Job("web", 3);
  Submit(job);
  worker_->RunOnce();
  ReportRunning();
  std::set<std::string> first;
  for (const auto& a : store_->ListAllocations("web")) first.insert(a.id());
  ASSERT_EQ(first.size(), 3u);
  // 3 -> 5 by resubmitting the file with another count: a new version, but
  // the three running allocations stay (moved to version 1 in place).
  job.mutable_groups(0)->set_count(5);
  Submit(job);
  worker_->RunOnce();
  int live = 0, kept = 0;
  for (const auto& a : store_->ListAllocations("web")) {
    if (!IsLive(a)) continue;
    ++live;
    EXPECT_EQ(a.job_version(), 1u) << a.id();
    EXPECT_EQ(a.task_group().count(), 5) << "the in-place update carries the new group";
    kept += first.count(a.id());
  }
  EXPECT_EQ(live, 5);
  EXPECT_EQ(kept, 3);
  // A constraint that still holds: in place, nothing stops.
  auto* c = job.mutable_groups(0)->add_constraints();
  c->set_attribute("${attr.os}");
  c->set_value("linux");
  Submit(job);
  worker_->RunOnce();
  int stopped = 0;
  for (const auto& a : store_->ListAllocations("web")) stopped += a.desired_status() == v1::Allocation::STOP;
  EXPECT_EQ(stopped, 0);
}

}  // namespace
}  // namespace orch::master
