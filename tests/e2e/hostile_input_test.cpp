// Hostile input against real processes (issue 10): the review's documents
// and registrations are replayed over HTTP against a real orch-master with
// a real agent. Each must get a 4xx and change nothing; afterwards the
// master is alive, its memory stayed bounded and ordinary work is still
// scheduled and run. (The Raft port's cases: HostileRaftTest; the HTTP
// server's: the slow-loris and connection-cap tests.)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "cluster.h"
#include "common/http_client.h"
#include "common/json.h"
#include "master/raft/cluster_id.h"
#include "master/replication/transport_frame.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

long RssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));  // peak resident set
  }
  return -1;
}

constexpr const char* kTask =
    "    tasks:\n      - {name: t, driver: exec, command: /bin/sleep, args: [\"300\"], resources: {cpu: 10, memory: 8}}\n";

std::string Job(const std::string& id, const std::string& group) { return "id: " + id + "\ngroups:\n  - name: g\n" + group; }

class HostileInputE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = ::testing::TempDir() + "/orch-hostile-e2e-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(root_);
    cluster_ = std::make_unique<LocalCluster>(root_);
    cluster_->StartMaster();
    cluster_->StartAgent("n1");
    ASSERT_TRUE(cluster_->WaitReady(1, 20s)) << cluster_->Logs();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << cluster_->Logs();
    (void)cluster_->client().StopJob("ok");
    (void)cluster_->client().StopJob("re");
    WaitFor(
        [&] {
          auto a = cluster_->client().ListAllocations();
          if (!a.ok()) return true;
          for (const auto& x : a->value.allocations()) {
            if (x.client_status() == v1::Allocation::RUNNING) return false;
          }
          return true;
        },
        15s);
    cluster_.reset();
  }
  // Sends `body`; expects an error status in [400, 500) and no new state.
  int Refused(const std::string& path, const std::string& body) {
    auto jobs_before = cluster_->client().ListJobs();
    auto nodes_before = cluster_->client().ListNodes();
    auto r = http_.Post(cluster_->master_url() + path, body);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return 0;
    EXPECT_GE(r->status, 400) << r->body;
    EXPECT_LT(r->status, 500) << r->body;
    auto jobs_after = cluster_->client().ListJobs();
    auto nodes_after = cluster_->client().ListNodes();
    EXPECT_EQ(jobs_after->value.jobs_size(), jobs_before->value.jobs_size());
    EXPECT_EQ(nodes_after->value.nodes_size(), nodes_before->value.nodes_size());
    return r->status;
  }

  std::string root_;
  std::unique_ptr<LocalCluster> cluster_;
  HttpClient http_;
};

TEST_F(HostileInputE2ETest, TheReviewsDocumentsAreRefusedAndTheMasterKeepsWorking) {
  // count: 2^31-1 made every leader in turn build 2^31 slots and abort.
  EXPECT_EQ(Refused("/v1/jobs", Job("huge", "    count: 2147483647\n" + std::string(kTask))), 400);
  // Two tasks of 2^62 millicores overflowed the node's allocated cpu.
  EXPECT_EQ(Refused("/v1/jobs",
                    Job("wrap", "    count: 1\n    tasks:\n"
                                "      - {name: a, driver: exec, command: /bin/true, resources: {cpu: 4611686018427387904, memory: 8}}\n"
                                "      - {name: b, driver: exec, command: /bin/true, resources: {cpu: 4611686018427387904, memory: 8}}\n")),
            400);
  // memory*1024*1024 overflowed in the drivers.
  EXPECT_EQ(Refused("/v1/jobs", Job("mem", "    count: 1\n    tasks:\n      - {name: a, driver: exec, command: /bin/true, "
                                           "resources: {cpu: 1, memory: 9007199254740992}}\n")),
            400);
  // An alias bomb: 120 KB standing for 20 MB of job (a 52 KB one took 554 MiB).
  std::string bomb = "id: bomb\ngroups:\n  - &g0 {name: g, count: 1, tasks: [{name: t, driver: exec, command: /bin/true, "
                     "resources: {cpu: 1, memory: 1}, args: [\"" + std::string(900, 'x') + "\"]}]}\n";
  for (int i = 0; i < 20000; ++i) bomb += "  - *g0\n";
  EXPECT_EQ(Refused("/v1/jobs", bomb), 400);
  // A body past the 1 MiB limit (the review's 19 MiB job): 413, or the
  // connection closed while curl still sends (the server answers at once).
  {
    auto r = http_.Post(cluster_->master_url() + "/v1/jobs",
                        Job("big", "    count: 1\n    tasks:\n      - {name: t, driver: exec, command: /bin/true, "
                                   "resources: {cpu: 1, memory: 1}, args: [\"" + std::string(19 << 20, 'x') + "\"]}\n"));
    if (r.ok()) {
      EXPECT_EQ(r->status, 413) << r->body;
    }
    auto jobs = cluster_->client().ListJobs();
    ASSERT_TRUE(jobs.ok());
    EXPECT_EQ(jobs->value.jobs_size(), 0);
  }
  // A node with a 50 KB label (which std::regex could not survive).
  EXPECT_EQ(Refused("/v1/nodes/register",
                    "{\"node\": {\"name\": \"evil\", \"address\": \"http://127.0.0.1:1\", \"capacity\": {\"cpu\": 1000, "
                    "\"memory\": 1024}, \"attributes\": {\"labels\": {\"zone\": \"" + std::string(50000, 'a') + "\"}}}}"),
            400);
  // A backtracking-hungry pattern is accepted (RE2 runs it in linear time)
  // and the job is blocked on a node that has no such label.
  auto re = cluster_->client().SubmitJobDocument(
      Job("re", "    count: 1\n    constraints: [{attribute: \"${meta.zone}\", operator: regexp, value: \"(a+)+$\"}]\n" +
                    std::string(kTask)));
  ASSERT_TRUE(re.ok()) << re.status().ToString();

  // Still alive, memory bounded, ordinary work placed and run.
  auto health = http_.Get(cluster_->master_url() + "/healthz");
  ASSERT_TRUE(health.ok() && health->status == 200);
  long rss = RssKb(cluster_->master_pid());
  EXPECT_GT(rss, 0);
  EXPECT_LT(rss, 400 * 1024) << "master peak RSS " << rss << " KiB";
  auto ok = cluster_->client().SubmitJobDocument(Job("ok", "    count: 2\n" + std::string(kTask)));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(WaitFor(
      [&] {
        auto a = cluster_->client().JobAllocations("ok");
        if (!a.ok()) return false;
        int running = 0;
        for (const auto& x : a->value.allocations()) running += x.client_status() == v1::Allocation::RUNNING;
        return running == 2;
      },
      30s));
  auto jobs = cluster_->client().ListJobs();
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(jobs->value.jobs_size(), 2);  // "re" and "ok" only
  auto detail = cluster_->client().GetJob("re");
  ASSERT_TRUE(detail.ok());
  EXPECT_EQ(detail->value.allocations_size(), 0);
}

// A connection to the master's Raft port, as a stranger would open it.
class RaftConn {
 public:
  explicit RaftConn(int port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~RaftConn() { close(fd_); }
  bool ok() const { return ok_; }
  void Send(const std::string& bytes) { (void)::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL); }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

std::string Frame(uint64_t from, const orch::v1::Message& m, uint64_t cluster_id = 0) {
  std::string out;
  orch::replication::AppendMessageFrame({from, cluster_id}, m, 64 << 20, &out);
  return out;
}

TEST_F(HostileInputE2ETest, StrangersOnTheRaftPortChangeNothing) {
  auto before = cluster_->client().ListJobs();
  ASSERT_TRUE(before.ok());
  // The review's 30-byte frame: a heartbeat from nobody with term 1000 and
  // commit 2^40 (it aborted the master).
  orch::v1::Message hb;
  hb.set_type(orch::v1::Message::MSG_HEARTBEAT);
  hb.set_from(999);
  hb.set_to(1);
  hb.set_term(1000);
  hb.set_commit(uint64_t{1} << 40);
  std::string frame = Frame(999, hb);
  EXPECT_EQ(frame.size(), 30u);
  // The cluster id is no secret (GET /v1/cluster/members): forged frames
  // carrying it must be stopped by the membership and snapshot checks
  // behind the transport, those without it by the transport itself.
  auto members = cluster_->client().ListMembers();
  ASSERT_TRUE(members.ok()) << members.status().ToString();
  uint64_t cluster_id = 0;
  ASSERT_TRUE(orch::raft::ParseClusterId(members->cluster_id(), &cluster_id)) << members->cluster_id();
  for (uint64_t cid : {uint64_t{0}, cluster_id}) {
    RaftConn c(cluster_->raft_port());
    ASSERT_TRUE(c.ok());
    c.Send(cid == 0 ? frame : Frame(999, hb, cid));
    // A forged append from nobody that would register a job.
    orch::v1::Message app;
    app.set_type(orch::v1::Message::MSG_APP);
    app.set_from(999);
    app.set_term(1000);
    app.set_index(1000);
    app.set_log_term(1000);
    app.set_commit(1001);
    auto* e = app.add_entries();
    e->set_index(1001);
    e->set_term(1000);
    e->set_data(std::string("\x0a\x05forged"));
    c.Send(Frame(999, app, cid));
    // A snapshot claiming to come from a member, holding garbage.
    orch::v1::Message snap;
    snap.set_type(orch::v1::Message::MSG_SNAP);
    snap.set_from(1);
    snap.set_term(1000);
    snap.mutable_snapshot()->mutable_metadata()->set_index(5000);
    snap.mutable_snapshot()->mutable_metadata()->set_term(1000);
    snap.mutable_snapshot()->set_data(std::string(8192, 'x'));
    c.Send(Frame(1, snap, cid));
  }
  // 60 connections each announcing a 16 MiB frame (a master went to ~1 GiB).
  std::string announce(8, '\0');
  announce[0] = 0x00;
  announce[1] = static_cast<char>(0xff);
  announce[2] = static_cast<char>(0xff);
  announce[3] = static_cast<char>(0xf0);
  std::vector<std::unique_ptr<RaftConn>> flood;
  for (int i = 0; i < 60; ++i) {
    flood.push_back(std::make_unique<RaftConn>(cluster_->raft_port()));
    flood.back()->Send(announce + std::string(1000, 'x'));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // Alive, bounded, unchanged, and still taking work.
  auto health = http_.Get(cluster_->master_url() + "/healthz");
  ASSERT_TRUE(health.ok() && health->status == 200) << cluster_->Logs();
  long rss = RssKb(cluster_->master_pid());
  EXPECT_LT(rss, 300 * 1024) << "master peak RSS " << rss << " KiB";
  auto after = cluster_->client().ListJobs();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->value.jobs_size(), before->value.jobs_size());
  flood.clear();
  auto ok = cluster_->client().SubmitJobDocument(Job("ok", "    count: 1\n" + std::string(kTask)));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_TRUE(WaitFor(
      [&] {
        auto a = cluster_->client().JobAllocations("ok");
        return a.ok() && a->value.allocations_size() == 1 &&
               a->value.allocations(0).client_status() == v1::Allocation::RUNNING;
      },
      30s));
}

}  // namespace
}  // namespace orch::e2e
