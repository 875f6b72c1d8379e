// Operator snapshots (issue 14 item 7) with real processes and orchctl:
// `orchctl operator snapshot save` of one cluster and `restore` into a new
// one -- three masters that all hold the image at one index, through a
// follower (forwarded to the leader), with indexes that never go back; and
// a single master with an agent, where the restored job moves from the old
// cluster's (silent) node to the new cluster's agent.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "cluster.h"
#include "common/http_client.h"
#include "common/json.h"
#include "masters.h"
#include "orch/v1/api.pb.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

CommandResult Orchctl(const std::string& addr, std::vector<std::string> args) {
  std::vector<std::string> argv{ORCHCTL_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, {{"ORCH_ADDR", addr}});
}

// The state index `client`'s master answers GET /v1/jobs with.
uint64_t JobsIndex(OrchClient& client, bool stale) {
  QueryOptions q;
  q.stale = stale;
  auto jobs = client.ListJobs(q);
  return jobs.ok() ? jobs->index : 0;
}

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ =
        ::testing::TempDir() + "/orch-snapshot-" + info->name() + "-" + std::to_string(getpid());
    // A sleep nothing else runs (seconds, with a fraction of our pid), so
    // TearDown can find any left behind.
    marker_ = "1000." + std::to_string(getpid());
    std::filesystem::create_directories(root_);
  }
  void TearDown() override {
    for (auto* c : {a_.get(), b_.get()}) {
      if (HasFailure() && c) std::cerr << c->Logs();
    }
    a_.reset();
    b_.reset();
    EXPECT_EQ(KillByMarker(marker_), 0) << "a task outlived the test";
    if (!HasFailure()) std::filesystem::remove_all(root_);
  }

  std::unique_ptr<MasterCluster> StartMasters(const std::string& name,
                                              std::vector<std::string> extra = {}) {
    std::vector<std::string> flags = kFastMasterFlags;
    flags.insert(flags.end(), extra.begin(), extra.end());
    auto c = std::make_unique<MasterCluster>(root_ + "/" + name, flags);
    c->Bootstrap({"m1", "m2", "m3"});
    EXPECT_FALSE(c->WaitLeader(30s).empty()) << "no leader in cluster " << name;
    return c;
  }

  std::string Follower(MasterCluster& c) {
    const std::string leader = c.WaitLeader(10s);
    for (const auto& id : c.Running()) {
      if (id != leader) return id;
    }
    return "";
  }

  std::string root_;
  std::string marker_;
  std::unique_ptr<MasterCluster> a_, b_;
};

TEST_F(SnapshotTest, ThreeMastersRestoreAnotherClustersImageAtOneIndex) {
  a_ = StartMasters("a");
  std::set<std::string> a_jobs;
  for (int i = 0; i < 40; ++i) {
    const std::string id = "a-" + std::to_string(i);
    ASSERT_TRUE(a_->Client(a_->WaitLeader(10s)).SubmitJobDocument(TinyJob(id)).ok()) << id;
    a_jobs.insert(id);
  }
  // Saved through a follower: a consistent read there (a read barrier).
  const std::string file = root_ + "/a.snap";
  auto save = Orchctl(a_->HttpUrl(Follower(*a_)), {"operator", "snapshot", "save", file});
  ASSERT_EQ(save.exit_code, 0) << save.out << save.err;
  EXPECT_NE(save.out.find("saved to " + file), std::string::npos) << save.out;
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the image holds secrets";
  const uint64_t a_index = JobsIndex(a_->Client(a_->WaitLeader(10s)), false);
  a_.reset();  // cluster a is gone

  b_ = StartMasters("b");
  ASSERT_TRUE(b_->Client(b_->WaitLeader(10s)).SubmitJobDocument(TinyJob("b-own")).ok());
  const uint64_t b_before = JobsIndex(b_->Client(b_->WaitLeader(10s)), false);
  ASSERT_LT(b_before, a_index) << "the test wants cluster b's log shorter than a's";

  // Restored through a follower, which forwards it to the leader.
  auto restore =
      Orchctl(b_->HttpUrl(Follower(*b_)), {"operator", "snapshot", "restore", file, "-o", "json"});
  ASSERT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  v1::SnapshotRestoreResponse resp;
  ASSERT_TRUE(FromJson(restore.out, &resp).ok()) << restore.out;
  EXPECT_EQ(resp.jobs(), a_jobs.size());
  EXPECT_GE(resp.snapshot_index(), 80u);  // 40 jobs, each a registration and an evaluation
  EXPECT_GT(resp.index(), resp.snapshot_index()) << "indexes went back past what a's clients saw";
  EXPECT_GT(resp.index(), b_before);

  // Every master holds a's jobs, and not b's own, at or past the restore.
  for (const auto& id : b_->All()) {
    std::set<std::string> got;
    uint64_t index = 0;
    bool same = WaitFor(
        [&] {
          auto ids = JobIds(b_->Client(id), true);
          if (!ids.ok()) return false;
          got = *ids;
          index = JobsIndex(b_->Client(id), true);
          return got == a_jobs && index >= resp.index();
        },
        20s);
    EXPECT_TRUE(same) << id << " lists " << got.size() << " jobs at index " << index << " (want "
                      << a_jobs.size() << " at " << resp.index() << ")";
  }
  // A blocking query from a's index space answers at once: b counts past it.
  QueryOptions q;
  q.index = a_index;
  q.wait = 30s;
  const auto asked = std::chrono::steady_clock::now();
  auto blocking = b_->Client(b_->WaitLeader(10s)).ListJobs(q);
  ASSERT_TRUE(blocking.ok()) << blocking.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 10s)
      << "a query at a's index " << a_index << " waited";
  EXPECT_GT(blocking->index, a_index);

  // New writes count on from the restore; restarts keep it all.
  auto later = b_->Client(b_->WaitLeader(10s)).SubmitJobDocument(TinyJob("b-later"));
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  auto job = b_->Client(b_->WaitLeader(10s)).GetJob("b-later");
  ASSERT_TRUE(job.ok());
  EXPECT_GT(job->value.job().create_index(), resp.index());
  const std::string leader = b_->WaitLeader(10s);
  b_->Kill(leader);
  ASSERT_FALSE(b_->WaitLeader(30s, leader).empty());
  b_->Start(leader);
  a_jobs.insert("b-later");
  for (const auto& id : b_->All()) {
    std::set<std::string> got;
    EXPECT_TRUE(WaitFor(
        [&] {
          auto ids = JobIds(b_->Client(id), true);
          return ids.ok() && (got = *ids) == a_jobs;
        },
        30s))
        << id << " lists " << got.size() << " jobs after the leader's kill -9 and restart";
    EXPECT_GE(JobsIndex(b_->Client(id), true), job->value.job().create_index()) << id;
  }
}

TEST_F(SnapshotTest, BadImagesAreRefusedAndChangeNothing) {
  b_ = StartMasters("b", {"--restore-limit", std::to_string(2 << 20)});
  const std::string leader_url = b_->HttpUrl(b_->WaitLeader(10s));
  ASSERT_TRUE(b_->Client(b_->WaitLeader(10s)).SubmitJobDocument(TinyJob("kept")).ok());
  HttpClient http;
  struct Bad {
    std::string name, body, header, expect;
  };
  std::string not_ours(4096, '\0');
  std::memcpy(not_ours.data(), "SQLite format 3", 16);
  const std::vector<Bad> bad = {
      {"empty", "", "", "too short"},
      {"text", std::string(10000, 'x'), "", "not a SQLite database"},
      {"damaged header", not_ours, "", "snapshot image"},
      {"sha mismatch", std::string(10000, 'x'), "00", "SHA-256"},
  };
  for (const auto& b : bad) {
    HttpClient::Headers h;
    if (!b.header.empty()) h.emplace_back("X-Orch-Snapshot-Sha256", b.header);
    auto resp = http.Do("PUT", leader_url + "/v1/operator/snapshot", b.body, 10s, h);
    ASSERT_TRUE(resp.ok()) << b.name;
    EXPECT_EQ(resp->status, 400) << b.name << ": " << resp->body;
    EXPECT_NE(resp->body.find(b.expect), std::string::npos) << b.name << ": " << resp->body;
  }
  // Past --restore-limit (2 MiB here): 413 before the body is read.
  auto huge = http.Do("PUT", leader_url + "/v1/operator/snapshot", std::string(3 << 20, 'x'), 10s);
  ASSERT_TRUE(huge.ok());
  EXPECT_EQ(huge->status, 413) << huge->body;
  // Any other route keeps --body-limit (1 MiB).
  auto big_job = http.Do("POST", leader_url + "/v1/jobs", std::string(2 << 20, ' '), 10s);
  ASSERT_TRUE(big_job.ok());
  EXPECT_EQ(big_job->status, 413) << big_job->body;
  auto ids = JobIds(b_->Client(b_->WaitLeader(10s)), false);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, std::set<std::string>{"kept"});
}

TEST_F(SnapshotTest, RestoredJobMovesToTheNewClustersAgent) {
  const std::string job_file = root_ + "/keep.json";
  std::ofstream(job_file) << ExecJob("keep", "service", "/bin/sleep", {marker_});
  const std::string file = root_ + "/a.snap";
  {
    LocalCluster a(root_ + "/a");
    a.StartMaster();
    a.StartAgent("a1");
    ASSERT_TRUE(a.WaitReady(1, 20s)) << a.Logs();
    auto run = a.Orchctl({"run", "-f", job_file});
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err << a.Logs();
    auto save = a.Orchctl({"operator", "snapshot", "save", file});
    ASSERT_EQ(save.exit_code, 0) << save.out << save.err;
    ASSERT_TRUE(StopJobAndWait(a.client(), "keep", 30s)) << a.Logs();
  }  // cluster a and its agent are gone

  LocalCluster b(root_ + "/b");
  b.StartMaster();
  b.StartAgent("b1");
  ASSERT_TRUE(b.WaitReady(1, 20s)) << b.Logs();
  auto restore = b.Orchctl({"operator", "snapshot", "restore", file});
  ASSERT_EQ(restore.exit_code, 0) << restore.out << restore.err;
  EXPECT_NE(restore.out.find("1 job(s), 1 node(s), 1 allocation(s)"), std::string::npos)
      << restore.out;

  // The image knows a1, not b1: b1's next heartbeat is refused and it
  // registers again. a1 never heartbeats here: it goes down, its allocation
  // is lost, and the job runs on b1.
  std::string b1;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto nodes = b.client().ListNodes();
        if (!nodes.ok()) return false;
        for (const auto& n : nodes->value.nodes()) {
          if (n.name() == "b1" && n.status() == v1::Node::READY) b1 = n.id();
        }
        return !b1.empty();
      },
      20s))
      << "b1 did not register again after the restore\n"
      << b.Logs();
  bool moved = WaitFor(
      [&] {
        auto allocs = b.client().JobAllocations("keep");
        if (!allocs.ok()) return false;
        for (const auto& al : allocs->value.allocations()) {
          if (al.node_id() == b1 && al.client_status() == v1::Allocation::RUNNING) return true;
        }
        return false;
      },
      40s);
  EXPECT_TRUE(moved) << "job keep never ran on b1 after the restore\n" << b.Logs();
  EXPECT_TRUE(StopJobAndWait(b.client(), "keep", 30s)) << b.Logs();
}

}  // namespace
}  // namespace orch::e2e
