// Fault tests of the masters' Raft quorum with real orch-master processes on
// loopback: leaders killed under write load, members restarted, lagging
// members brought back through a snapshot, membership grown and shrunk,
// quorum lost, leadership transferred. What is asserted is what a user
// notices: acknowledged writes are never lost, writes keep being
// acknowledged, and without a quorum a write fails fast with 503.
#include "masters.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <thread>

#include "common/http_client.h"
#include "common/json.h"
#include "orch/v1/api.pb.h"

namespace orch::e2e {
namespace {

using namespace std::chrono_literals;

std::string Sample(const std::set<std::string>& ids, std::size_t n = 5) {
  std::string out;
  for (const auto& id : ids) {
    if (n-- == 0) return out + " ...";
    out += (out.empty() ? "" : ", ") + id;
  }
  return out;
}

std::set<std::string> Minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::set<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

class MastersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    // The pid keeps concurrent runs (two build dirs, ctest -j) apart.
    root_ = ::testing::TempDir() + "/orch-masters-" + info->name() + "-" + std::to_string(getpid());
  }

  void TearDown() override {
    if (load_) {
      load_->Stop();
      std::cerr << load_->Summary() << "\n";
    }
    if (HasFailure() && cluster_) std::cerr << cluster_->Logs();
    load_.reset();
    cluster_.reset();
    // Whatever way the test ended (an ASSERT returns early), no task it
    // started outlives it.
    if (int left = KillByMarker(root_ + "/"); left > 0)
      std::cerr << left << " leftover process(es) killed\n";
    if (!HasFailure() && !getenv("ORCH_E2E_KEEP")) std::filesystem::remove_all(root_);
  }

  // Starts m1..mN as a new cluster and waits for a leader.
  void StartCluster(int n, std::vector<std::string> extra_flags = {}) {
    std::vector<std::string> flags = kFastMasterFlags;
    flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());
    cluster_ = std::make_unique<MasterCluster>(root_, flags);
    std::vector<std::string> ids;
    for (int i = 1; i <= n; ++i) ids.push_back("m" + std::to_string(i));
    cluster_->Bootstrap(ids);
    leader_ = cluster_->WaitLeader(30s);
    ASSERT_FALSE(leader_.empty()) << "no leader elected among " << n << " new masters";
    cluster_->Note("leader is " + leader_);
  }

  std::string AFollower() {
    for (const auto& id : cluster_->Running()) {
      if (id != leader_) return id;
    }
    return "";
  }

  void StartLoad(const std::string& prefix, int threads = 2) {
    cluster_->Note("starting the write load");
    load_ = std::make_unique<WriteLoad>(cluster_.get(), prefix, threads);
  }

  void StopLoad() {
    cluster_->Note("stopping the write load");
    load_->Stop();
    cluster_->Note("write load stopped: " + load_->Summary());
  }

  // Load keeps being acknowledged after `what` happened.
  void ExpectAckAfter(const std::string& what) {
    std::size_t n = load_->acked();
    EXPECT_TRUE(load_->WaitAcked(n + 1, 15s))
        << "no write acknowledged after " << what << "; " << load_->Summary();
  }

  // A linearizable GET /v1/jobs on `id` lists every job in `want`.
  void ExpectHasAll(const std::string& id, const std::set<std::string>& want) {
    Result<std::set<std::string>> got = Status::Unavailable("not asked yet");
    // A read right after an election may be refused (no leader yet): retry.
    WaitFor([&] { return (got = JobIds(cluster_->Client(id), false)).ok(); }, 20s);
    ASSERT_TRUE(got.ok()) << "linearizable GET /v1/jobs on " << id << ": "
                          << got.status().ToString();
    auto missing = Minus(want, *got);
    EXPECT_TRUE(missing.empty()) << id << " lists " << got->size() << " jobs but misses "
                                 << missing.size() << " of " << want.size()
                                 << " acknowledged ones, e.g. " << Sample(missing);
  }

  // `id`'s stale read lists exactly the jobs the leader lists.
  void ExpectConverges(const std::string& id, std::chrono::milliseconds timeout) {
    std::set<std::string> theirs, ours;
    std::string leader;
    bool same = WaitFor(
        [&] {
          leader = cluster_->LeaderNow();
          if (leader.empty()) return false;
          auto l = JobIds(cluster_->Client(leader), false);
          auto s = JobIds(cluster_->Client(id), true);
          if (!l.ok() || !s.ok()) return false;
          theirs = *l;
          ours = *s;
          return theirs == ours;
        },
        timeout);
    EXPECT_TRUE(same) << id << " did not converge: it lists " << ours.size() << " jobs, leader "
                      << leader << " lists " << theirs.size()
                      << "; missing: " << Sample(Minus(theirs, ours))
                      << "; extra: " << Sample(Minus(ours, theirs));
  }

  // A membership request sent to `via`, retried while the masters say to
  // retry (an election, or the previous change still being applied). A
  // retry that finds the change made (an earlier attempt committed after
  // all) counts as done.
  Status ChangeMembership(const std::string& via, const std::string& method,
                          const std::string& path, const std::string& body = "") {
    cluster_->Note(method + " " + path + " " + body + " via " + via);
    Status st;
    bool retry = false;
    WaitFor(
        [&] {
          auto resp = cluster_->Client(via).Raw(method, path, body, 20s);
          st = resp.ok() ? Status::Ok() : resp.status();
          if (retry &&
              (st.code() == StatusCode::kAlreadyExists || st.code() == StatusCode::kNotFound)) {
            cluster_->Note(method + " " + path + ": already done: " + st.ToString());
            st = Status::Ok();
          }
          retry = true;
          return st.code() != StatusCode::kUnavailable &&
                 st.code() != StatusCode::kFailedPrecondition;
        },
        20s);
    cluster_->Note(method + " " + path + ": " + st.ToString());
    return st;
  }

  Result<v1::MemberList> Members(const std::string& id) {
    auto resp = cluster_->Client(id).Raw("GET", "/v1/cluster/members", "", 5s);
    if (!resp.ok()) return resp.status();
    v1::MemberList list;
    ORCH_RETURN_IF_ERROR(FromJson(resp->body, &list));
    return list;
  }

  // Voter ids, as the current leader sees them.
  std::set<std::string> Voters() {
    std::string leader = cluster_->LeaderNow();
    if (leader.empty()) return {};
    auto list = Members(leader);
    if (!list.ok()) return {};
    std::set<std::string> out;
    for (const auto& m : list->members()) {
      if (m.role() == v1::Member::VOTER) out.insert(m.id());
    }
    return out;
  }

  // Whether `id`'s replicated log is within `slack` entries of the leader's.
  bool CaughtUp(const std::string& id, uint64_t slack) {
    std::string leader = cluster_->LeaderNow();
    if (leader.empty()) return false;
    auto list = Members(leader);
    if (!list.ok()) return false;
    uint64_t lead_match = 0, match = 0;
    bool found = false;
    for (const auto& m : list->members()) {
      if (m.id() == leader) lead_match = m.match_index();
      if (m.id() == id) match = m.match_index(), found = true;
    }
    return found && match > 0 && match + slack >= lead_match;
  }

  std::string root_;
  std::unique_ptr<MasterCluster> cluster_;
  std::unique_ptr<WriteLoad> load_;
  std::string leader_;
};

TEST_F(MastersTest, KillLeaderUnderLoadLosesNoAcknowledgedWrite) {
  StartCluster(3);
  // More writers than elsewhere: more writes in flight when the leader dies.
  StartLoad("kill", 6);
  ASSERT_TRUE(load_->WaitAcked(50, 30s)) << load_->Summary();

  // Three rounds: each kills the current leader, and brings it back as a
  // follower before the next round (whose quorum needs it).
  std::string leader = leader_;
  for (int round = 1; round <= 3; ++round) {
    cluster_->Kill(leader);
    std::string next = cluster_->WaitLeader(20s, leader);
    ASSERT_FALSE(next.empty()) << "round " << round << ": no new leader after killing " << leader;
    EXPECT_NE(next, leader);
    cluster_->Note("round " + std::to_string(round) + ": leader is now " + next);
    std::size_t at_election = load_->acked();
    EXPECT_TRUE(load_->WaitAcked(at_election + 20, 30s))
        << "round " << round << ": writes are not acknowledged under the new leader " << next
        << "; " << load_->Summary();
    cluster_->Start(leader);
    leader = next;
  }
  StopLoad();

  std::set<std::string> acked = load_->AckedIds();
  for (const auto& id : cluster_->Running()) ExpectHasAll(id, acked);
}

TEST_F(MastersTest, RestartedMasterCatchesUp) {
  StartCluster(3);
  StartLoad("restart");
  ASSERT_TRUE(load_->WaitAcked(20, 30s)) << load_->Summary();

  std::string follower = AFollower();
  cluster_->Kill(follower);
  std::size_t at_kill = load_->acked();
  ASSERT_TRUE(load_->WaitAcked(at_kill + 200, 60s))
      << "the two remaining masters stopped acknowledging; " << load_->Summary();
  cluster_->Start(follower);
  // It catches up while writes go on, then with the load stopped, converges.
  ExpectAckAfter("restarting " + follower);
  StopLoad();
  ExpectConverges(follower, 30s);
  ExpectHasAll(follower, load_->AckedIds());
}

TEST_F(MastersTest, LaggingMemberComesBackThroughASnapshot) {
  StartCluster(3, {"--snapshot-entries", "50"});
  std::string follower = AFollower();
  EXPECT_EQ(cluster_->Stop(follower), 0) << follower << " did not exit cleanly on SIGTERM";

  // Far more entries than the log keeps (50 between snapshots, 25 kept).
  StartLoad("snap");
  ASSERT_TRUE(load_->WaitAcked(300, 90s)) << load_->Summary();
  StopLoad();

  cluster_->Start(follower);
  ExpectConverges(follower, 30s);
  EXPECT_NE(ReadFile(cluster_->LogPath(follower)).find("installed snapshot"), std::string::npos)
      << follower << " converged without installing a snapshot";
  ExpectHasAll(follower, load_->AckedIds());
}

// A joining master adopts the cluster's id; one whose data dir was wiped
// cannot come back under its old id (it would vote with a log it lost)
// until it was removed from the configuration.
TEST_F(MastersTest, AWipedMemberMustBeRemovedBeforeItRejoins) {
  StartCluster(3);
  std::string leader = cluster_->WaitLeader(10s);
  ASSERT_FALSE(leader.empty());
  cluster_->StartJoiner("m4", cluster_->HttpUrl(leader));
  const std::string add = R"({"id":"m4","raft_address":")" + cluster_->RaftAddress("m4") +
                          R"(","http_address":")" + cluster_->HttpUrl("m4") +
                          R"(","learner":true})";
  Status st = ChangeMembership(leader, "POST", "/v1/cluster/members", add);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(WaitFor([&] { return CaughtUp("m4", 50); }, 30s)) << "m4 never caught up";
  // m4 may still be starting its REST server once its log caught up.
  Result<v1::MemberList> ours = Members(leader), theirs = Status::Unavailable("not asked");
  ASSERT_TRUE(WaitFor([&] { return (theirs = Members("m4")).ok(); }, 10s))
      << theirs.status().ToString();
  ASSERT_TRUE(ours.ok()) << ours.status().ToString();
  EXPECT_EQ(ours->cluster_id().size(), 16u);
  EXPECT_EQ(theirs->cluster_id(), ours->cluster_id());

  cluster_->Stop("m4");
  std::filesystem::remove_all(root_ + "/m4");
  cluster_->Start("m4");
  ASSERT_TRUE(WaitFor(
      [&] {
        return ReadFile(cluster_->LogPath("m4")).find("remove it first") != std::string::npos;
      },
      30s))
      << ReadFile(cluster_->LogPath("m4"));
  EXPECT_NE(cluster_->Stop("m4"), 0);

  leader = cluster_->WaitLeader(10s);
  st = ChangeMembership(leader, "DELETE", "/v1/cluster/members/m4");
  ASSERT_TRUE(st.ok()) << st.ToString();
  cluster_->Start("m4");
  leader = cluster_->WaitLeader(10s);
  st = ChangeMembership(leader, "POST", "/v1/cluster/members", add);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(WaitFor([&] { return CaughtUp("m4", 50); }, 30s))
      << "m4 never caught up after re-adding";
}

TEST_F(MastersTest, GrowThreeToFiveAndShrinkBackUnderLoad) {
  StartCluster(3);
  StartLoad("grow");
  ASSERT_TRUE(load_->WaitAcked(20, 30s)) << load_->Summary();

  for (const std::string id : {"m4", "m5"}) {
    std::string leader = cluster_->WaitLeader(10s);
    ASSERT_FALSE(leader.empty());
    cluster_->StartJoiner(id, cluster_->HttpUrl(leader));
    std::string add = R"({"id":")" + id + R"(","raft_address":")" + cluster_->RaftAddress(id) +
                      R"(","http_address":")" + cluster_->HttpUrl(id) + R"(","learner":true})";
    Status st = ChangeMembership(leader, "POST", "/v1/cluster/members", add);
    ASSERT_TRUE(st.ok()) << "adding " << id << " as a learner: " << st.ToString();
    ExpectAckAfter("adding " + id + " as a learner");
    ASSERT_TRUE(WaitFor([&] { return CaughtUp(id, 50); }, 30s))
        << id << " never caught up with the leader";
    // Through a follower this time: it forwards to the leader.
    std::string via = cluster_->LeaderNow() == "m1" ? "m2" : "m1";
    st = ChangeMembership(via, "POST", "/v1/cluster/members",
                          R"({"id":")" + id + R"(","promote":true})");
    ASSERT_TRUE(st.ok()) << "promoting " << id << ": " << st.ToString();
    ExpectAckAfter("promoting " + id);
  }
  std::set<std::string> five = {"m1", "m2", "m3", "m4", "m5"};
  std::set<std::string> voters;
  EXPECT_TRUE(WaitFor([&] { return (voters = Voters()) == five; }, 10s))
      << "voters: " << Sample(voters, 9);

  // Remove a follower and then the leader, as long as both are originals.
  std::string leader = cluster_->WaitLeader(10s);
  ASSERT_FALSE(leader.empty());
  std::vector<std::string> removed;
  for (const std::string id : {"m1", "m2", "m3"}) {
    if (id != leader && removed.empty()) removed.push_back(id);
  }
  removed.push_back(leader == "m4" || leader == "m5" ? (removed[0] == "m1" ? "m2" : "m1") : leader);
  for (const auto& id : removed) {
    load_->Exclude(id);
    Status st = ChangeMembership("m4", "DELETE", "/v1/cluster/members/" + id);
    ASSERT_TRUE(st.ok()) << "removing " << id << ": " << st.ToString();
    ExpectAckAfter("removing " + id);
  }
  std::set<std::string> remaining = Minus(five, {removed.begin(), removed.end()});
  EXPECT_TRUE(WaitFor([&] { return (voters = Voters()) == remaining; }, 10s))
      << "voters: " << Sample(voters, 9) << ", want " << Sample(remaining, 9);
  ExpectAckAfter("shrinking to " + Sample(remaining, 9));
  StopLoad();

  std::set<std::string> acked = load_->AckedIds();
  for (const auto& id : remaining) ExpectHasAll(id, acked);
  for (const auto& id : removed) {
    EXPECT_EQ(cluster_->Stop(id), 0) << "removed " << id << " did not exit cleanly";
  }
}

TEST_F(MastersTest, NoQuorumMeansFast503) {
  StartCluster(3);
  std::set<std::string> written;
  for (int i = 0; i < 5; ++i) {
    std::string id = "before-" + std::to_string(i);
    auto r = cluster_->Client(leader_).SubmitJobDocument(TinyJob(id));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    written.insert(id);
  }
  // The leader survives: it has to notice on its own that it lost its quorum.
  std::string survivor = leader_;
  std::vector<std::string> killed;
  for (const auto& id : cluster_->Running()) {
    if (id != survivor) killed.push_back(id);
  }
  for (const auto& id : killed) cluster_->Kill(id);

  HttpClient http;
  std::string url = cluster_->HttpUrl(survivor);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = http.Get(url + "/v1/cluster/leader", 3s);
        return r.ok() && r->status == 503;
      },
      10s))
      << survivor << " still reports a leader with two of three masters dead";
  // The write's own timeout is 10s; an answer must come well before it.
  for (int i = 0; i < 3; ++i) {
    auto r = http.Do("POST", url + "/v1/jobs", TinyJob("during-" + std::to_string(i)), 5s);
    ASSERT_TRUE(r.ok()) << "no answer to a write without a quorum: " << r.status().ToString();
    EXPECT_EQ(r->status, 503) << r->body;
    Status st = StatusFromErrorJson(r->status, r->body);
    EXPECT_FALSE(st.message().empty()) << "503 without a message: " << r->body;
  }
  auto stale = JobIds(cluster_->Client(survivor), true);
  ASSERT_TRUE(stale.ok()) << "stale read without a quorum: " << stale.status().ToString();
  EXPECT_TRUE(Minus(written, *stale).empty())
      << "stale read misses " << Sample(Minus(written, *stale));

  cluster_->Start(killed[0]);
  Status last;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto r = cluster_->Client(survivor).SubmitJobDocument(TinyJob("after"));
        last = r.ok() ? Status::Ok() : r.status();
        return r.ok();
      },
      30s))
      << "writes still fail with a quorum back: " << last.ToString();
}

TEST_F(MastersTest, LeaderTransfer) {
  StartCluster(3);
  StartLoad("transfer");
  ASSERT_TRUE(load_->WaitAcked(20, 30s)) << load_->Summary();
  std::string target = AFollower();
  // Through the other follower: it forwards the request to the leader.
  std::string via;
  for (const auto& id : cluster_->Running()) {
    if (id != target && id != leader_) via = id;
  }
  cluster_->Note("transferring the leadership to " + target + " via " + via);
  auto r = cluster_->Client(via).Raw("POST", "/v1/cluster/transfer-leader",
                                     R"({"id":")" + target + R"("})", 20s);
  cluster_->Note("transfer answered: " + (r.ok() ? std::string("ok") : r.status().ToString()));
  ASSERT_TRUE(r.ok()) << "transfer to " << target << " via " << via << ": "
                      << r.status().ToString();
  for (const auto& id : cluster_->Running()) {
    std::string seen;
    EXPECT_TRUE(WaitFor(
        [&] {
          auto resp = cluster_->Client(id).Raw("GET", "/v1/cluster/leader", "", 3s);
          v1::LeaderResponse lr;
          if (resp.ok() && FromJson(resp->body, &lr).ok()) seen = lr.leader_id();
          return seen == target;
        },
        10s))
        << id << " sees leader " << seen << ", not " << target;
  }
  ExpectAckAfter("moving the leadership to " + target);
  StopLoad();
  std::set<std::string> acked = load_->AckedIds();
  for (const auto& id : cluster_->Running()) ExpectHasAll(id, acked);
}

// The whole system across a master failover: an agent keeps its node ready
// and its task running while the leading master dies, and the new leader
// schedules new work onto it.
TEST_F(MastersTest, AgentsAndTheirWorkSurviveALeaderFailover) {
  StartCluster(3);
  const std::string masters = cluster_->HttpUrlList();
  std::string agent_dir = root_ + "/agent";
  Subprocess agent({ORCH_AGENT_BIN, "--name", "a1", "--data-dir", agent_dir, "--masters", masters, "--http",
                    "127.0.0.1:" + std::to_string(FreePort()), "--drivers", "exec"},
                   root_ + "/agent.log");
  OrchClient any(cluster_->HttpUrls());
  auto alloc_of = [&](const std::string& job) -> std::optional<v1::Allocation> {
    auto allocs = any.ListAllocations(job);
    if (!allocs.ok() || allocs->value.allocations_size() == 0) return std::nullopt;
    return allocs->value.allocations(0);
  };
  std::string hello = ReadFile(std::string(ORCH_SOURCE_DIR) + "/examples/hello.yaml");
  ASSERT_TRUE(WaitFor([&] { return any.SubmitJobDocument(hello).ok(); }, 20s));
  pid_t pid = 0;
  ASSERT_TRUE(WaitFor([&] {
    auto a = alloc_of("hello");
    if (!a || a->client_status() != v1::Allocation::RUNNING || a->task_states_size() == 0) return false;
    pid = a->task_states(0).pid();
    return pid > 0;
  }, 30s)) << ReadFile(root_ + "/agent.log");
  std::string node_id = alloc_of("hello")->node_id();

  std::string old = cluster_->LeaderNow();
  cluster_->Kill(old);
  std::string next = cluster_->WaitLeader(20s, old);
  ASSERT_FALSE(next.empty());
  cluster_->Note("killed " + old + ", leader is now " + next);

  // Longer than the heartbeat TTL (5s): the new leader must have heard the
  // agent (through whichever master it talks to) and kept the node ready.
  std::this_thread::sleep_for(7s);
  auto node = any.GetNode(node_id);
  ASSERT_TRUE(node.ok()) << node.status().ToString();
  EXPECT_EQ(node->value.status(), v1::Node::READY) << "the node was marked down across the failover";
  auto a = alloc_of("hello");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->client_status(), v1::Allocation::RUNNING);
  EXPECT_EQ(a->task_states(0).pid(), pid);
  EXPECT_TRUE(ProcessAlive(pid));

  // New work is scheduled by the new leader and run by the agent.
  std::string countdown = ReadFile(std::string(ORCH_SOURCE_DIR) + "/examples/countdown.yaml");
  ASSERT_TRUE(WaitFor([&] { return any.SubmitJobDocument(countdown).ok(); }, 20s));
  EXPECT_TRUE(WaitFor([&] {
    auto job = any.GetJob("countdown");
    return job.ok() && job->value.summary().count("COMPLETE") && job->value.summary().at("COMPLETE") == 2;
  }, 40s)) << ReadFile(root_ + "/agent.log");

  ASSERT_TRUE(WaitFor([&] { return any.StopJob("hello").ok(); }, 20s));
  EXPECT_TRUE(WaitFor([&] { return !ProcessAlive(pid); }, 20s)) << "pid " << pid << " outlived its job";
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(15s), 0);
  if (HasFailure()) std::cerr << "==== agent.log\n" << ReadFile(root_ + "/agent.log");
}

}  // namespace
}  // namespace orch::e2e

namespace orch::e2e {
namespace {

// Issue 11: a rolling update whose leader is killed (kill -9) half way is
// finished by the next leader, and max_parallel holds throughout: never
// more than one new allocation not yet healthy, never fewer than
// count - max_parallel allocations serving.
TEST_F(MastersTest, ARollingUpdateSurvivesALeaderFailover) {
  StartCluster(3);
  const std::string masters = cluster_->HttpUrlList();
  Subprocess agent({ORCH_AGENT_BIN, "--name", "a1", "--data-dir", root_ + "/agent", "--masters", masters, "--http",
                    "127.0.0.1:" + std::to_string(FreePort()), "--drivers", "exec"},
                   root_ + "/agent.log");
  OrchClient any(cluster_->HttpUrls());
  auto job = [](const std::string& version) {
    return "id: roll\ntype: service\ngroups:\n  - name: g\n    count: 4\n"
           "    update: { max_parallel: 1, min_healthy_time: 2s, healthy_deadline: 30s, health_check: task_states }\n"
           "    tasks:\n      - name: t\n        driver: exec\n        command: /bin/sleep\n        args: [\"3600\"]\n"
           "        env: { VERSION: " + version + " }\n        kill_timeout: 1s\n"
           "        resources: { cpu: 10, memory: 8 }\n";
  };
  auto latest = [&]() -> std::optional<v1::Deployment> {
    auto d = any.ListDeployments("roll");
    if (!d.ok() || d->value.deployments().empty()) return std::nullopt;
    return d->value.deployments(0);
  };
  std::set<pid_t> pids;
  auto sample = [&](int* unhealthy_new, int* serving) {
    auto allocs = any.ListAllocations("roll");
    if (!allocs.ok()) return false;
    *unhealthy_new = 0;
    *serving = 0;
    for (const auto& a : allocs->value.allocations()) {
      for (const auto& t : a.task_states()) {
        if (t.pid() > 0) pids.insert(t.pid());
      }
      if (a.desired_status() != v1::Allocation::RUN) continue;
      const bool healthy = a.deployment_status().health() == v1::AllocDeploymentStatus::HEALTHY;
      if (a.job_version() == 1 && !healthy && a.client_status() != v1::Allocation::FAILED) ++*unhealthy_new;
      if (a.client_status() == v1::Allocation::RUNNING && (a.job_version() == 0 || healthy)) ++*serving;
    }
    return true;
  };
  ASSERT_TRUE(WaitFor([&] { return any.SubmitJobDocument(job("v0")).ok(); }, 20s));
  ASSERT_TRUE(WaitFor([&] {
    auto d = latest();
    return d && d->job_version() == 0 && d->status() == v1::Deployment::SUCCESSFUL;
  }, 60s)) << ReadFile(root_ + "/agent.log");

  ASSERT_TRUE(WaitFor([&] { return any.SubmitJobDocument(job("v1")).ok(); }, 20s));
  int max_unhealthy_new = 0, min_serving = 4;
  auto watch = [&](const std::function<bool()>& until, std::chrono::milliseconds timeout) {
    return WaitFor([&] {
      int u = 0, s = 0;
      if (sample(&u, &s)) {
        max_unhealthy_new = std::max(max_unhealthy_new, u);
        min_serving = std::min(min_serving, s);
      }
      return until();
    }, timeout);
  };
  // Half way: the second batch is under way.
  ASSERT_TRUE(watch([&] {
    auto d = latest();
    return d && d->job_version() == 1 && d->groups_size() == 1 && d->groups(0).healthy() >= 1;
  }, 60s));
  std::string old = cluster_->LeaderNow();
  cluster_->Kill(old);
  cluster_->Note("killed " + old + " half way through the rolling update");
  ASSERT_TRUE(watch([&] {
    auto d = latest();
    return d && d->job_version() == 1 && d->status() == v1::Deployment::SUCCESSFUL;
  }, 90s)) << "the new leader did not finish the deployment";
  EXPECT_NE(cluster_->WaitLeader(5s, old), "");
  EXPECT_LE(max_unhealthy_new, 1) << "more than max_parallel new allocations in flight";
  EXPECT_GE(min_serving, 3) << "fewer than count - max_parallel allocations served";
  auto allocs = any.ListAllocations("roll");
  ASSERT_TRUE(allocs.ok());
  int live_v1 = 0;
  for (const auto& a : allocs->value.allocations()) {
    if (a.desired_status() == v1::Allocation::RUN) {
      EXPECT_EQ(a.job_version(), 1u) << a.name();
      ++live_v1;
    }
  }
  EXPECT_EQ(live_v1, 4);

  ASSERT_TRUE(WaitFor([&] { return any.StopJob("roll").ok(); }, 20s));
  EXPECT_TRUE(WaitFor([&] {
    for (pid_t p : pids) {
      if (ProcessAlive(p)) return false;
    }
    return true;
  }, 30s)) << "tasks outlived their job";
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(15s), 0);
  for (pid_t p : pids) {
    if (ProcessAlive(p)) kill(p, SIGKILL);
  }
  if (HasFailure()) std::cerr << "==== agent.log\n" << ReadFile(root_ + "/agent.log");
}

}  // namespace
}  // namespace orch::e2e
