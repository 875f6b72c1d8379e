// Cluster service ports: assignment from the cluster range and the claim
// checks the state machine makes when it applies RegisterJob (so every
// master agrees and racing submits cannot share a name or port), and what
// a client of POST /v1/jobs sees of both.
#include "master/services/service_ports.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "common/index_waiters.h"
#include "common/json.h"
#include "master/http/api.h"
#include "master/replication/raft_node.h"
#include "master/state/state_store.h"
#include "orch/v1/api.pb.h"
#include "test_util.h"

namespace orch::master {
namespace {

// A job whose task serves `service` on `listen` (0: to be assigned).
v1::Job ServiceJob(const std::string& id, const std::string& service, int listen = 0) {
  v1::Job job = testing::SampleJob(id, 1);
  job.mutable_groups(0)->mutable_network()->add_ports()->set_name("http");
  auto* s = job.mutable_groups(0)->mutable_tasks(0)->mutable_service();
  s->set_name(service);
  s->set_port("http");
  s->set_listen(listen);
  return job;
}

v1::Command Register(const v1::Job& job, const std::string& eval, ServicePortRange range = {}) {
  v1::Command cmd = testing::RegisterJobCmd(job, eval);
  cmd.mutable_register_job()->set_service_port_first(range.first);
  cmd.mutable_register_job()->set_service_port_last(range.last);
  return cmd;
}

int ListenOf(const v1::Job& job, int group = 0) { return job.groups(group).tasks(0).service().listen(); }

class ServicePortsApplyTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = std::move(*StateStore::Open(testing::TempDir("s") + "/state.db")); }
  // Applies at the next index; returns the command's outcome.
  Status Apply(const v1::Command& cmd) {
    Status outcome;
    EXPECT_TRUE(store_->Apply(++index_, cmd, &outcome).ok());
    return outcome;
  }
  int StoredListen(const std::string& id) {
    auto job = store_->GetJob(id);
    EXPECT_TRUE(job.ok()) << id;
    return job.ok() ? ListenOf(*job) : -1;
  }
  std::unique_ptr<StateStore> store_;
  uint64_t index_ = 0;
};

TEST(ServicePortRangeTest, ParsesAndRejects) {
  auto r = ParseServicePortRange("7000-7999");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first, 7000);
  EXPECT_EQ(r->last, 7999);
  EXPECT_TRUE(ParseServicePortRange("9000-9000").ok());
  for (const char* bad : {"", "7000", "7000-", "-7999", "8000-7000", "0-10", "60000-70000", "a-b", "7000-7999x"}) {
    EXPECT_FALSE(ParseServicePortRange(bad).ok()) << bad;
  }
  // The default stays clear of the scheduler's dynamic node ports and the
  // kernel's ephemeral ones.
  ServicePortRange def;
  EXPECT_LT(def.last, 20000);
  EXPECT_GT(def.first, 4650);
}

TEST_F(ServicePortsApplyTest, AssignsLowestFreePortsInOrderAndTheStoredJobShowsThem) {
  ASSERT_TRUE(Apply(Register(ServiceJob("a", "a"), "e1")).ok());
  ASSERT_TRUE(Apply(Register(ServiceJob("named", "named", 12001), "e2")).ok());
  ASSERT_TRUE(Apply(Register(ServiceJob("b", "b"), "e3")).ok());
  EXPECT_EQ(StoredListen("a"), 12000);
  EXPECT_EQ(StoredListen("named"), 12001);
  EXPECT_EQ(StoredListen("b"), 12002);  // skips the port a job named
  // A job without services is untouched.
  ASSERT_TRUE(Apply(testing::RegisterJobCmd(testing::SampleJob("plain", 1), "e4")).ok());
  EXPECT_FALSE(store_->GetJob("plain")->groups(0).tasks(0).has_service());
}

TEST_F(ServicePortsApplyTest, EveryMasterAssignsTheSamePorts) {
  std::vector<v1::Command> log = {Register(ServiceJob("a", "a"), "e1"), Register(ServiceJob("b", "b"), "e2"),
                                  Register(ServiceJob("a", "a"), "e3"), Register(ServiceJob("c", "c"), "e4")};
  auto other = std::move(*StateStore::Open(testing::TempDir("other") + "/state.db"));
  uint64_t i = 0;
  for (const auto& cmd : log) {
    ASSERT_TRUE(Apply(cmd).ok());
    ASSERT_TRUE(other->Apply(++i, cmd).ok());
  }
  std::set<int> ports;
  for (const char* id : {"a", "b", "c"}) {
    EXPECT_EQ(StoredListen(id), ListenOf(*other->GetJob(id))) << id;
    ports.insert(StoredListen(id));
  }
  EXPECT_EQ(ports.size(), 3u);
}

TEST_F(ServicePortsApplyTest, UpdatesKeepTheirPortUnlessTheyNameOne) {
  ASSERT_TRUE(Apply(Register(ServiceJob("a", "a"), "e1")).ok());
  ASSERT_TRUE(Apply(Register(ServiceJob("b", "b"), "e2")).ok());
  ASSERT_EQ(StoredListen("b"), 12001);
  // a stops: 12000 is free, but b's update keeps 12001.
  v1::Command stop;
  stop.mutable_deregister_job()->set_job_id("a");
  stop.mutable_deregister_job()->mutable_eval()->set_id("e3");
  ASSERT_TRUE(Apply(stop).ok());
  v1::Job b2 = ServiceJob("b", "b");
  b2.mutable_groups(0)->set_count(3);
  ASSERT_TRUE(Apply(Register(b2, "e4")).ok());
  EXPECT_EQ(StoredListen("b"), 12001);
  EXPECT_EQ(store_->GetJob("b")->version(), 1u);
  // Naming a port moves it; omitting it again then keeps the named one.
  ASSERT_TRUE(Apply(Register(ServiceJob("b", "b", 9100), "e5")).ok());
  EXPECT_EQ(StoredListen("b"), 9100);
  ASSERT_TRUE(Apply(Register(ServiceJob("b", "b"), "e6")).ok());
  EXPECT_EQ(StoredListen("b"), 9100);
  // The stopped job, submitted again, gets its old port back while free.
  ASSERT_TRUE(Apply(Register(ServiceJob("a", "a"), "e7")).ok());
  EXPECT_EQ(StoredListen("a"), 12000);
}

TEST_F(ServicePortsApplyTest, TasksSharingAServiceShareItsPort) {
  v1::Job job = ServiceJob("w", "w");
  *job.add_groups() = job.groups(0);
  job.mutable_groups(1)->set_name("g2");
  ASSERT_TRUE(Apply(Register(job, "e1")).ok());
  auto stored = store_->GetJob("w");
  EXPECT_EQ(ListenOf(*stored, 0), 12000);
  EXPECT_EQ(ListenOf(*stored, 1), 12000);
}

TEST_F(ServicePortsApplyTest, ExhaustedRangeIsAClearErrorAndChangesNothing) {
  ServicePortRange two{7000, 7001};
  ASSERT_TRUE(Apply(Register(ServiceJob("a", "a"), "e1", two)).ok());
  ASSERT_TRUE(Apply(Register(ServiceJob("b", "b"), "e2", two)).ok());
  Status st = Apply(Register(ServiceJob("c", "c"), "e3", two));
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(st.message().find("no free port left in the cluster service port range 7000-7001"), std::string::npos)
      << st.message();
  EXPECT_FALSE(store_->GetJob("c").ok());
  EXPECT_TRUE(store_->ListEvaluations("c").empty());
  EXPECT_EQ(store_->AppliedIndex(), 3u);  // the log moves on
  // An update of a job already holding a port still fits.
  ASSERT_TRUE(Apply(Register(ServiceJob("b", "b"), "e4", two)).ok());
  EXPECT_EQ(StoredListen("b"), 7001);
}

TEST_F(ServicePortsApplyTest, ApplyRejectsAPortOrNameAnotherLiveJobClaimed) {
  // Both passed the proposers' checks (neither saw the other); the log
  // orders them and the second is refused.
  ASSERT_TRUE(Apply(Register(ServiceJob("first", "first", 8080), "e1")).ok());
  Status st = Apply(Register(ServiceJob("second", "second", 8080), "e2"));
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find("port 8080 is already used by service \"first\" of job \"first\""), std::string::npos)
      << st.message();
  EXPECT_FALSE(store_->GetJob("second").ok());
  EXPECT_TRUE(store_->ListEvaluations("second").empty());
  EXPECT_EQ(StoredListen("first"), 8080);
  EXPECT_EQ(store_->ListJobs().size(), 1u);
  // The same service name on another port: refused too.
  st = Apply(Register(ServiceJob("third", "first", 8081), "e3"));
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find("already served by job \"first\""), std::string::npos) << st.message();
  // An update of a live job that would take another's port: refused, the
  // job stays as it was.
  ASSERT_TRUE(Apply(Register(ServiceJob("api", "api", 9000), "e4")).ok());
  st = Apply(Register(ServiceJob("api", "api", 8080), "e5"));
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(StoredListen("api"), 9000);
  EXPECT_EQ(store_->GetJob("api")->version(), 0u);
  // Once the holder stops, the port is free.
  v1::Command stop;
  stop.mutable_deregister_job()->set_job_id("first");
  stop.mutable_deregister_job()->mutable_eval()->set_id("e6");
  ASSERT_TRUE(Apply(stop).ok());
  EXPECT_TRUE(Apply(Register(ServiceJob("second", "second", 8080), "e7")).ok());
}

TEST_F(ServicePortsApplyTest, ClaimsFollowTheJobThroughStopAndSnapshotRestore) {
  ASSERT_TRUE(Apply(Register(ServiceJob("web", "web", 8080), "e1")).ok());
  ASSERT_TRUE(Apply(Register(ServiceJob("api", "api"), "e2")).ok());
  const int api_port = StoredListen("api");
  // The index answers what a new job would clash with, by name and by port.
  auto clash = store_->ConflictingClaims(ServiceJob("other", "web", api_port));
  EXPECT_EQ(clash.size(), 2u);
  EXPECT_TRUE(store_->ConflictingClaims(ServiceJob("web", "web", 8080)).empty());  // its own claim
  // A restored image answers the same (the claims travel in the image).
  auto image = store_->SerializeImage();
  ASSERT_TRUE(image.ok());
  auto other = std::move(*StateStore::Open(testing::TempDir("restored") + "/state.db"));
  ASSERT_TRUE(other->RestoreImage(*image).ok());
  EXPECT_EQ(other->ConflictingClaims(ServiceJob("other", "web", api_port)), clash);
  // A stopped job's claims go with it.
  v1::Command stop;
  stop.mutable_deregister_job()->set_job_id("web");
  stop.mutable_deregister_job()->mutable_eval()->set_id("e3");
  ASSERT_TRUE(Apply(stop).ok());
  EXPECT_EQ(store_->ConflictingClaims(ServiceJob("other", "web", 8080)).size(), 0u);
}

TEST_F(ServicePortsApplyTest, AnImageFromAnOlderMasterGetsItsClaimsRebuilt) {
  // An older master's database: the job, and no service_claims table.
  std::string dir = testing::TempDir("old");
  {
    auto old = std::move(*StateStore::Open(dir + "/state.db"));
    ASSERT_TRUE(old->Apply(1, Register(ServiceJob("web", "web", 8080), "e1")).ok());
  }
  {
    auto db = std::move(*sqlite::Db::Open(dir + "/state.db"));
    ASSERT_TRUE(db->Exec("DROP TABLE service_claims").ok());
  }  // the last close checkpoints the WAL into the file
  std::ifstream in(dir + "/state.db", std::ios::binary);
  std::string image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(image.size(), 100u);
  // Restored as a snapshot: the claims are rebuilt from the jobs.
  ASSERT_TRUE(store_->RestoreImage(image).ok());
  auto clash = store_->ConflictingClaims(ServiceJob("other", "web", 0));
  ASSERT_EQ(clash.size(), 1u);
  EXPECT_EQ(clash[0].job_id, "web");
  EXPECT_EQ(clash[0].port, 8080);
  // Opened in place after an upgrade: the same.
  auto reopened = std::move(*StateStore::Open(dir + "/state.db"));
  EXPECT_EQ(reopened->ConflictingClaims(ServiceJob("other", "web", 0)), clash);
}

// Through POST /v1/jobs on a one-master Raft log: the apply-time outcome
// reaches the waiting request.
class ServicePortsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = testing::TempDir("api");
    store_ = std::move(*StateStore::Open(dir + "/state.db"));
    log_ = testing::StartSingleLeader(dir, store_.get());
    ASSERT_NE(log_, nullptr);
    ApiDeps d;
    d.store = store_.get();
    d.log = log_.get();
    d.clock = SystemClock::Get();
    d.service_ports = {7100, 7107};
    RegisterApiRoutes(&router_, d);
  }
  void TearDown() override {
    if (log_) log_->Close();
  }
  HttpResponse Submit(const v1::Job& job) {
    HttpRequest req;
    req.method = "POST";
    req.target = "/v1/jobs";
    req.body = ToJson(job);
    EXPECT_TRUE(ParseTarget(req.target, &req.path, &req.query).ok());
    return AnswerWaiting([&](const HttpRequest& r) { return router_.Handle(r); }, req);
  }
  // Submits `jobs` all at once; returns the HTTP statuses in order.
  std::vector<int> SubmitTogether(const std::vector<v1::Job>& jobs) {
    std::vector<int> statuses(jobs.size());
    std::vector<std::thread> threads;
    std::atomic<int> ready{0};
    for (size_t i = 0; i < jobs.size(); ++i) {
      threads.emplace_back([&, i] {
        ++ready;
        while (ready.load() < static_cast<int>(jobs.size())) std::this_thread::yield();
        statuses[i] = Submit(jobs[i]).status;
      });
    }
    for (auto& t : threads) t.join();
    return statuses;
  }
  Router router_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<replication::RaftNode> log_;
};

TEST_F(ServicePortsApiTest, ConcurrentSubmitsGetDistinctPortsFromTheRange) {
  std::vector<v1::Job> jobs;
  for (int i = 0; i < 6; ++i) jobs.push_back(ServiceJob("j" + std::to_string(i), "s" + std::to_string(i)));
  for (int s : SubmitTogether(jobs)) EXPECT_EQ(s, 200);
  std::set<int> ports;
  for (const auto& j : store_->ListJobs()) {
    int p = ListenOf(j);
    EXPECT_GE(p, 7100);
    EXPECT_LE(p, 7107);
    ports.insert(p);
  }
  EXPECT_EQ(ports.size(), 6u);
  // Two more fit, the next one does not: 409 with the reason.
  EXPECT_EQ(Submit(ServiceJob("j6", "s6")).status, 200);
  EXPECT_EQ(Submit(ServiceJob("j7", "s7")).status, 200);
  auto resp = Submit(ServiceJob("j8", "s8"));
  EXPECT_EQ(resp.status, 409) << resp.body;
  EXPECT_NE(resp.body.find("7100-7107"), std::string::npos) << resp.body;
  EXPECT_FALSE(store_->GetJob("j8").ok());
}

TEST_F(ServicePortsApiTest, ConcurrentSubmitsOfOnePortLetExactlyOneIn) {
  for (int round = 0; round < 5; ++round) {
    std::vector<v1::Job> jobs;
    int port = 9000 + round;
    for (int i = 0; i < 4; ++i) {
      jobs.push_back(ServiceJob("r" + std::to_string(round) + "-" + std::to_string(i),
                                "r" + std::to_string(round) + "-" + std::to_string(i), port));
    }
    auto statuses = SubmitTogether(jobs);
    int ok = 0;
    for (int s : statuses) {
      if (s == 200) {
        ++ok;
      } else {
        EXPECT_EQ(s, 409);
      }
    }
    EXPECT_EQ(ok, 1) << "round " << round;
    int holders = 0;
    for (const auto& j : store_->ListJobs()) holders += ListenOf(j) == port;
    EXPECT_EQ(holders, 1) << "round " << round;
  }
}

}  // namespace
}  // namespace orch::master
