// Inside one master, without sockets: periodic jobs launched by the leader's
// launcher on a manual clock (each time exactly once, the latest of missed
// ones, skipped for prohibit_overlap, forced), parameterized jobs
// dispatched with meta and payload, host volumes in scheduling (missing,
// read-only, single writer), a sticky (or migrating) ephemeral disk kept on
// its node, and ephemeral_disk.size reserved against the node's disk.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "common/index_waiters.h"
#include "common/json.h"
#include "master/controllers/child_jobs.h"
#include "master/controllers/eval_worker.h"
#include "master/http/api.h"
#include "master/http/launch_api.h"
#include "master/replication/raft_node.h"
#include "master/state/state_store.h"
#include "orch/v1/api.pb.h"
#include "sched_util.h"

namespace orch::master {
namespace {

class ManualClock : public Clock {
 public:
  explicit ManualClock(int64_t ms) : ms_(ms) {}
  int64_t NowMs() const override { return ms_.load(); }
  std::chrono::steady_clock::time_point Steady() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms_.load()));
  }
  void Set(int64_t ms) { ms_ = ms; }

 private:
  std::atomic<int64_t> ms_;
};

constexpr int64_t kNoonZ = 1768478400;  // 2026-01-15T12:00:00Z

class LaunchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string dir = ::testing::TempDir() + "/orch-launch-" + info->name();
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    store_ = std::move(*StateStore::Open(dir + "/state.db"));
    replication::RaftNodeOptions o;
    o.member_id = "m1";
    o.initial_peers = {{"m1", "127.0.0.1:0"}};
    o.tick = std::chrono::milliseconds(10);
    log_ = std::move(*replication::RaftNode::Open(o, dir, store_.get()));
    log_->Start(nullptr);
    for (int i = 0; i < 500 && !log_->IsLeader(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(log_->IsLeader());
    worker_ = std::make_unique<EvalWorker>(store_.get(), log_.get(), &clock_);
    ApiDeps d;
    d.store = store_.get();
    d.log = log_.get();
    d.clock = &clock_;
    RegisterApiRoutes(&router_, d);
    RegisterLaunchRoutes(&router_, d);
  }
  void TearDown() override {
    worker_.reset();
    if (log_) log_->Close();
  }

  HttpResponse Call(const std::string& method, const std::string& target,
                    const std::string& body = "") {
    HttpRequest req;
    req.method = method;
    req.target = target;
    req.body = body;
    EXPECT_TRUE(ParseTarget(target, &req.path, &req.query).ok());
    return AnswerWaiting(
        [&](const HttpRequest& r) {
          HttpResponse out = router_.Handle(r);
          answered_later_ = static_cast<bool>(out.later);
          return out;
        },
        req);
  }
  // Whether the last Call's handler gave its worker back while its write
  // committed (HttpResponse::later).
  bool answered_later_ = false;
  Result<uint64_t> Propose(v1::Command cmd) {
    cmd.set_time_ms(clock_.NowMs());
    return log_->Propose(cmd, std::chrono::seconds(5));
  }
  void AddNode(const v1::Node& n) {
    v1::Command cmd;
    *cmd.mutable_register_node()->mutable_node() = n;
    ASSERT_TRUE(Propose(cmd).ok());
  }
  void Submit(const v1::Job& job) {
    auto resp = Call("POST", "/v1/jobs", ToJson(job));
    ASSERT_EQ(resp.status, 200) << resp.body;
  }
  void SetAllocs(const std::string& job, v1::Allocation::ClientStatus status) {
    std::map<std::string, v1::Command> by_node;
    for (const auto& a : store_->ListAllocations(job)) {
      auto& cmd = by_node[a.node_id()];
      cmd.mutable_update_allocations()->set_node_id(a.node_id());
      auto* u = cmd.mutable_update_allocations()->add_updates();
      u->set_id(a.id());
      u->set_client_status(status);
    }
    for (auto& [n, cmd] : by_node) ASSERT_TRUE(Propose(cmd).ok());
  }
  std::vector<std::string> Children(const std::string& job) {
    std::vector<std::string> out;
    for (const auto& c : store_->ListChildJobs(job)) out.push_back(c.id());
    return out;
  }
  // A plan placing allocation `id` of `job`'s group g on `node` as if the
  // scheduler had chosen it (apply checks it again), slot 1.
  void PlaceByHand(const std::string& job, const std::string& id, const std::string& node,
                   int64_t disk = 0) {
    auto stored = *store_->GetJob(job);
    v1::Command cmd;
    auto* p = cmd.mutable_plan();
    p->set_eval_id(store_->ListEvaluations(job).back().id());
    p->set_job_id(job);
    p->set_job_modify_index(stored.modify_index());
    p->set_eval_status(v1::Evaluation::COMPLETE);
    auto* a = p->add_place();
    a->set_id(id);
    a->set_job_id(job);
    a->set_job_version(stored.version());
    a->set_group("g");
    a->set_node_id(node);
    a->set_name(job + ".g[1]");
    a->mutable_resources()->set_cpu(100);
    a->mutable_resources()->set_memory(64);
    if (disk > 0) a->mutable_resources()->set_disk(disk);
    (void)Propose(cmd);
  }
  static v1::Job Batch(const std::string& id) {
    v1::Job j = sched::testing::Job(id, 1);
    j.set_type(v1::Job::BATCH);
    return j;
  }
  static std::string Child(const std::string& parent, int64_t unix_s) {
    return parent + "/periodic-" + std::to_string(unix_s);
  }

  ManualClock clock_{(kNoonZ + 10) * 1000};
  Router router_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<replication::RaftNode> log_;
  std::unique_ptr<EvalWorker> worker_;
};

TEST_F(LaunchTest, PeriodicLaunchesEachTimeOnceAndOnlyTheLatestMissed) {
  AddNode(sched::testing::Node("n1"));
  v1::Job job = Batch("cron");
  job.mutable_periodic()->set_cron("* * * * *");
  Submit(job);
  worker_->RunOnce();
  EXPECT_TRUE(store_->ListAllocations("cron").empty()) << "the periodic job itself places nothing";
  EXPECT_EQ(store_->GetJob("cron")->status(), v1::Job::RUNNING);
  EXPECT_EQ(worker_->RunPeriodic(), 0) << "registered at 12:00:10: the first launch is 12:01";

  clock_.Set((kNoonZ + 61) * 1000);
  EXPECT_EQ(worker_->RunPeriodic(), 1);
  EXPECT_EQ(Children("cron"), std::vector<std::string>{Child("cron", kNoonZ + 60)});
  EXPECT_EQ(worker_->RunPeriodic(), 0) << "12:01 is done";
  // A second launcher (a new leader) at the same moment launches nothing,
  // and the state machine refuses the same time twice.
  EvalWorker other(store_.get(), log_.get(), &clock_);
  EXPECT_EQ(other.RunPeriodic(), 0);
  v1::Command again;
  *again.mutable_periodic_launch() =
      MakePeriodicLaunch(*store_->GetJob("cron"), (kNoonZ + 60) * 1000, false, false, "e-again");
  auto refused = Propose(again);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kAlreadyExists) << refused.status().ToString();

  worker_->RunOnce();
  auto child = store_->GetJob(Child("cron", kNoonZ + 60));
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->parent_id(), "cron");
  EXPECT_FALSE(child->has_periodic());
  EXPECT_EQ(store_->ListAllocations(child->id()).size(), 1u) << "the child runs the work";

  // No leader from 12:01 to 12:06:30: one launch, for 12:06.
  clock_.Set((kNoonZ + 6 * 60 + 30) * 1000);
  EXPECT_EQ(worker_->RunPeriodic(), 1);
  EXPECT_EQ(Children("cron"),
            (std::vector<std::string>{Child("cron", kNoonZ + 60), Child("cron", kNoonZ + 360)}));

  // Reads of a child by its id, '/' encoded.
  auto r = Call("GET", "/v1/jobs/cron%2Fperiodic-" + std::to_string(kNoonZ + 60));
  EXPECT_EQ(r.status, 200) << r.body;
  auto parent = Call("GET", "/v1/jobs/cron");
  ASSERT_EQ(parent.status, 200);
  v1::JobDetail detail;
  ASSERT_TRUE(FromJson(parent.body, &detail).ok());
  EXPECT_EQ(detail.children_size(), 2);
}

TEST_F(LaunchTest, ProhibitOverlapSkipsWhileAChildRunsAndForceLaunchesNow) {
  AddNode(sched::testing::Node("n1"));
  v1::Job job = Batch("report");
  job.mutable_periodic()->set_cron("*/2 * * * *");
  job.mutable_periodic()->set_prohibit_overlap(true);
  Submit(job);
  clock_.Set((kNoonZ + 125) * 1000);
  EXPECT_EQ(worker_->RunPeriodic(), 1);
  worker_->RunOnce();
  const std::string first = Child("report", kNoonZ + 120);
  SetAllocs(first, v1::Allocation::RUNNING);
  clock_.Set((kNoonZ + 245) * 1000);
  EXPECT_EQ(worker_->RunPeriodic(), 1) << "12:04 is recorded as skipped";
  EXPECT_EQ(Children("report"), std::vector<std::string>{first});
  EXPECT_EQ(worker_->RunPeriodic(), 0) << "and not tried again";
  SetAllocs(first, v1::Allocation::COMPLETE);
  EXPECT_EQ(store_->GetJob(first)->status(), v1::Job::DEAD);
  clock_.Set((kNoonZ + 365) * 1000);
  EXPECT_EQ(worker_->RunPeriodic(), 1);
  EXPECT_EQ(Children("report"), (std::vector<std::string>{first, Child("report", kNoonZ + 360)}));

  // Forced: now, whatever the schedule; the schedule stays.
  clock_.Set((kNoonZ + 400) * 1000);
  auto forced = Call("POST", "/v1/jobs/report/periodic/force");
  ASSERT_EQ(forced.status, 200) << forced.body;
  EXPECT_TRUE(answered_later_) << "a forced launch waits for its commit without a worker";
  v1::DispatchJobResponse resp;
  ASSERT_TRUE(FromJson(forced.body, &resp).ok());
  EXPECT_EQ(resp.job_id(), Child("report", kNoonZ + 400));
  EXPECT_FALSE(resp.eval_id().empty());
  EXPECT_EQ(worker_->RunPeriodic(), 0) << "12:06 was launched; 12:08 has not come";
  auto launches = store_->PeriodicLaunches();
  ASSERT_EQ(launches.size(), 1u);
  EXPECT_EQ(launches[0].launch_ms, (kNoonZ + 360) * 1000);
  EXPECT_EQ(Call("POST", "/v1/jobs/report/periodic/force").status, 409) << "the same second twice";

  // Stopped: no launches; purged: its schedule is gone.
  ASSERT_EQ(Call("DELETE", "/v1/jobs/report?purge=true").status, 200);
  clock_.Set((kNoonZ + 600) * 1000);
  EXPECT_EQ(worker_->RunPeriodic(), 0);
  EXPECT_TRUE(store_->PeriodicLaunches().empty());
}

TEST_F(LaunchTest, DispatchChecksMetaAndPayloadAndTheChildCarriesThem) {
  AddNode(sched::testing::Node("n1"));
  v1::Job job = Batch("resize");
  job.mutable_parameterized()->set_payload("required");
  job.mutable_parameterized()->add_meta_required("size");
  job.mutable_parameterized()->add_meta_optional("mode");
  (*job.mutable_meta())["owner"] = "media";
  job.mutable_groups(0)->mutable_tasks(0)->mutable_dispatch_payload()->set_file("input.json");
  Submit(job);
  worker_->RunOnce();
  EXPECT_TRUE(store_->ListAllocations("resize").empty());

  auto dispatch = [&](const std::string& body) {
    return Call("POST", "/v1/jobs/resize/dispatch", body);
  };
  const std::string payload_b64 = "eyJ3IjogNjR9";  // {"w": 64}
  EXPECT_EQ(dispatch(R"({"meta": {"size": "64"}})").status, 400) << "payload required";
  EXPECT_EQ(dispatch(R"({"payload": ")" + payload_b64 + R"("})").status, 400)
      << "meta size required";
  auto unknown =
      dispatch(R"({"meta": {"size": "64", "color": "red"}, "payload": ")" + payload_b64 + R"("})");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.body.find("color"), std::string::npos) << unknown.body;
  EXPECT_EQ(Call("POST", "/v1/jobs/nope/dispatch", "{}").status, 404);

  auto ok =
      dispatch(R"({"meta": {"size": "64", "mode": "fast"}, "payload": ")" + payload_b64 + R"("})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_TRUE(answered_later_) << "a dispatch waits for its commit without a worker";
  v1::DispatchJobResponse resp;
  ASSERT_TRUE(FromJson(ok.body, &resp).ok());
  EXPECT_EQ(resp.job_id().rfind("resize/dispatch-" + std::to_string(kNoonZ + 10) + "-", 0), 0u)
      << resp.job_id();
  EXPECT_FALSE(resp.eval_id().empty());
  worker_->RunOnce();
  auto allocs = store_->ListAllocations(resp.job_id());
  ASSERT_EQ(allocs.size(), 1u);
  EXPECT_EQ(allocs[0].payload(), R"({"w": 64})");
  EXPECT_EQ(allocs[0].parent_job_id(), "resize");
  EXPECT_EQ(allocs[0].job_meta().at("size"), "64");
  EXPECT_EQ(allocs[0].job_meta().at("mode"), "fast");
  EXPECT_EQ(allocs[0].job_meta().at("owner"), "media") << "the parent's meta too";

  // A dispatch built from an older version of the parent is refused.
  v1::Job parent = *store_->GetJob("resize");
  (*job.mutable_meta())["owner"] = "video";
  Submit(job);
  v1::Command stale;
  *stale.mutable_register_job() =
      RegisterChild(MakeChildJob(parent, "resize/dispatch-1-stale"), "e-stale");
  stale.mutable_register_job()->set_parent_modify_index(parent.modify_index());
  auto refused = Propose(stale);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(store_->GetJob("resize/dispatch-1-stale").ok());
  // Not parameterized: refused.
  Submit(Batch("plain"));
  EXPECT_EQ(Call("POST", "/v1/jobs/plain/dispatch", "{}").status, 409);
}

v1::Node WithVolume(v1::Node n, const std::string& name, bool read_only = false) {
  auto& v = (*n.mutable_attributes()->mutable_host_volumes())[name];
  v.set_path("/srv/" + name);
  v.set_read_only(read_only);
  return n;
}

v1::Job WithVolumeRequest(v1::Job j, const std::string& source, const std::string& mode = "",
                          bool read_only = false) {
  auto& v = (*j.mutable_groups(0)->mutable_volumes())["data"];
  v.set_type("host");
  v.set_source(source);
  v.set_access_mode(mode);
  v.set_read_only(read_only);
  auto* m = j.mutable_groups(0)->mutable_tasks(0)->add_volume_mounts();
  m->set_volume("data");
  m->set_destination("/data");
  return j;
}

TEST_F(LaunchTest, HostVolumesSteerPlacementAndASingleWriterIsPlacedOncePerNode) {
  AddNode(WithVolume(sched::testing::Node("n1"), "pg"));
  AddNode(sched::testing::Node("n2"));
  AddNode(WithVolume(sched::testing::Node("n3"), "ro", /*read_only=*/true));
  Submit(WithVolumeRequest(sched::testing::Job("db", 2), "pg", "single-node-single-writer"));
  worker_->RunOnce();
  auto allocs = store_->ListAllocations("db");
  ASSERT_EQ(allocs.size(), 1u);
  EXPECT_EQ(allocs[0].node_id(), "n1");
  bool blocked = false;
  for (const auto& e : store_->ListEvaluations("db")) {
    if (e.status() != v1::Evaluation::BLOCKED) continue;
    blocked = true;
    EXPECT_NE(e.status_description().find("missing host volume \"pg\""), std::string::npos)
        << e.status_description();
    EXPECT_NE(e.status_description().find("volume has a single writer"), std::string::npos)
        << e.status_description();
  }
  EXPECT_TRUE(blocked);

  // Readers go beside the single writer; a writable request is refused by a
  // read-only volume; a volume no node has blocks with that reason.
  Submit(WithVolumeRequest(sched::testing::Job("reader", 1), "pg", "", /*read_only=*/true));
  Submit(WithVolumeRequest(sched::testing::Job("writer", 1), "ro"));
  Submit(WithVolumeRequest(sched::testing::Job("lost", 1), "nowhere"));
  worker_->RunOnce();
  ASSERT_EQ(store_->ListAllocations("reader").size(), 1u);
  EXPECT_EQ(store_->ListAllocations("reader")[0].node_id(), "n1");
  EXPECT_TRUE(store_->ListAllocations("writer").empty());
  EXPECT_TRUE(store_->ListAllocations("lost").empty());
  auto reason = [&](const std::string& job) {
    for (const auto& e : store_->ListEvaluations(job)) {
      if (e.status() == v1::Evaluation::BLOCKED) return e.status_description();
    }
    return std::string("(not blocked)");
  };
  EXPECT_NE(reason("writer").find("host volume \"ro\" is read-only"), std::string::npos)
      << reason("writer");
  EXPECT_NE(reason("lost").find("missing host volume \"nowhere\""), std::string::npos)
      << reason("lost");

  // The plan apply re-checks: a second writer placed by hand is refused.
  PlaceByHand("db", "second-writer", "n1");
  EXPECT_FALSE(store_->GetAllocation("second-writer").ok());
}

TEST_F(LaunchTest, AStickyEphemeralDiskIsReplacedOnItsNode) {
  for (const char* n : {"n1", "n2", "n3", "n4"}) AddNode(sched::testing::Node(n));
  v1::Job job = sched::testing::Job("cache", 3);
  job.mutable_groups(0)->mutable_ephemeral_disk()->set_sticky(true);
  job.mutable_groups(0)->mutable_update()->set_max_parallel(0);  // all at once
  Submit(job);
  worker_->RunOnce();
  std::map<std::string, std::string> node_of;  // slot name -> node
  for (const auto& a : store_->ListAllocations("cache")) node_of[a.name()] = a.node_id();
  ASSERT_EQ(node_of.size(), 3u);
  SetAllocs("cache", v1::Allocation::RUNNING);
  (*job.mutable_groups(0)->mutable_tasks(0)->mutable_env())["V"] = "2";  // destructive
  Submit(job);
  worker_->RunOnce();
  int replaced = 0;
  for (const auto& a : store_->ListAllocations("cache")) {
    if (!IsLive(a) || a.job_version() != 1) continue;
    ++replaced;
    EXPECT_EQ(a.node_id(), node_of[a.name()]) << a.name();
    EXPECT_FALSE(a.previous_allocation().empty());
  }
  EXPECT_EQ(replaced, 3);
}

TEST_F(LaunchTest, AMigratingEphemeralDiskIsStickyToo) {
  for (const char* n : {"n1", "n2", "n3", "n4"}) AddNode(sched::testing::Node(n));
  v1::Job job = sched::testing::Job("queue", 3);
  job.mutable_groups(0)->mutable_ephemeral_disk()->set_migrate(true);  // sticky left off
  job.mutable_groups(0)->mutable_update()->set_max_parallel(0);
  Submit(job);
  worker_->RunOnce();
  std::map<std::string, std::string> node_of;
  for (const auto& a : store_->ListAllocations("queue")) node_of[a.name()] = a.node_id();
  ASSERT_EQ(node_of.size(), 3u);
  SetAllocs("queue", v1::Allocation::RUNNING);
  (*job.mutable_groups(0)->mutable_tasks(0)->mutable_env())["V"] = "2";
  Submit(job);
  worker_->RunOnce();
  int replaced = 0;
  for (const auto& a : store_->ListAllocations("queue")) {
    if (!IsLive(a) || a.job_version() != 1) continue;
    ++replaced;
    EXPECT_EQ(a.node_id(), node_of[a.name()]) << a.name();
    EXPECT_FALSE(a.previous_allocation().empty());
  }
  EXPECT_EQ(replaced, 3);
}

TEST_F(LaunchTest, EphemeralDiskSizeIsReservedAgainstTheNodesDisk) {
  v1::Node big = sched::testing::Node("n1"), small = sched::testing::Node("n2");
  big.mutable_capacity()->set_disk(1000);
  small.mutable_capacity()->set_disk(500);
  AddNode(big);
  AddNode(small);
  v1::Job job = sched::testing::Job("db", 2);
  job.mutable_groups(0)->mutable_ephemeral_disk()->set_size(600);
  Submit(job);
  worker_->RunOnce();
  auto allocs = store_->ListAllocations("db");
  ASSERT_EQ(allocs.size(), 1u);
  EXPECT_EQ(allocs[0].node_id(), "n1");
  EXPECT_EQ(allocs[0].resources().disk(), 600);
  EXPECT_EQ(store_->GetNode("n1")->allocated().disk(), 600);
  bool blocked = false;
  for (const auto& e : store_->ListEvaluations("db")) {
    if (e.status() != v1::Evaluation::BLOCKED) continue;
    blocked = true;
    EXPECT_NE(e.status_description().find("disk exhausted"), std::string::npos)
        << e.status_description();
  }
  EXPECT_TRUE(blocked);

  // The plan apply re-checks: 600 MiB placed by hand on the 500 MiB node is refused.
  PlaceByHand("db", "too-big", "n2", /*disk=*/600);
  EXPECT_FALSE(store_->GetAllocation("too-big").ok());

  // Stopped, its disk is free again; a node that reports no disk takes any size.
  Call("DELETE", "/v1/jobs/db");
  worker_->RunOnce();
  SetAllocs("db", v1::Allocation::COMPLETE);
  EXPECT_EQ(store_->GetNode("n1")->allocated().disk(), 0);
  AddNode(sched::testing::Node("n3"));
  v1::Job huge = sched::testing::Job("huge", 1);
  huge.mutable_groups(0)->mutable_ephemeral_disk()->set_size(1 << 20);
  Submit(huge);
  worker_->RunOnce();
  ASSERT_EQ(store_->ListAllocations("huge").size(), 1u);
  EXPECT_EQ(store_->ListAllocations("huge")[0].node_id(), "n3");
}

}  // namespace
}  // namespace orch::master
