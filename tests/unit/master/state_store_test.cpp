#include "master/state/state_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "common/sqlite.h"
#include "master/model/allocation.h"
#include "master/services/registry.h"
#include "test_util.h"

namespace orch::master {
namespace {

using testing::RegisterJobCmd;
using testing::RegisterNodeCmd;
using testing::SampleJob;
using testing::SampleNode;

v1::Command PlanCmd(const std::string& eval, const v1::Job& job, uint64_t job_modify_index,
                    std::vector<std::pair<std::string, std::string>> place /* alloc id, node */) {
  v1::Command cmd;
  cmd.set_time_ms(2000);
  auto* p = cmd.mutable_plan();
  p->set_eval_id(eval);
  p->set_job_id(job.id());
  p->set_job_modify_index(job_modify_index);
  p->set_eval_status(v1::Evaluation::COMPLETE);
  for (const auto& [id, node] : place) {
    auto* a = p->add_place();
    a->set_id(id);
    a->set_job_id(job.id());
    a->set_group("g");
    a->set_node_id(node);
    a->set_name(job.id() + ".g[0]");
    a->mutable_resources()->set_cpu(job.groups(0).tasks(0).resources().cpu());
    a->mutable_resources()->set_memory(job.groups(0).tasks(0).resources().memory());
  }
  return cmd;
}

// An agent's report: allocation `id` on `node` is now `status`.
v1::Command ReportCmd(const std::string& node, const std::string& id,
                      v1::Allocation::ClientStatus status) {
  v1::Command cmd;
  cmd.mutable_update_allocations()->set_node_id(node);
  auto* u = cmd.mutable_update_allocations()->add_updates();
  u->set_id(id);
  u->set_client_status(status);
  return cmd;
}

// A scheduling read's allocations that are live (`live`) or stopping,
// node by node.
std::vector<SchedulingCache::Alloc> Held(const StateStore::SchedulingState& s, bool live) {
  std::vector<SchedulingCache::Alloc> out;
  for (const auto& n : *s.nodes) {
    auto h = s.held->find(n->id());
    if (h == s.held->end()) continue;
    for (const auto& [id, a] : h->second->allocs) {
      if (IsLive(*a) == live) out.push_back(a);
    }
  }
  return out;
}

// What node `i` of a scheduling read claims: its held allocations' sums.
v1::Resources ClaimedOn(const StateStore::SchedulingState& s, size_t i) {
  auto h = s.held->find(s.nodes->at(i)->id());
  return h != s.held->end() ? h->second->Claimed() : v1::Resources();
}

int32_t PriorityIn(const StateStore::SchedulingState& s, const std::string& job_id) {
  auto it = s.priority->find(job_id);
  return it == s.priority->end() ? 0 : it->second;
}

// Applies commands to a store at the next index, each expected to succeed.
struct Applier {
  StateStore* store;
  uint64_t index = 0;
  void operator()(const v1::Command& cmd) {
    Status outcome;
    ASSERT_TRUE(store->Apply(++index, cmd, &outcome).ok());
    ASSERT_TRUE(outcome.ok()) << outcome.ToString();
  }
};

TEST(StateStoreTest, AppliedCommandsAreVisibleAndIndexed) {
  auto store = StateStore::Open(testing::TempDir("s") + "/state.db");
  ASSERT_TRUE(store.ok());
  auto& s = **store;
  EXPECT_EQ(s.AppliedIndex(), 0u);
  ASSERT_TRUE(s.Apply(1, RegisterJobCmd(SampleJob("web", 2), "e1")).ok());
  EXPECT_EQ(s.AppliedIndex(), 1u);
  auto job = s.GetJob("web");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->version(), 0u);
  EXPECT_EQ(job->create_index(), 1u);
  EXPECT_EQ(job->status(), v1::Job::PENDING);
  auto evals = s.PendingEvaluations();
  ASSERT_EQ(evals.size(), 1u);
  EXPECT_EQ(evals[0].id(), "e1");
  // Submitting again is a new version of the same job.
  ASSERT_TRUE(s.Apply(2, RegisterJobCmd(SampleJob("web", 3), "e2")).ok());
  EXPECT_EQ(s.GetJob("web")->version(), 1u);
  EXPECT_EQ(s.GetJob("web")->create_index(), 1u);
  EXPECT_EQ(s.GetJob("nope").status().code(), StatusCode::kNotFound);
}

// A snapshot's image is read on another thread while applies go on: it is
// the state as of the read's start, whatever was applied after.
TEST(StateStoreTest, AnImageReadSeesTheStateWhenItBeganNotLaterApplies) {
  auto s = std::move(*StateStore::Open(testing::TempDir("s") + "/state.db"));
  ASSERT_TRUE(s->Apply(1, RegisterJobCmd(SampleJob("before", 1), "e1")).ok());
  auto read = s->BeginImageRead();
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ((*read)->applied(), 1u);
  ASSERT_TRUE(s->Apply(2, RegisterJobCmd(SampleJob("after", 1), "e2")).ok());
  std::string image;
  std::thread reader([&] {
    auto r = (*read)->Serialize();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    image = std::move(r).value();
    read->reset();
  });
  reader.join();
  ASSERT_TRUE(s->Apply(3, RegisterJobCmd(SampleJob("later", 1), "e3")).ok());

  auto copy = std::move(*StateStore::Open(testing::TempDir("c") + "/state.db"));
  ASSERT_TRUE(copy->RestoreImage(image).ok());
  EXPECT_EQ(copy->AppliedIndex(), 1u);
  EXPECT_TRUE(copy->GetJob("before").ok());
  EXPECT_EQ(copy->GetJob("after").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(s->GetJob("later").ok());  // the writer was never blocked
}

// The eval worker's read: nodes with what their live allocations use, and
// of the jobs asked for the job, all its allocations (by id) and its latest
// deployment. It is taken on a connection of its own, so it must see what
// the store's own connection applied, a restore included.
TEST(StateStoreTest, ASchedulingReadHasTheJobsAskedForAndFollowsARestore) {
  auto s = std::move(*StateStore::Open(testing::TempDir("s") + "/state.db"));
  ASSERT_TRUE(s->Apply(1, RegisterNodeCmd(SampleNode("n1"))).ok());
  auto job = SampleJob("web", 2, 300, 100);
  job.set_priority(70);
  ASSERT_TRUE(s->Apply(2, RegisterJobCmd(job, "e1")).ok());
  auto before = s->BeginImageRead();
  ASSERT_TRUE(before.ok());
  auto image = (*before)->Serialize();
  ASSERT_TRUE(image.ok());
  before->reset();
  Status outcome;
  ASSERT_TRUE(s->Apply(3, PlanCmd("e1", job, 2, {{"a2", "n1"}, {"a1", "n1"}}), &outcome).ok());
  ASSERT_TRUE(outcome.ok()) << outcome.ToString();

  auto r = s->ReadForScheduling({"web", "gone"});
  ASSERT_EQ(r.state.nodes->size(), 1u);
  EXPECT_EQ(ClaimedOn(r.state, 0).cpu(), 600);
  EXPECT_EQ(Held(r.state, true).size(), 2u);
  EXPECT_TRUE(Held(r.state, false).empty());
  EXPECT_EQ(PriorityIn(r.state, "web"), 70);
  ASSERT_EQ(r.jobs.count("web"), 1u);
  EXPECT_EQ(r.jobs["web"].id(), "web");
  EXPECT_EQ(r.jobs.count("gone"), 0u);
  ASSERT_EQ(r.allocs_by_job["web"].size(), 2u);
  EXPECT_EQ(r.allocs_by_job["web"][0].id(), "a1");
  EXPECT_EQ(r.allocs_by_job["web"][1].id(), "a2");
  EXPECT_TRUE(r.allocs_by_job["gone"].empty());
  EXPECT_EQ(r.deployments.count("web"), 1u);

  // Restored to before the plan: the read sees the restored state.
  ASSERT_TRUE(s->RestoreImage(*image).ok());
  r = s->ReadForScheduling({"web"});
  EXPECT_TRUE(Held(r.state, true).empty());
  EXPECT_EQ(ClaimedOn(r.state, 0).cpu(), 0);
  EXPECT_TRUE(r.allocs_by_job["web"].empty());
  EXPECT_EQ(r.jobs.count("web"), 1u);

  // Applies go on while the read's connection exists (it holds no lock or
  // transaction between reads).
  ASSERT_TRUE(s->Apply(3, PlanCmd("e1", job, 2, {{"a3", "n1"}}), &outcome).ok());
  EXPECT_EQ(s->ReadForScheduling({"web"}).allocs_by_job["web"].size(), 1u);
}

// A node that registers while a pass evaluates (it read the state before
// the node) unblocks nothing: the evaluation is still pending. The plan
// that then blocks it finds capacity grew after the evaluation was last
// written and leaves it pending, to be evaluated again with the node; a
// plan computed after that blocks it for good (until capacity grows again).
// Seen in CI: LaunchE2ETest.DispatchGivesTheTaskItsMetaAndPayload waited
// 30 s for a child blocked with "no nodes registered" although its node had
// registered one index before the plan.
TEST(StateStoreTest, APlanThatBlocksAnEvaluationAfterCapacityGrewLeavesItPending) {
  auto s = std::move(*StateStore::Open(testing::TempDir("s") + "/state.db"));
  Applier apply{s.get()};
  auto status_of = [&](const std::string& eval) {
    for (const auto& e : s->ListEvaluations("web")) {
      if (e.id() == eval) return e.status();
    }
    return v1::Evaluation::STATUS_UNSPECIFIED;
  };
  auto job = SampleJob("web", 1);
  apply(RegisterJobCmd(job, "e1"));
  const uint64_t job_index = apply.index;
  apply(RegisterNodeCmd(SampleNode("n1")));  // while the pass reads
  v1::Command blocked = PlanCmd("e1", job, job_index, {});
  blocked.mutable_plan()->set_eval_status(v1::Evaluation::BLOCKED);
  blocked.mutable_plan()->set_eval_description("no nodes registered");
  apply(blocked);
  EXPECT_EQ(status_of("e1"), v1::Evaluation::PENDING);
  // Evaluated again after that: blocked stays blocked...
  apply(blocked);
  EXPECT_EQ(status_of("e1"), v1::Evaluation::BLOCKED);
  // ...until capacity grows again.
  apply(RegisterNodeCmd(SampleNode("n2")));
  EXPECT_EQ(status_of("e1"), v1::Evaluation::PENDING);
}

// state.db as a crash would leave it: the database and its WAL, copied
// while the store is open (the WAL's index is rebuilt on open).
std::string CopyAsAfterACrash(const std::string& path) {
  const std::string to = testing::TempDir("crash") + "/state.db";
  std::filesystem::copy_file(path, to);
  if (std::filesystem::exists(path + "-wal"))
    std::filesystem::copy_file(path + "-wal", to + "-wal");
  return to;
}

// A scheduling read's nodes and allocations as text: what two reads of the
// same state must agree on.
std::string Describe(const StateStore::SchedulingState& s) {
  std::string out;
  for (size_t i = 0; i < s.nodes->size(); ++i) {
    const v1::Resources claimed = ClaimedOn(s, i);
    const v1::Node& n = *(*s.nodes)[i];
    out += n.id() + " " + v1::Node::Status_Name(n.status()) + " cpu " +
           std::to_string(claimed.cpu()) + " mem " + std::to_string(claimed.memory()) + "\n";
  }
  auto allocs = [&](const char* what, const std::vector<SchedulingCache::Alloc>& v) {
    for (const auto& a : v) {
      out += std::string(what) + " " + a->id() + " " + a->job_id() + "@" + a->node_id() + " " +
             v1::Allocation::ClientStatus_Name(a->client_status()) + " cpu " +
             std::to_string(a->resources().cpu()) + " ports";
      for (const auto& p : a->ports()) out += " " + std::to_string(p.value());
      out += "\n";
    }
  };
  allocs("live", Held(s, true));
  allocs("stopping", Held(s, false));
  std::map<std::string, int32_t> priorities(s.priority->begin(), s.priority->end());
  for (const auto& [job, priority] : priorities)
    out += job + " priority " + std::to_string(priority) + "\n";
  return out;
}

// What /metrics counts of the allocations, and what each node's live
// allocations claim (kept in memory, and summed from its rows), as text.
std::string Counted(const StateStore& s) {
  std::string out;
  for (const auto& [status, n] : s.CountState().allocations)
    out += status + " " + std::to_string(n) + "\n";
  for (const auto& n : s.ListNodes()) {
    int64_t cpu = 0, memory = 0;
    for (const auto& a : s.ListAllocations("", n.id())) {
      if (IsLive(a)) cpu += a.resources().cpu(), memory += a.resources().memory();
    }
    const auto got = s.GetNode(n.id());
    out += n.id() + " allocated cpu " + std::to_string(n.allocated().cpu()) + " mem " +
           std::to_string(n.allocated().memory()) + " (one node: cpu " +
           std::to_string(got->allocated().cpu()) + "); rows cpu " + std::to_string(cpu) + " mem " +
           std::to_string(memory) + "\n";
  }
  return out;
}

// The nodes and allocations a scheduling pass starts from are kept between
// reads and brought up to date from the events: after placements, reports,
// stops, a priority change, a purge, a node going down and garbage
// collection of a job whose allocations were still stopping, a read is what
// a store opened on the same tables reads from them, and so are the
// allocations' counts by status (kept in memory too). A pass holding an
// earlier read keeps what it read.
TEST(StateStoreTest, AKeptSchedulingReadIsWhatTheTablesGiveAfterEveryKindOfWrite) {
  const std::string path = testing::TempDir("s") + "/state.db";
  auto s = std::move(*StateStore::Open(path));
  Applier apply{s.get()};
  auto read = [&] {
    auto r = s->ReadForScheduling({});
    EXPECT_TRUE(r.ok);
    return r;
  };
  auto kept = [&](const StateStore::SchedulingRead& r) { return Describe(r.state) + Counted(*s); };
  auto from_tables = [&] {
    EXPECT_TRUE(s->CommitApplied().ok());
    auto fresh = std::move(*StateStore::Open(CopyAsAfterACrash(path)));
    return Describe(fresh->ReadForScheduling({}).state) + Counted(*fresh);
  };
  apply(RegisterNodeCmd(SampleNode("n1")));
  apply(RegisterNodeCmd(SampleNode("n2")));
  auto web = SampleJob("web", 3, 300, 100);
  web.set_priority(70);
  apply(RegisterJobCmd(web, "e1"));
  const uint64_t web_index = apply.index;
  auto api = SampleJob("api", 1, 200, 50);
  apply(RegisterJobCmd(api, "e2"));
  const uint64_t api_index = apply.index;
  const auto held_by_a_pass = read();  // filled from the tables here
  v1::Command place = PlanCmd("e1", web, web_index, {{"w1", "n1"}, {"w2", "n1"}, {"w3", "n2"}});
  place.mutable_plan()->mutable_place(0)->add_ports()->set_value(30001);
  place.mutable_plan()->mutable_place(2)->add_ports()->set_value(30002);
  apply(place);
  apply(PlanCmd("e2", api, api_index, {{"a1", "n2"}}));
  auto r = read();
  // A pass holding this read while later ones change what it shares
  // (nodes' holdings, priorities: copied before a change) keeps it.
  const auto held_by_a_later_pass = r;
  const std::string held_then = Describe(r.state);
  ASSERT_EQ(r.state.nodes->size(), 2u);
  EXPECT_EQ(ClaimedOn(r.state, 0).cpu(), 600);
  EXPECT_EQ(ClaimedOn(r.state, 1).cpu(), 500);
  EXPECT_EQ(Held(r.state, true).size(), 4u);
  EXPECT_EQ(PriorityIn(r.state, "web"), 70);
  EXPECT_EQ(kept(r), from_tables());

  apply(ReportCmd("n1", "w1", v1::Allocation::RUNNING));
  // w1 asked to stop: it holds its port until it is terminal.
  web.mutable_groups(0)->set_count(2);
  apply(RegisterJobCmd(web, "e3"));
  v1::Command stop = PlanCmd("e3", web, apply.index, {});
  stop.mutable_plan()->add_stop("w1");
  apply(stop);
  r = read();
  EXPECT_EQ(ClaimedOn(r.state, 0).cpu(), 300);
  ASSERT_EQ(Held(r.state, false).size(), 1u);
  EXPECT_EQ(Held(r.state, false)[0]->id(), "w1");
  EXPECT_EQ(kept(r), from_tables());
  apply(ReportCmd("n1", "w1", v1::Allocation::COMPLETE));
  r = read();
  EXPECT_TRUE(Held(r.state, false).empty());
  EXPECT_EQ(s->CountState().allocations["COMPLETE"], 1);
  EXPECT_EQ(kept(r), from_tables());
  // A new priority.
  web.set_priority(90);
  apply(RegisterJobCmd(web, "e4"));
  apply(PlanCmd("e4", web, apply.index, {}));
  EXPECT_EQ(PriorityIn(read().state, "web"), 90);
  EXPECT_EQ(kept(read()), from_tables());
  // Purged: the job is gone, its allocations stay until they are stopped.
  v1::Command purge;
  purge.mutable_deregister_job()->set_job_id("api");
  purge.mutable_deregister_job()->set_purge(true);
  purge.mutable_deregister_job()->mutable_eval()->set_id("e5");
  apply(purge);
  r = read();
  EXPECT_EQ(PriorityIn(r.state, "api"), 0);
  EXPECT_EQ(kept(r), from_tables());
  // A node down: its allocations are lost.
  v1::Command down;
  down.mutable_node_status()->set_node_id("n2");
  down.mutable_node_status()->set_status(v1::Node::DOWN);
  apply(down);
  r = read();
  EXPECT_EQ((*r.state.nodes)[1]->status(), v1::Node::DOWN);
  EXPECT_EQ(ClaimedOn(r.state, 1).cpu(), 0);
  EXPECT_EQ(kept(r), from_tables());
  // Stopped, its last allocation asked to stop, then collected whole: the
  // allocation goes with the job, without an event of its own.
  v1::Command deregister;
  deregister.mutable_deregister_job()->set_job_id("web");
  deregister.mutable_deregister_job()->mutable_eval()->set_id("e6");
  apply(deregister);
  s->FollowForScheduling();  // as the eval worker does between passes
  v1::Command stop_all = PlanCmd("e6", web, apply.index, {});
  stop_all.mutable_plan()->add_stop("w2");
  apply(stop_all);
  r = read();
  ASSERT_EQ(Held(r.state, false).size(), 1u);
  EXPECT_EQ(Held(r.state, false)[0]->id(), "w2");
  v1::Command gc;
  gc.set_time_ms(1'000'000);
  gc.mutable_gc()->set_job_cutoff_ms(1'000'000);
  gc.mutable_gc()->add_job_ids("web");
  apply(gc);
  s->FollowForScheduling();  // the deletion followed here, its allocations read by the pass
  r = read();
  EXPECT_TRUE(Held(r.state, false).empty());
  EXPECT_EQ(s->CountState().allocations.count("COMPLETE"), 0u);  // w1 went with its job
  EXPECT_EQ(kept(r), from_tables());

  // The pass that read first still has what it read.
  EXPECT_TRUE(Held(held_by_a_pass.state, true).empty());
  EXPECT_EQ(ClaimedOn(held_by_a_pass.state, 0).cpu(), 0);
  EXPECT_EQ(Describe(held_by_a_later_pass.state), held_then);
  EXPECT_EQ(s->SchedulingFills(), 1u);  // every read after the first followed the events
}

// Followed between passes, what the passes keep is never read again from
// the tables, however long the state moved without a pass; left alone for
// longer than the events are kept, it is read again (and still right).
TEST(StateStoreTest, FollowedBetweenPassesTheSchedulingReadIsNotReadAgainFromTheTables) {
  auto s = std::move(*StateStore::Open(testing::TempDir("s") + "/state.db"));
  Applier apply{s.get()};
  apply(RegisterNodeCmd(SampleNode("n1")));
  auto web = SampleJob("web", 1, 10, 10);
  apply(RegisterJobCmd(web, "e0"));
  ASSERT_TRUE(s->ReadForScheduling({}).ok);
  EXPECT_EQ(s->SchedulingFills(), 1u);
  // More indexes than the events are kept for (4,096), a pass's read
  // followed every 300.
  // (Spread over 50 more nodes: a plan's apply reads what its node holds.)
  for (int n = 0; n < 50; ++n) apply(RegisterNodeCmd(SampleNode("m" + std::to_string(n))));
  auto place = [&](const std::string& job_id, const std::string& alloc, const std::string& node) {
    auto job = SampleJob(job_id, 1, 10, 10);
    apply(RegisterJobCmd(job, "e-" + job_id));
    apply(PlanCmd("e-" + job_id, job, apply.index, {{alloc, node}}));
  };
  auto claimed_on_n1 = [](const StateStore::SchedulingRead& r) {
    for (size_t i = 0; i < r.state.nodes->size(); ++i) {
      if ((*r.state.nodes)[i]->id() == "n1") return ClaimedOn(r.state, i).cpu();
    }
    return int64_t{-1};
  };
  auto churn = [&](int from, int to, bool follow) {
    for (int i = from; i < to; ++i) {
      const std::string node = "m" + std::to_string(i % 50);
      place("j" + std::to_string(i), "a" + std::to_string(i), node);
      apply(ReportCmd(node, "a" + std::to_string(i), v1::Allocation::COMPLETE));
      if (follow && i % 100 == 0) s->FollowForScheduling();
    }
  };
  churn(1, 1500, true);
  place("j-live", "live", "n1");
  auto r = s->ReadForScheduling({});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(s->SchedulingFills(), 1u);
  ASSERT_EQ(Held(r.state, true).size(), 1u);
  EXPECT_EQ(Held(r.state, true)[0]->id(), "live");
  EXPECT_EQ(claimed_on_n1(r), 10);
  // Not followed: the events it needs were dropped, so it reads the
  // tables.
  churn(1500, 3000, false);
  r = s->ReadForScheduling({});
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(s->SchedulingFills(), 2u);
  ASSERT_EQ(Held(r.state, true).size(), 1u);
  EXPECT_EQ(claimed_on_n1(r), 10);
}

// A plan's apply reads what its nodes hold without their finished work
// (allocations have `terminal`, and the node index covers it). A database
// from before the column gains it on open, filled from the rows, and plans
// still see the ports that live allocations hold, and only those.
TEST(StateStoreTest, AnOlderDatabaseGainsTerminalAndPlansStillSeeWhatNodesHold) {
  const std::string path = testing::TempDir("s") + "/state.db";
  auto web = SampleJob("web", 2, 100, 100);
  {
    auto s = std::move(*StateStore::Open(path));
    Applier apply{s.get()};
    apply(RegisterNodeCmd(SampleNode("n1")));
    apply(RegisterJobCmd(web, "e1"));
    v1::Command place = PlanCmd("e1", web, apply.index, {{"a1", "n1"}, {"a2", "n1"}});
    place.mutable_plan()->mutable_place(0)->add_ports()->set_value(30001);
    place.mutable_plan()->mutable_place(1)->add_ports()->set_value(30002);
    apply(place);
    apply(ReportCmd("n1", "a1", v1::Allocation::COMPLETE));
    ASSERT_TRUE(s->CommitApplied().ok());
  }
  {
    // As an older master left it.
    auto db = std::move(*sqlite::Db::Open(path));
    ASSERT_TRUE(db->Exec("DROP INDEX allocations_on_node").ok());
    ASSERT_TRUE(db->Exec("ALTER TABLE allocations DROP COLUMN terminal").ok());
    ASSERT_TRUE(db->Exec("CREATE INDEX allocations_by_node ON allocations(node_id)").ok());
  }
  auto s = std::move(*StateStore::Open(path));
  {
    auto db = std::move(*sqlite::Db::Open(path));
    auto terminal = std::move(*db->Prepare("SELECT id, terminal FROM allocations ORDER BY id"));
    std::string rows;
    while (*terminal.Step()) rows += terminal.Text(0) + "=" + std::to_string(terminal.Int(1)) + " ";
    EXPECT_EQ(rows, "a1=1 a2=0 ");
    auto old_index =
        std::move(*db->Prepare("SELECT name FROM sqlite_master WHERE name='allocations_by_node'"));
    EXPECT_FALSE(*old_index.Step());
  }
  EXPECT_EQ(s->GetNode("n1")->allocated().cpu(), 100);  // a2 alone
  Applier apply{s.get()};
  apply.index = s->AppliedIndex();
  auto api = SampleJob("api", 2, 100, 100);
  apply(RegisterJobCmd(api, "e2"));
  // a1's port is free again (it finished); a2's is not.
  v1::Command more = PlanCmd("e2", api, apply.index, {{"a3", "n1"}, {"a4", "n1"}});
  more.mutable_plan()->mutable_place(0)->add_ports()->set_value(30001);
  more.mutable_plan()->mutable_place(1)->add_ports()->set_value(30002);
  Status outcome;
  ASSERT_TRUE(s->Apply(++apply.index, more, &outcome).ok());
  EXPECT_TRUE(s->GetAllocation("a3").ok());
  EXPECT_FALSE(s->GetAllocation("a4").ok()) << "placed on a port a live allocation holds";
}

TEST(StateStoreTest, AppliesWaitInOneTransactionThatACrashLosesAndTheLogReplays) {
  const std::string path = testing::TempDir("s") + "/state.db";
  auto s = std::move(*StateStore::Open(path));
  s->set_commit_after(std::chrono::hours(1));  // only the explicit commits below
  ASSERT_TRUE(s->Apply(1, RegisterJobCmd(SampleJob("web", 2), "e1")).ok());
  ASSERT_TRUE(s->CommitApplied().ok());
  ASSERT_TRUE(s->Apply(2, RegisterJobCmd(SampleJob("api", 1), "e2")).ok());
  ASSERT_TRUE(s->Apply(3, RegisterJobCmd(SampleJob("db", 1), "e3")).ok());
  // The store's own reads see every apply at once.
  EXPECT_EQ(s->AppliedIndex(), 3u);
  EXPECT_TRUE(s->GetJob("api").ok());
  EXPECT_TRUE(s->GetJob("db").ok());
  {
    // A crash now loses the open transaction, applied index and all...
    auto c = std::move(*StateStore::Open(CopyAsAfterACrash(path)));
    EXPECT_EQ(c->AppliedIndex(), 1u);
    EXPECT_TRUE(c->GetJob("web").ok());
    EXPECT_FALSE(c->GetJob("api").ok());
    // ...and the log replays it from there.
    ASSERT_TRUE(c->Apply(2, RegisterJobCmd(SampleJob("api", 1), "e2")).ok());
    ASSERT_TRUE(c->Apply(3, RegisterJobCmd(SampleJob("db", 1), "e3")).ok());
    EXPECT_EQ(c->GetJob("db")->groups(0).count(), 1);
    EXPECT_EQ(c->ListEvaluations().size(), 3u);
  }
  // Not by the Raft loop's tick before the transaction is due...
  ASSERT_TRUE(s->CommitAppliedIfDue().ok());
  EXPECT_EQ((*StateStore::Open(CopyAsAfterACrash(path)))->AppliedIndex(), 1u);
  // ...but by CommitApplied...
  ASSERT_TRUE(s->CommitApplied().ok());
  EXPECT_EQ((*StateStore::Open(CopyAsAfterACrash(path)))->AppliedIndex(), 3u);
  // ...before an image is read on a connection of its own...
  ASSERT_TRUE(s->Apply(4, RegisterJobCmd(SampleJob("cache", 1), "e4")).ok());
  auto read = s->BeginImageRead();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ((*read)->applied(), 4u);
  auto image = (*read)->Serialize();
  ASSERT_TRUE(image.ok());
  read->reset();
  {
    auto from_image = std::move(*StateStore::Open(testing::TempDir("img") + "/state.db"));
    ASSERT_TRUE(from_image->RestoreImage(*image).ok());
    EXPECT_TRUE(from_image->GetJob("cache").ok());
  }
  // ...before a scheduling read...
  ASSERT_TRUE(s->Apply(5, RegisterJobCmd(SampleJob("queue", 1), "e5")).ok());
  EXPECT_EQ(s->ReadForScheduling({"queue"}).jobs.count("queue"), 1u);
  EXPECT_EQ((*StateStore::Open(CopyAsAfterACrash(path)))->AppliedIndex(), 5u);
  // ...when the open transaction is older than set_commit_after(), by the
  // tick that finds it so...
  ASSERT_TRUE(s->Apply(6, RegisterJobCmd(SampleJob("mail", 1), "e6")).ok());
  s->set_commit_after(std::chrono::milliseconds(0));
  ASSERT_TRUE(s->CommitAppliedIfDue().ok());
  EXPECT_EQ((*StateStore::Open(CopyAsAfterACrash(path)))->AppliedIndex(), 6u);
  // ...or by the apply that does...
  ASSERT_TRUE(s->Apply(7, RegisterJobCmd(SampleJob("mq", 1), "e7")).ok());
  EXPECT_EQ((*StateStore::Open(CopyAsAfterACrash(path)))->AppliedIndex(), 7u);
  // ...and at close.
  s->set_commit_after(std::chrono::hours(1));
  ASSERT_TRUE(s->Apply(8, RegisterJobCmd(SampleJob("log", 1), "e8")).ok());
  s->Close();
  auto after = std::move(*StateStore::Open(CopyAsAfterACrash(path)));
  EXPECT_EQ(after->AppliedIndex(), 8u);
  EXPECT_TRUE(after->GetJob("log").ok());
}

TEST(StateStoreTest, ReplayOfAnAppliedIndexChangesNothing) {
  auto s = std::move(*StateStore::Open(testing::TempDir("s") + "/state.db"));
  ASSERT_TRUE(s->Apply(1, RegisterJobCmd(SampleJob("web", 2), "e1")).ok());
  ASSERT_TRUE(s->Apply(1, RegisterJobCmd(SampleJob("web", 9), "e9")).ok());
  EXPECT_EQ(s->GetJob("web")->groups(0).count(), 2);
  EXPECT_EQ(s->ListEvaluations().size(), 1u);
}

TEST(StateStoreTest, RestartResumesAtTheAppliedIndexWithItsState) {
  std::string path = testing::TempDir("s") + "/state.db";
  {
    auto s = std::move(*StateStore::Open(path));
    ASSERT_TRUE(s->Apply(1, RegisterNodeCmd(SampleNode("n1"))).ok());
    ASSERT_TRUE(s->Apply(2, RegisterJobCmd(SampleJob("web", 1), "e1")).ok());
  }
  auto s = std::move(*StateStore::Open(path));
  EXPECT_EQ(s->AppliedIndex(), 2u);
  EXPECT_TRUE(s->GetJob("web").ok());
  EXPECT_EQ(s->ListNodes().size(), 1u);
}

TEST(StateStoreTest, PlanThatNoLongerFitsIsRejectedAndEvalRetried) {
  auto s = std::move(*StateStore::Open(testing::TempDir("s") + "/state.db"));
  ASSERT_TRUE(s->Apply(1, RegisterNodeCmd(SampleNode("n1", 1000, 1000))).ok());
  auto job = SampleJob("big", 1, 600, 600);
  ASSERT_TRUE(s->Apply(2, RegisterJobCmd(job, "e1")).ok());
  ASSERT_TRUE(s->Apply(3, RegisterJobCmd(SampleJob("other", 1, 600, 600), "e2")).ok());
  Status outcome;
  ASSERT_TRUE(s->Apply(4, PlanCmd("e2", SampleJob("other", 1, 600, 600), 3, {{"a1", "n1"}}), &outcome).ok());
  ASSERT_TRUE(outcome.ok()) << outcome.ToString();
  // Plan for "big" was computed before "other" took the room: rejected.
  ASSERT_TRUE(s->Apply(5, PlanCmd("e1", job, 2, {{"a2", "n1"}}), &outcome).ok());
  EXPECT_EQ(outcome.code(), StatusCode::kFailedPrecondition);
  // The same fit check as the scheduler's, and its words (master/model/fit.h).
  EXPECT_NE(outcome.message().find("cannot take it: cpu exhausted"), std::string::npos)
      << outcome.ToString();
  EXPECT_EQ(s->ListAllocations("big").size(), 0u);
  auto pending = s->PendingEvaluations();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].id(), "e1");
  EXPECT_EQ(s->GetNode("n1")->allocated().memory(), 600);
}

TEST(StateStoreTest, PlacementGetsItsTaskGroupFromTheStoredJob) {
  // Plans carry no copy of the task group (a plan entry stays small); apply
  // fills it from the stored job, so the agent still receives what to run.
  auto s = std::move(*StateStore::Open(testing::TempDir("s") + "/state.db"));
  ASSERT_TRUE(s->Apply(1, RegisterNodeCmd(SampleNode("n1"))).ok());
  auto job = SampleJob("web", 1);
  ASSERT_TRUE(s->Apply(2, RegisterJobCmd(job, "e1")).ok());
  auto cmd = PlanCmd("e1", job, 2, {{"a1", "n1"}, {"a2", "n1"}});
  cmd.mutable_plan()->mutable_place(1)->set_group("nope");
  Status outcome;
  ASSERT_TRUE(s->Apply(3, cmd, &outcome).ok());
  auto a = s->GetAllocation("a1");
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->task_group().tasks_size(), job.groups(0).tasks_size());
  EXPECT_EQ(a->task_group().name(), "g");
  EXPECT_EQ(a->task_group().tasks(0).command(), job.groups(0).tasks(0).command());
  EXPECT_EQ(a->task_group().tasks(0).resources().cpu(), job.groups(0).tasks(0).resources().cpu());
  // A placement naming a group the job does not have is rejected, not
  // stored without a task group.
  EXPECT_EQ(outcome.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(outcome.message().find("has no group \"nope\""), std::string::npos) << outcome.ToString();
  EXPECT_FALSE(s->GetAllocation("a2").ok());
}

TEST(StateStoreTest, NodeDownMakesItsAllocationsLost) {
  auto s = std::move(*StateStore::Open(testing::TempDir("s") + "/state.db"));
  ASSERT_TRUE(s->Apply(1, RegisterNodeCmd(SampleNode("n1"))).ok());
  auto job = SampleJob("web", 1);
  ASSERT_TRUE(s->Apply(2, RegisterJobCmd(job, "e1")).ok());
  ASSERT_TRUE(s->Apply(3, PlanCmd("e1", job, 2, {{"a1", "n1"}})).ok());
  v1::Command down;
  down.mutable_node_status()->set_node_id("n1");
  down.mutable_node_status()->set_status(v1::Node::DOWN);
  auto* e = down.mutable_node_status()->add_evals();
  e->set_id("e3");
  e->set_job_id("web");
  ASSERT_TRUE(s->Apply(4, down).ok());
  auto a = s->GetAllocation("a1");
  EXPECT_EQ(a->client_status(), v1::Allocation::LOST);
  EXPECT_EQ(a->desired_status(), v1::Allocation::STOP);
  EXPECT_EQ(s->GetNode("n1")->status(), v1::Node::DOWN);
  EXPECT_EQ(s->GetNode("n1")->allocated().memory(), 0);
  EXPECT_EQ(s->PendingEvaluations().size(), 1u);
  // A late report from the dead node does not resurrect the allocation.
  ASSERT_TRUE(s->Apply(5, ReportCmd("n1", "a1", v1::Allocation::RUNNING)).ok());
  EXPECT_EQ(s->GetAllocation("a1")->client_status(), v1::Allocation::LOST);
}

TEST(StateStoreTest, AReportThatChangesNothingWritesNothing) {
  auto s = std::move(*StateStore::Open(testing::TempDir("s") + "/state.db"));
  ASSERT_TRUE(s->Apply(1, RegisterNodeCmd(SampleNode("n1"))).ok());
  auto job = SampleJob("web", 1);
  ASSERT_TRUE(s->Apply(2, RegisterJobCmd(job, "e1")).ok());
  ASSERT_TRUE(s->Apply(3, PlanCmd("e1", job, 2, {{"a1", "n1"}})).ok());
  v1::Command report;
  report.set_time_ms(5000);
  report.mutable_update_allocations()->set_node_id("n1");
  auto* u = report.mutable_update_allocations()->add_updates();
  u->set_id("a1");
  u->set_client_status(v1::Allocation::RUNNING);
  u->mutable_usage()->set_cpu(120);  // measured use: the leader keeps it in memory
  ASSERT_TRUE(s->Apply(4, report).ok());
  EXPECT_EQ(s->GetAllocation("a1")->modify_index(), 4u);
  // The agent's periodic re-send: same state, other usage, later.
  report.set_time_ms(15000);
  u->mutable_usage()->set_cpu(130);
  ASSERT_TRUE(s->Apply(5, report).ok());
  EXPECT_EQ(s->GetAllocation("a1")->modify_index(), 4u);
  EXPECT_EQ(s->GetAllocation("a1")->modify_time_ms(), 5000);
  EXPECT_TRUE(s->events()->After(4, 10).batches.empty())
      << "an event for a report that changed nothing";
  EXPECT_EQ(s->NodeAllocationsIndex("n1"), 3u);  // its own reports do not wake the node's watch
  // A change is written.
  u->set_client_status(v1::Allocation::FAILED);
  ASSERT_TRUE(s->Apply(6, report).ok());
  EXPECT_EQ(s->GetAllocation("a1")->modify_index(), 6u);
  EXPECT_EQ(s->events()->After(5, 10).batches.size(), 1u);
}

// The balancers' watches of the service registry wait on the services
// key: woken by a change of a job with services, its allocations or a
// known node, not by other jobs' placements and reports (every agent runs
// a balancer; each state change woke them all).
TEST(StateStoreTest, TheServicesKeyMovesOnlyWithWhatTheRegistryIsBuiltFrom) {
  auto s = std::move(*StateStore::Open(testing::TempDir("svc") + "/state.db"));
  ASSERT_TRUE(s->Apply(1, RegisterNodeCmd(SampleNode("n1"))).ok());
  auto plain = SampleJob("plain", 1);
  ASSERT_TRUE(s->Apply(2, RegisterJobCmd(plain, "e1")).ok());
  ASSERT_TRUE(s->Apply(3, PlanCmd("e1", plain, 2, {{"p1", "n1"}})).ok());
  const uint64_t before = s->ServicesIndex();
  EXPECT_LT(before, 2u) << "a job without services moved the services key";
  std::atomic<int> woke{0};
  s->index_waiters()->Wait(
      before, std::chrono::steady_clock::now() + std::chrono::seconds(60), [&] { ++woke; },
      StateStore::ServicesWatchKey());
  ASSERT_TRUE(s->Apply(4, ReportCmd("n1", "p1", v1::Allocation::RUNNING)).ok());
  EXPECT_EQ(s->ServicesIndex(), before) << "another job's report moved the services key";
  auto web = SampleJob("web", 1);
  web.mutable_groups(0)->mutable_tasks(0)->mutable_service()->set_name("web");
  ASSERT_TRUE(s->Apply(5, RegisterJobCmd(web, "e2")).ok());
  EXPECT_EQ(s->ServicesIndex(), 5u);
  // The watchers are woken once the changes go quiet (debounced).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (woke.load() == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(woke.load(), 1);
  ASSERT_TRUE(s->Apply(6, PlanCmd("e2", web, 5, {{"w1", "n1"}})).ok());
  EXPECT_EQ(s->ServicesIndex(), 6u);
  ASSERT_TRUE(s->Apply(7, ReportCmd("n1", "w1", v1::Allocation::RUNNING)).ok());
  EXPECT_EQ(s->ServicesIndex(), 7u) << "a service's allocation started: an endpoint";
  ASSERT_TRUE(s->Apply(8, ReportCmd("n1", "p1", v1::Allocation::COMPLETE)).ok());
  ASSERT_TRUE(s->Apply(9, RegisterNodeCmd(SampleNode("n2"))).ok());
  EXPECT_EQ(s->ServicesIndex(), 7u) << "another job's report or a new node moved it";
  ASSERT_TRUE(s->Apply(10, RegisterNodeCmd(SampleNode("n1"))).ok());
  EXPECT_EQ(s->ServicesIndex(), 10u) << "a known node's change (its address) did not";
}

// The registry is built from the jobs with services, their allocations and
// the nodes they are on: the same view as from whole tables, without
// reading the other jobs' allocations or nodes (each registry build parsed
// every job, allocation and node of the state).
TEST(StateStoreTest, TheRegistryIsReadFromTheJobsWithServicesAlone) {
  auto s = std::move(*StateStore::Open(testing::TempDir("svcread") + "/state.db"));
  Applier apply{s.get()};
  for (const char* n : {"n1", "n2", "n3", "n4"}) apply(RegisterNodeCmd(SampleNode(n)));
  auto plain = SampleJob("plain", 3);
  apply(RegisterJobCmd(plain, "e1"));
  apply(PlanCmd("e1", plain, apply.index, {{"p1", "n1"}, {"p2", "n3"}, {"p3", "n4"}}));
  for (const auto& [node, a] : {std::pair{"n1", "p1"}, {"n3", "p2"}, {"n4", "p3"}}) {
    apply(ReportCmd(node, a, v1::Allocation::RUNNING));
  }
  auto web = SampleJob("web", 2);
  web.mutable_groups(0)->mutable_tasks(0)->mutable_service()->set_name("web");
  apply(RegisterJobCmd(web, "e2"));
  apply(PlanCmd("e2", web, apply.index, {{"w1", "n1"}, {"w2", "n2"}}));
  apply(ReportCmd("n1", "w1", v1::Allocation::RUNNING));
  apply(ReportCmd("n2", "w2", v1::Allocation::FAILED));
  auto gone = SampleJob("gone", 1);
  gone.mutable_groups(0)->mutable_tasks(0)->mutable_service()->set_name("gone");
  apply(RegisterJobCmd(gone, "e3"));
  apply(PlanCmd("e3", gone, apply.index, {{"g1", "n2"}}));
  v1::Command stop;
  stop.mutable_deregister_job()->set_job_id("gone");
  stop.mutable_deregister_job()->mutable_eval()->set_id("e4");
  apply(stop);

  const auto read = s->ReadForServices();
  std::set<std::string> jobs, allocs, nodes;
  for (const auto& j : read.jobs) jobs.insert(j.id());
  for (const auto& a : read.allocations) allocs.insert(a.id());
  for (const auto& n : read.nodes) nodes.insert(n.id());
  EXPECT_EQ(jobs, (std::set<std::string>{"gone", "web"})) << "a stopped job's services going is news too";
  EXPECT_EQ(allocs, (std::set<std::string>{"g1", "w1", "w2"}));
  EXPECT_EQ(nodes, (std::set<std::string>{"n1", "n2"}));

  const ServiceView kept = BuildServices(read.jobs, read.allocations, read.nodes);
  const ServiceView whole = BuildServices(s->ListJobs(), s->ListAllocations(), s->ListNodes());
  ASSERT_EQ(kept.services.size(), 1u);
  EXPECT_EQ(kept.services[0].endpoints_size(), 1);
  EXPECT_EQ(kept.index, whole.index);
  ASSERT_EQ(kept.services.size(), whole.services.size());
  for (size_t i = 0; i < kept.services.size(); ++i) {
    EXPECT_EQ(kept.services[i].SerializeAsString(), whole.services[i].SerializeAsString());
  }
  EXPECT_GE(kept.index, s->GetJob("gone")->modify_index());
}

// An agent's allocation watch waits on its node's key: woken by a change of
// its own node or allocations, not by other nodes' or jobs' changes (with
// thousands of agents, waking every watch at each apply swamped the master),
// nor by the node's own reports (each sent all its allocations back).
// After a reopen, what came before is known only as the state index then.
TEST(StateStoreTest, ANodeWatchIsWokenByItsOwnNodeAlone) {
  const std::string path = testing::TempDir("watch") + "/state.db";
  {
    auto s = std::move(*StateStore::Open(path));
    ASSERT_TRUE(s->Apply(1, RegisterNodeCmd(SampleNode("n1"))).ok());
    ASSERT_TRUE(s->Apply(2, RegisterNodeCmd(SampleNode("n2"))).ok());
    auto job = SampleJob("web", 2);
    ASSERT_TRUE(s->Apply(3, RegisterJobCmd(job, "e1")).ok());
    ASSERT_TRUE(s->Apply(4, PlanCmd("e1", job, 3, {{"a1", "n1"}, {"a2", "n2"}})).ok());
    ASSERT_TRUE(s->Apply(5, RegisterNodeCmd(SampleNode("n3"))).ok());
    EXPECT_EQ(s->NodeAllocationsIndex("n1"), 4u);
    EXPECT_EQ(s->NodeAllocationsIndex("n2"), 4u);
    std::atomic<int> n1{0}, n2{0};
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    s->index_waiters()->Wait(
        4, deadline, [&] { ++n1; }, StateStore::NodeWatchKey("n1"));
    s->index_waiters()->Wait(
        4, deadline, [&] { ++n2; }, StateStore::NodeWatchKey("n2"));
    EXPECT_EQ(n1.load() + n2.load(), 0) << "another node's registration woke a node's watch";
    ASSERT_TRUE(s->Apply(6, RegisterJobCmd(SampleJob("other", 1), "e2")).ok());
    EXPECT_EQ(n1.load() + n2.load(), 0) << "another job's change woke a node's watch";
    ASSERT_TRUE(s->Apply(7, ReportCmd("n2", "a2", v1::Allocation::RUNNING)).ok());
    EXPECT_EQ(s->GetAllocation("a2")->client_status(), v1::Allocation::RUNNING);
    EXPECT_EQ(n1.load() + n2.load(), 0) << "a node's own report sent its allocations back";
    EXPECT_EQ(s->NodeAllocationsIndex("n2"), 4u);
    ASSERT_TRUE(
        s->Apply(8, RegisterNodeCmd(SampleNode("n2"))).ok());  // the servers' side changes n2
    EXPECT_EQ(n2.load(), 1);
    EXPECT_EQ(n1.load(), 0) << "n2's change woke n1's watch";
    EXPECT_EQ(s->NodeAllocationsIndex("n2"), 8u);
    EXPECT_EQ(s->NodeAllocationsIndex("n1"), 4u);
    s->Close();
    EXPECT_EQ(n1.load(), 1) << "closing answers every waiter";
  }
  auto s = std::move(*StateStore::Open(path));
  EXPECT_EQ(s->NodeAllocationsIndex("n1"), 8u) << "before the reopen: the state index then";
  std::atomic<int> woke{0};
  s->index_waiters()->Wait(
      6, std::chrono::steady_clock::now() + std::chrono::seconds(60), [&] { ++woke; },
      StateStore::NodeWatchKey("n1"));
  EXPECT_EQ(woke.load(), 1) << "a watch from before the reopen must look again";
}

// The job watch finds failures to reschedule and replacements in flight in
// the store's memory, not by reading every allocation each pass: the memory
// follows every write and comes back the same after a reopen.
TEST(StateStoreTest, FailedAllocationsAndTheirReplacementsAreKeptInMemory) {
  const std::string path = testing::TempDir("failed") + "/state.db";
  auto report = [](const std::string& id, v1::Allocation::ClientStatus status) {
    return ReportCmd("n1", id, status);
  };
  using Failed = std::vector<std::pair<std::string, bool>>;
  {
    auto s = std::move(*StateStore::Open(path));
    ASSERT_TRUE(s->Apply(1, RegisterNodeCmd(SampleNode("n1"))).ok());
    auto job = SampleJob("web", 2);
    ASSERT_TRUE(s->Apply(2, RegisterJobCmd(job, "e1")).ok());
    ASSERT_TRUE(s->Apply(3, PlanCmd("e1", job, 2, {{"a1", "n1"}, {"a2", "n1"}})).ok());
    EXPECT_TRUE(s->FailedAllocations().empty());
    ASSERT_TRUE(s->Apply(4, report("a1", v1::Allocation::FAILED)).ok());
    EXPECT_EQ(s->FailedAllocations(), (Failed{{"a1", false}}));
    EXPECT_FALSE(s->ReplacementOf("a1"));
    job = SampleJob("web", 3);
    ASSERT_TRUE(s->Apply(5, RegisterJobCmd(job, "e2")).ok());
    auto replace = PlanCmd("e2", job, s->GetJob("web")->modify_index(), {{"a3", "n1"}});
    replace.mutable_plan()->mutable_place(0)->set_previous_allocation("a1");
    replace.mutable_plan()->mutable_place(0)->set_job_version(s->GetJob("web")->version());
    ASSERT_TRUE(s->Apply(6, replace).ok());
    ASSERT_TRUE(s->GetAllocation("a3").ok());
    EXPECT_EQ(s->FailedAllocations(), (Failed{{"a1", true}}));
    EXPECT_EQ(s->ReplacementOf("a1").value_or(""), "a3");
    ASSERT_TRUE(s->Apply(7, report("a2", v1::Allocation::FAILED)).ok());
    ASSERT_TRUE(s->Apply(8, report("a3", v1::Allocation::RUNNING)).ok());
    EXPECT_EQ(s->FailedAllocations(), (Failed{{"a1", true}, {"a2", false}}));
  }
  auto s = std::move(*StateStore::Open(path));
  EXPECT_EQ(s->FailedAllocations(), (Failed{{"a1", true}, {"a2", false}})) << "rebuilt on open";
  EXPECT_EQ(s->ReplacementOf("a1").value_or(""), "a3");
  EXPECT_FALSE(s->ReplacementOf("a2"));
}

TEST(StateStoreTest, BatchAppliesLikeOneByOneInOneStep) {
  auto one = std::move(*StateStore::Open(testing::TempDir("one") + "/state.db"));
  auto batch = std::move(*StateStore::Open(testing::TempDir("batch") + "/state.db"));
  std::vector<v1::Command> cmds = {RegisterNodeCmd(SampleNode("n1")), RegisterJobCmd(SampleJob("a", 1), "e1"),
                                   RegisterJobCmd(SampleJob("b", 1), "e2")};
  v1::Command ghost;
  ghost.mutable_deregister_job()->set_job_id("ghost");
  cmds.push_back(ghost);
  std::vector<StateStore::Entry> entries;
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    ASSERT_TRUE(one->Apply(i + 1, cmds[i]).ok());
    entries.push_back({i + 1, &cmds[i]});
  }
  entries.push_back({cmds.size() + 1, nullptr});  // an empty Raft entry
  std::vector<Status> outcomes;
  ASSERT_TRUE(batch->ApplyBatch(entries, &outcomes).ok());
  EXPECT_EQ(batch->AppliedIndex(), cmds.size() + 1);
  ASSERT_EQ(outcomes.size(), entries.size());
  EXPECT_TRUE(outcomes[1].ok());
  EXPECT_EQ(outcomes[3].code(), StatusCode::kNotFound);  // the proposer hears why
  EXPECT_EQ(batch->ListJobs().size(), one->ListJobs().size());
  EXPECT_EQ(batch->ListEvaluations().size(), one->ListEvaluations().size());
  // Replaying the same batch changes nothing.
  ASSERT_TRUE(batch->ApplyBatch(entries, &outcomes).ok());
  EXPECT_EQ(batch->ListEvaluations().size(), 2u);
}

TEST(StateStoreTest, WaitForIndexWakesOnApply) {
  auto s = std::move(*StateStore::Open(testing::TempDir("s") + "/state.db"));
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(s->Apply(1, RegisterNodeCmd(SampleNode("n1"))).ok());
  });
  EXPECT_EQ(s->WaitForIndexAbove(0, std::chrono::seconds(30)), 1u);
  t.join();
  // Nothing new: the wait times out and reports the current index.
  EXPECT_EQ(s->WaitForIndexAbove(1, std::chrono::milliseconds(20)), 1u);
}

}  // namespace
}  // namespace orch::master
