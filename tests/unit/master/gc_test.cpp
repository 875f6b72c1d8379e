// Garbage collection on a fake clock: what the leader's collector deletes,
// when, what it must keep (live work, a batch job's finished allocation, a
// failure still to be rescheduled, each job's latest deployment), that the
// state machine checks every id again, purge, and that the state stays
// bounded under churn.
#include <gtest/gtest.h>

#include "common/index_waiters.h"
#include "common/json.h"
#include "master/controllers/garbage_collector.h"
#include "master/http/api.h"
#include "master/replication/raft_node.h"
#include "master/state/state_store.h"
#include "test_util.h"
#include "tests/unit/agent/fake_clock.h"

namespace orch::master {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

class GcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = testing::TempDir("gc");
    store_ = std::move(*StateStore::Open(dir + "/state.db"));
    log_ = testing::StartSingleLeader(dir, store_.get());
    ASSERT_NE(log_, nullptr);
    gc_ = std::make_unique<GarbageCollector>(store_.get(), log_.get(), &clock_);
    ApiDeps d;
    d.store = store_.get();
    d.log = log_.get();
    d.clock = &clock_;
    RegisterApiRoutes(&router_, d);
    Propose(testing::RegisterNodeCmd(testing::SampleNode("n1")));
  }
  void TearDown() override {
    if (log_) log_->Close();
  }

  uint64_t Propose(v1::Command cmd) {
    cmd.set_time_ms(clock_.NowMs());
    auto idx = log_->Propose(cmd, std::chrono::seconds(5));
    EXPECT_TRUE(idx.ok()) << idx.status().ToString();
    return idx.ok() ? *idx : 0;
  }
  void Register(const v1::Job& job, const std::string& eval) { Propose(testing::RegisterJobCmd(job, eval)); }
  void Stop(const std::string& job, const std::string& eval, bool purge = false) {
    v1::Command cmd;
    cmd.mutable_deregister_job()->set_job_id(job);
    cmd.mutable_deregister_job()->mutable_eval()->set_id(eval);
    cmd.mutable_deregister_job()->set_purge(purge);
    Propose(cmd);
  }
  // Closes `eval` with a plan placing `place` allocations (ids given) and
  // stopping `stop`.
  void Plan(const std::string& job_id, const std::string& eval, const std::vector<std::string>& place = {},
            const std::vector<std::string>& stop = {}) {
    auto job = store_->GetJob(job_id);
    v1::Command cmd;
    auto* p = cmd.mutable_plan();
    p->set_eval_id(eval);
    p->set_job_id(job_id);
    if (job.ok()) p->set_job_modify_index(job->modify_index());
    p->set_eval_status(v1::Evaluation::COMPLETE);
    for (const auto& id : place) {
      auto* a = p->add_place();
      a->set_id(id);
      a->set_job_id(job_id);
      a->set_job_version(job->version());
      a->set_group("g");
      a->set_node_id("n1");
      a->set_name(job_id + ".g[" + std::to_string(p->place_size() - 1) + "]");
      a->mutable_resources()->set_cpu(10);
      a->mutable_resources()->set_memory(10);
    }
    for (const auto& id : stop) p->add_stop(id);
    Propose(cmd);
  }
  void Report(const std::string& alloc, v1::Allocation::ClientStatus status) {
    v1::Command cmd;
    cmd.mutable_update_allocations()->set_node_id("n1");
    auto* u = cmd.mutable_update_allocations()->add_updates();
    u->set_id(alloc);
    u->set_client_status(status);
    Propose(cmd);
  }
  bool HasEval(const std::string& job, const std::string& id) {
    for (const auto& e : store_->ListEvaluations(job)) {
      if (e.id() == id) return true;
    }
    return false;
  }
  bool HasAlloc(const std::string& id) { return store_->GetAllocation(id).ok(); }
  GcTotals Pass() {
    auto t = gc_->RunOnce();
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? *t : GcTotals{};
  }

  agent::testing::FakeClock clock_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<replication::RaftNode> log_;
  std::unique_ptr<GarbageCollector> gc_;
  Router router_;
};

TEST_F(GcTest, EvaluationsGoOnceCompleteAndOlderThanTheThreshold) {
  Register(testing::SampleJob("web", 0), "e1");
  Plan("web", "e1");
  clock_.Advance(minutes(30));
  EXPECT_EQ(Pass().evaluations, 0);
  EXPECT_TRUE(HasEval("web", "e1"));
  Register(testing::SampleJob("web", 1), "e2");  // pending: never collected
  clock_.Advance(minutes(31));
  GcTotals t = Pass();
  EXPECT_EQ(t.evaluations, 1);
  EXPECT_GT(t.index, 0u);
  EXPECT_FALSE(HasEval("web", "e1"));
  EXPECT_TRUE(HasEval("web", "e2"));
  EXPECT_TRUE(store_->GetJob("web").ok());  // a live job stays
  clock_.Advance(hours(10));
  EXPECT_TRUE(HasEval("web", "e2"));
  EXPECT_EQ(Pass().total(), 0);
  EXPECT_TRUE(HasEval("web", "e2"));
}

TEST_F(GcTest, AStoppedJobGoesWithItsHistoryAfterTheJobThreshold) {
  Register(testing::SampleJob("old", 1), "e1");
  Plan("old", "e1", {"a1"});
  Report("a1", v1::Allocation::RUNNING);
  Register(testing::SampleJob("old", 2), "e2");  // version 1
  Plan("old", "e2", {"a2"});
  Stop("old", "e3");
  Plan("old", "e3", {}, {"a1", "a2"});
  Report("a1", v1::Allocation::COMPLETE);
  Report("a2", v1::Allocation::COMPLETE);
  EXPECT_EQ(store_->ListJobVersions("old").size(), 2u);
  clock_.Advance(hours(2));
  GcTotals t = Pass();
  EXPECT_EQ(t.jobs, 0);  // 2h < 4h
  EXPECT_EQ(t.evaluations, 3);
  EXPECT_EQ(t.allocations, 2);  // stopped by the scheduler, terminal, 2h old
  clock_.Advance(hours(3));
  EXPECT_EQ(Pass().jobs, 1);
  EXPECT_EQ(store_->GetJob("old").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->ListJobVersions("old").empty());
  EXPECT_TRUE(store_->ListEvaluations("old").empty());
  EXPECT_TRUE(store_->ListAllocations("old").empty());
  // Its id is free again, from version 0.
  Register(testing::SampleJob("old", 1), "e4");
  EXPECT_EQ(store_->GetJob("old")->version(), 0u);
}

TEST_F(GcTest, KeepsTerminalAllocationsTheSchedulerStillReads) {
  // A batch job's finished allocation: the scheduler must not run it again.
  v1::Job batch = testing::SampleJob("batch", 1);
  batch.set_type(v1::Job::BATCH);
  Register(batch, "b1");
  Plan("batch", "b1", {"done"});
  Report("done", v1::Allocation::COMPLETE);
  // A service's failure not replaced yet (its reschedule delay) and one
  // that was replaced.
  Register(testing::SampleJob("svc", 2), "s1");
  Plan("svc", "s1", {"waiting", "replaced"});
  Report("waiting", v1::Allocation::FAILED);
  Report("replaced", v1::Allocation::FAILED);
  {
    v1::Command ev;  // the evaluation of the failure
    auto* e = ev.mutable_evaluate()->add_evals();
    e->set_id("s2");
    e->set_job_id("svc");
    e->set_status(v1::Evaluation::PENDING);
    Propose(ev);
    auto job = store_->GetJob("svc");
    v1::Command cmd;
    auto* p = cmd.mutable_plan();
    p->set_eval_id("s2");
    p->set_job_id("svc");
    p->set_job_modify_index(job->modify_index());
    p->set_eval_status(v1::Evaluation::COMPLETE);
    auto* a = p->add_place();
    a->set_id("replacement");
    a->set_job_id("svc");
    a->set_group("g");
    a->set_node_id("n1");
    a->set_name("svc.g[1]");
    a->set_previous_allocation("replaced");
    a->mutable_resources()->set_cpu(10);
    a->mutable_resources()->set_memory(10);
    Propose(cmd);
  }
  clock_.Advance(hours(2));
  Pass();
  EXPECT_TRUE(HasAlloc("done"));
  EXPECT_TRUE(HasAlloc("waiting"));
  EXPECT_FALSE(HasAlloc("replaced"));
  EXPECT_TRUE(HasAlloc("replacement"));
  // The batch job is dead (all its work ended) once old enough: it goes with
  // its allocation.
  clock_.Advance(hours(3));
  Pass();
  EXPECT_FALSE(store_->GetJob("batch").ok());
  EXPECT_FALSE(HasAlloc("done"));
  EXPECT_TRUE(store_->GetJob("svc").ok());
}

TEST_F(GcTest, ApplyChecksEveryIdAgain) {
  Register(testing::SampleJob("web", 0), "e1");
  Plan("web", "e1");
  Stop("web", "e2");
  Plan("web", "e2");
  clock_.Advance(hours(5));
  // The leader finds the dead job; before its GC entry applies, the job is
  // submitted again.
  v1::GcCommand cutoffs;
  cutoffs.set_eval_cutoff_ms(clock_.NowMs() - 3'600'000);
  cutoffs.set_alloc_cutoff_ms(clock_.NowMs() - 3'600'000);
  cutoffs.set_job_cutoff_ms(clock_.NowMs() - 4 * 3'600'000);
  cutoffs.set_deployment_cutoff_ms(clock_.NowMs() - 3'600'000);
  StateStore::GcCursor cursor;
  v1::Command gc;
  *gc.mutable_gc() = store_->FindGarbage(cutoffs, 100, &cursor);
  ASSERT_EQ(gc.gc().job_ids_size(), 1);
  Register(testing::SampleJob("web", 1), "e3");
  Propose(gc);
  EXPECT_TRUE(store_->GetJob("web").ok());
  EXPECT_TRUE(HasEval("web", "e3"));
  EXPECT_FALSE(HasEval("web", "e1"));  // the old, complete ones still go
}

TEST_F(GcTest, PurgeDeletesTheJobNowAndItsAllocationsOnceTerminal) {
  Register(testing::SampleJob("web", 1), "e1");
  Plan("web", "e1", {"a1"});
  Report("a1", v1::Allocation::RUNNING);
  HttpRequest req;
  req.method = "DELETE";
  req.target = "/v1/jobs/web?purge=true";
  ASSERT_TRUE(ParseTarget(req.target, &req.path, &req.query).ok());
  HttpResponse resp = AnswerWaiting([&](const HttpRequest& r) { return router_.Handle(r); }, req);
  ASSERT_EQ(resp.status, 200) << resp.body;
  EXPECT_EQ(store_->GetJob("web").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->ListJobVersions("web").empty());
  EXPECT_TRUE(HasAlloc("a1"));  // still running: the evaluation stops it
  // A purge flag that is neither true nor false changes nothing.
  Register(testing::SampleJob("other", 0), "o1");
  req.target = "/v1/jobs/other?purge=yes";
  ASSERT_TRUE(ParseTarget(req.target, &req.path, &req.query).ok());
  EXPECT_EQ(AnswerWaiting([&](const HttpRequest& r) { return router_.Handle(r); }, req).status,
            400);
  EXPECT_TRUE(store_->GetJob("other").ok());
  // The allocation ends; once old enough it is collected.
  Report("a1", v1::Allocation::COMPLETE);
  clock_.Advance(minutes(61));
  Pass();
  EXPECT_FALSE(HasAlloc("a1"));
}

TEST_F(GcTest, AForcedCollectionIgnoresTheThresholds) {
  Register(testing::SampleJob("web", 0), "e1");
  Plan("web", "e1");
  Stop("web", "e2");
  Plan("web", "e2");
  Register(testing::SampleJob("live", 0), "l1");
  Plan("live", "l1");
  auto t = CollectAll(store_.get(), log_.get(), &clock_);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->jobs, 1);
  EXPECT_GE(t->evaluations, 1);
  EXPECT_FALSE(store_->GetJob("web").ok());
  EXPECT_TRUE(store_->GetJob("live").ok());
  EXPECT_TRUE(store_->ListEvaluations("live").empty());  // complete: collected
  // Nothing left: a second one finds nothing and proposes nothing.
  auto again = CollectAll(store_.get(), log_.get(), &clock_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->total(), 0);
  EXPECT_EQ(again->index, 0u);
}

TEST_F(GcTest, StateStaysBoundedUnderChurn) {
  // 60 rounds of: a job submitted, run, stopped; five hours apart. A pass
  // looks at 8 rows per table, so it takes a few passes to go round.
  GcOptions o;
  o.batch = 8;
  gc_->set_options(o);
  size_t most_jobs = 0, most_evals = 0;
  for (int i = 0; i < 60; ++i) {
    std::string id = "job" + std::to_string(i);
    Register(testing::SampleJob(id, 0), id + "-e1");
    Plan(id, id + "-e1");
    Stop(id, id + "-e2");
    Plan(id, id + "-e2");
    clock_.Advance(hours(5));
    for (int p = 0; p < 3; ++p) Pass();
    most_jobs = std::max(most_jobs, store_->ListJobs().size());
    most_evals = std::max(most_evals, store_->ListEvaluations().size());
  }
  EXPECT_LE(most_jobs, 3u);
  EXPECT_LE(most_evals, 6u);
}

}  // namespace
}  // namespace orch::master
