// RaftNode (the master's replicated log) with real storage and state stores
// in temp dirs and an in-process network: what clients of the masters
// notice — writes acknowledged once and kept, reads that see them, a
// leader that can be lost, members that come and go.
#include "master/replication/raft_node.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "local_network.h"
#include "master/state/state_store.h"
#include "test_util.h"

namespace orch::master {
namespace {

using namespace std::chrono_literals;

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

v1::Command JobCmd(const std::string& id) {
  return testing::RegisterJobCmd(testing::SampleJob(id, 1), "e-" + id);
}

// The store, with applies that can be made slow (a large plan's apply).
class SlowApplies : public replication::StateMachine {
 public:
  explicit SlowApplies(StateStore* s) : s_(s) {}
  std::atomic<int> delay_ms{0};
  Status ApplyBatch(const std::vector<Entry>& entries, std::vector<Status>* outcomes) override {
    if (int d = delay_ms.load(); d > 0) std::this_thread::sleep_for(std::chrono::milliseconds(d));
    return s_->ApplyBatch(entries, outcomes);
  }
  Status MarkApplied(uint64_t index) override { return s_->MarkApplied(index); }
  Status CommitApplied() override { return s_->CommitApplied(); }
  Status CommitAppliedIfDue() override { return s_->CommitAppliedIfDue(); }
  uint64_t AppliedIndex() const override { return s_->AppliedIndex(); }
  uint64_t WaitForIndexAbove(uint64_t index, std::chrono::milliseconds timeout) override {
    return s_->WaitForIndexAbove(index, timeout);
  }
  Result<std::string> SerializeImage() const override { return s_->SerializeImage(); }
  Result<std::unique_ptr<replication::StateImage>> BeginImageRead(
      uint64_t* state_index) const override {
    return s_->BeginImageRead(state_index);
  }
  Status RestoreImage(const std::string& image) override { return s_->RestoreImage(image); }
  Status ApplyMembership(uint64_t index, const v1::Member& member, bool removed) override {
    return s_->ApplyMembership(index, member, removed);
  }
  std::vector<v1::Member> ListMembers() const override { return s_->ListMembers(); }

 private:
  StateStore* s_;
};

struct Member {
  std::string id;
  std::string dir;
  std::unique_ptr<StateStore> store;
  std::unique_ptr<SlowApplies> applies;  // what the node applies to: `store`
  std::unique_ptr<replication::RaftNode> log;
  std::unique_ptr<metrics::Registry> metrics;  // the node's
};

// A counter or gauge of a member's node, from its metrics' text.
double MetricValue(const Member& m, const std::string& name) {
  std::istringstream text(m.metrics->Render());
  for (std::string line; std::getline(text, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

class RaftCluster {
 public:
  RaftCluster(const std::string& root, int n, uint64_t snapshot_entries = 10000,
              std::size_t inline_apply_bytes = 256 << 10, uint64_t cheap_image_bytes = 1 << 20,
              std::chrono::microseconds background_linger = 2ms)
      : root_(root),
        inline_apply_bytes_(inline_apply_bytes),
        cheap_image_bytes_(cheap_image_bytes),
        background_linger_(background_linger) {
    for (int i = 1; i <= n; ++i) peers_.emplace_back("m" + std::to_string(i), "127.0.0.1:0");
    snapshot_entries_ = snapshot_entries;
    for (const auto& [id, addr] : peers_) Start(id, peers_);
  }
  ~RaftCluster() {
    for (auto& m : members_) Stop(m.id);
  }

  void Start(const std::string& id, const std::vector<std::pair<std::string, std::string>>& peers) {
    Member m;
    m.id = id;
    m.dir = root_ + "/" + id;
    std::filesystem::create_directories(m.dir);
    m.store = std::move(*StateStore::Open(m.dir + "/state.db"));
    replication::RaftNodeOptions o;
    o.member_id = id;
    o.raft_address = "127.0.0.1:0";
    o.http_address = "http://" + id;
    o.initial_peers = peers;
    o.tick = 10ms;
    o.election_ticks = 10;
    o.snapshot_entries = snapshot_entries_;
    o.keep_entries = snapshot_entries_ / 2;
    o.inline_apply_bytes = inline_apply_bytes_;
    o.cheap_image_bytes = cheap_image_bytes_;
    o.background_linger = background_linger_;
    m.applies = std::make_unique<SlowApplies>(m.store.get());
    auto log = replication::RaftNode::Open(o, m.dir, m.applies.get());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    m.log = std::move(*log);
    m.metrics = std::make_unique<metrics::Registry>();
    m.log->RegisterMetrics(m.metrics.get());
    m.log->Start(net_.Join(replication::RaftIdOf(id), m.log->TransportCallbacks()));
    for (auto& old : members_) {
      if (old.id == id) {
        old = std::move(m);
        return;
      }
    }
    members_.push_back(std::move(m));
  }

  void Stop(const std::string& id) {
    net_.Leave(replication::RaftIdOf(id));
    Member& m = Get(id);
    if (m.log) m.log->Close();
    m.log.reset();
    m.applies.reset();
    m.store.reset();
  }

  Member& Get(const std::string& id) {
    for (auto& m : members_) {
      if (m.id == id) return m;
    }
    ADD_FAILURE() << "no member " << id;
    return members_[0];
  }

  // The one member that leads (among those running and not isolated), or "".
  std::string Leader(const std::set<std::string>& among = {}) {
    std::string leader;
    for (auto& m : members_) {
      if (!m.log || (!among.empty() && !among.count(m.id))) continue;
      if (m.log->IsLeader()) leader = m.id;
    }
    return leader;
  }

  std::string WaitLeader(const std::set<std::string>& among = {}) {
    std::string l;
    EXPECT_TRUE(WaitFor([&] { return !(l = Leader(among)).empty(); })) << "no leader elected";
    return l;
  }

  testing::LocalNetwork& net() { return net_; }
  std::vector<Member>& members() { return members_; }
  const std::vector<std::pair<std::string, std::string>>& peers() const { return peers_; }

 private:
  std::string root_;
  uint64_t snapshot_entries_;
  std::size_t inline_apply_bytes_;
  uint64_t cheap_image_bytes_;
  std::chrono::microseconds background_linger_;
  std::vector<std::pair<std::string, std::string>> peers_;
  testing::LocalNetwork net_;
  std::vector<Member> members_;
};

// A member to add: its address is the in-process network's, not a port.
v1::Member NewMember(const std::string& id) {
  v1::Member m;
  m.set_id(id);
  m.set_raft_address("127.0.0.1:0");
  m.set_http_address("http://" + id);
  return m;
}

TEST(RaftNodeTest, SingleMemberAcknowledgesWritesThatSurviveRestart) {
  std::string root = testing::TempDir("r");
  uint64_t last = 0;
  {
    RaftCluster c(root, 1);
    c.WaitLeader();
    for (int i = 0; i < 5; ++i) {
      auto idx = c.Get("m1").log->Propose(JobCmd("j" + std::to_string(i)), 5s);
      ASSERT_TRUE(idx.ok()) << idx.status().ToString();
      EXPECT_GT(*idx, last);
      last = *idx;
    }
    EXPECT_EQ(c.Get("m1").store->ListJobs().size(), 5u);
  }
  RaftCluster again(root, 1);
  again.WaitLeader();
  EXPECT_EQ(again.Get("m1").store->ListJobs().size(), 5u);
  auto idx = again.Get("m1").log->Propose(JobCmd("after"), 5s);
  ASSERT_TRUE(idx.ok()) << idx.status().ToString();
  EXPECT_GT(*idx, last);
}

// Large batches of entries apply on a thread of their own: a long apply on
// the leader (a plan of many placements) does not stop its loop, so its followers keep
// hearing from it and elect no one meanwhile.
TEST(RaftNodeTest, ALongApplyOnTheLeaderCostsNoElection) {
  // Every entry goes to the apply thread (by default only large ones do).
  RaftCluster c(testing::TempDir("slow"), 3, 10000, 0);
  const std::string leader = c.WaitLeader();
  Member& l = c.Get(leader);
  ASSERT_TRUE(l.log->Propose(JobCmd("first"), 5s).ok());
  const uint64_t term = l.log->Term();
  // 1.5 s: past the election timeout (10-20 ticks of 10 ms) many times.
  l.applies->delay_ms = 1500;
  auto index = l.log->Propose(JobCmd("slow"), 10s);
  l.applies->delay_ms = 0;
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ(c.Leader(), leader);
  for (auto& m : c.members()) EXPECT_EQ(m.log->Term(), term) << m.id;
  EXPECT_TRUE(l.store->GetJob("slow").ok());
}

TEST(RaftNodeTest, RefusedCommandReturnsItsOutcome) {
  RaftCluster c(testing::TempDir("r"), 1);
  c.WaitLeader();
  v1::Command cmd;
  cmd.mutable_deregister_job()->set_job_id("ghost");
  auto r = c.Get("m1").log->Propose(cmd, 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST(RaftNodeTest, FollowerWritesAndReadsAreLinearizable) {
  RaftCluster c(testing::TempDir("r"), 3);
  std::string leader = c.WaitLeader();
  std::string follower = leader == "m1" ? "m2" : "m1";
  // Until the follower hears from the new leader its writes fail fast (503).
  ASSERT_TRUE(WaitFor([&] { return c.Get(follower).log->LeaderId() == leader; }));
  auto idx = c.Get(follower).log->Propose(JobCmd("via-follower"), 5s);
  ASSERT_TRUE(idx.ok()) << idx.status().ToString();
  // A write acknowledged anywhere is visible to a linearizable read anywhere.
  auto idx2 = c.Get(leader).log->Propose(JobCmd("via-leader"), 5s);
  ASSERT_TRUE(idx2.ok());
  for (auto& m : c.members()) {
    ASSERT_TRUE(m.log->ReadBarrier(5s).ok());
    EXPECT_TRUE(m.store->GetJob("via-follower").ok()) << m.id;
    EXPECT_TRUE(m.store->GetJob("via-leader").ok()) << m.id;
  }
  EXPECT_EQ(c.Get(follower).log->LeaderId(), leader);
  EXPECT_EQ(c.Get(follower).log->LeaderHttpAddress(), "http://" + leader);
}

// Reads that arrive together share rounds of ReadIndex (one heartbeat
// round each), not one round per read; each still gets an index at least
// the commit index when it was asked (here: the write before them).
TEST(RaftNodeTest, ConcurrentReadsShareReadIndexRounds) {
  RaftCluster c(testing::TempDir("r"), 3);
  for (const std::string leader = c.WaitLeader();
       auto* m : {&c.Get(leader), &c.Get(leader == "m1" ? "m2" : "m1")}) {
    ASSERT_TRUE(WaitFor([&] { return m->log->LeaderId() == leader; }));
    auto written = m->log->Propose(JobCmd("before-reads-" + m->id), 5s);
    ASSERT_TRUE(written.ok()) << written.status().ToString();
    constexpr int kReads = 2000;
    std::mutex mu;
    std::condition_variable cv;
    int answered = 0, ok = 0, below = 0;
    const uint64_t rounds_before = m->log->read_rounds();
    for (int i = 0; i < kReads; ++i) {
      m->log->ReadIndexAsync([&](Result<uint64_t> index) {
        std::lock_guard lock(mu);
        ++answered;
        if (index.ok()) ++ok;
        if (index.ok() && *index < *written) ++below;
        cv.notify_all();
      });
    }
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return answered == kReads; })) << answered;
    EXPECT_EQ(ok, kReads) << m->id;
    EXPECT_EQ(below, 0) << m->id;
    const uint64_t rounds = m->log->read_rounds() - rounds_before;
    EXPECT_GE(rounds, 1u);
    EXPECT_LE(rounds, 50u) << m->id << ": " << kReads << " reads took " << rounds << " rounds";
  }
}

// A round lost on the way to the leader (its message dropped) holds back
// the reads behind it only for a while: they go in a round of their own
// without waiting for yet another read to send them.
TEST(RaftNodeTest, AReadBehindALostReadIndexRoundIsStillAnswered) {
  RaftCluster c(testing::TempDir("r"), 3);
  const std::string leader = c.WaitLeader();
  const std::string follower = leader == "m1" ? "m2" : "m1";
  auto& f = c.Get(follower);
  ASSERT_TRUE(WaitFor([&] { return f.log->LeaderId() == leader; }));
  ASSERT_TRUE(f.log->ReadBarrier(5s).ok());
  // The round's MsgReadIndex to the leader is dropped. The cut lasts only
  // until it is: far shorter than an election timeout, so the follower
  // keeps its leader (a longer cut let it pre-campaign, forget the leader,
  // and refuse the read below at once).
  const auto read_index = orch::v1::Message::MSG_READ_INDEX;
  const uint64_t dropped_before = c.net().dropped(read_index);
  c.net().Isolate(replication::RaftIdOf(follower));
  std::atomic<bool> lost_answered{false};
  const uint64_t lost = f.log->ReadIndexAsync([&](Result<uint64_t>) { lost_answered = true; });
  const bool was_dropped = WaitFor([&] { return c.net().dropped(read_index) > dropped_before; });
  c.net().Heal();
  ASSERT_TRUE(was_dropped);
  ASSERT_EQ(f.log->LeaderId(), leader);
  // Asked while the lost round is out: it waits for the next round, which
  // must go out by itself.
  EXPECT_TRUE(f.log->ReadBarrier(5s).ok());
  f.log->Abandon(lost);
  EXPECT_FALSE(lost_answered.load());
}

TEST(RaftNodeTest, IsolatedLeaderIsReplacedAndNoAcknowledgedWriteIsLost) {
  RaftCluster c(testing::TempDir("r"), 3);
  std::string old = c.WaitLeader();
  std::vector<std::string> acked;
  for (int i = 0; i < 5; ++i) {
    std::string id = "before" + std::to_string(i);
    if (c.Get(old).log->Propose(JobCmd(id), 5s).ok()) acked.push_back(id);
  }
  c.net().Isolate(replication::RaftIdOf(old));
  std::set<std::string> rest;
  for (auto& m : c.members()) {
    if (m.id != old) rest.insert(m.id);
  }
  std::string next = c.WaitLeader(rest);
  ASSERT_NE(next, old);
  // The cut-off leader cannot commit: its writes are not acknowledged.
  auto stale = c.Get(old).log->Propose(JobCmd("lost"), 300ms);
  EXPECT_FALSE(stale.ok());
  // It stops believing it leads (check-quorum).
  EXPECT_TRUE(WaitFor([&] { return !c.Get(old).log->IsLeader(); }));
  for (int i = 0; i < 5; ++i) {
    std::string id = "after" + std::to_string(i);
    auto r = c.Get(next).log->Propose(JobCmd(id), 5s);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    acked.push_back(id);
  }
  c.net().Heal();
  for (auto& m : c.members()) {
    ASSERT_TRUE(WaitFor([&] {
      return m.log->ReadBarrier(1s).ok() && m.store->GetJob("after4").ok();
    })) << m.id;
    for (const auto& id : acked) EXPECT_TRUE(m.store->GetJob(id).ok()) << m.id << " lost " << id;
    EXPECT_FALSE(m.store->GetJob("lost").ok()) << m.id;
  }
}

TEST(RaftNodeTest, WithoutAMajorityWritesFailFastInsteadOfHanging) {
  std::string root = testing::TempDir("r");
  RaftCluster c(root, 3);
  c.WaitLeader();
  c.Stop("m2");
  c.Stop("m3");
  // m1 alone: once it notices (check-quorum) there is no leader, and a write
  // is refused at once rather than waiting for its timeout.
  ASSERT_TRUE(WaitFor([&] { return c.Get("m1").log->LeaderId().empty(); }));
  // Unavailable, not DeadlineExceeded: refused at once, not timed out.
  auto r = c.Get("m1").log->Propose(JobCmd("nobody"), 30s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_EQ(c.Get("m1").log->ReadBarrier(1s).code(), StatusCode::kUnavailable);
}

TEST(RaftNodeTest, LaggingMemberCatchesUpThroughASnapshot) {
  RaftCluster c(testing::TempDir("r"), 3, /*snapshot_entries=*/20);
  std::string leader = c.WaitLeader();
  std::string lagging = leader == "m3" ? "m2" : "m3";
  c.net().Isolate(replication::RaftIdOf(lagging));
  for (int i = 0; i < 120; ++i) {
    auto r = c.Get(leader).log->Propose(JobCmd("j" + std::to_string(i)), 5s);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  c.net().Heal();
  Member& m = c.Get(lagging);
  ASSERT_TRUE(WaitFor([&] { return m.store->GetJob("j119").ok(); }, 20s));
  EXPECT_EQ(m.store->ListJobs().size(), 120u);
  // Its state is the leader's, applied index and all.
  ASSERT_TRUE(
      WaitFor([&] { return m.store->AppliedIndex() == c.Get(leader).store->AppliedIndex(); }));
  // Restarting it keeps everything.
  c.Stop(lagging);
  c.Start(lagging, c.peers());
  EXPECT_EQ(c.Get(lagging).store->ListJobs().size(), 120u);
}

TEST(RaftNodeTest, AWriteProposedWithoutWaitingIsAnsweredOnceAppliedOrAtItsDeadline) {
  RaftCluster c(testing::TempDir("r"), 3);
  const std::string leader = c.WaitLeader();
  Member& l = c.Get(leader);
  auto propose_then = [&](const std::string& id, std::chrono::milliseconds timeout) {
    auto answer = std::make_shared<std::promise<Result<uint64_t>>>();
    l.log->ProposeThen(JobCmd(id), timeout,
                       [answer](Result<uint64_t> r) { answer->set_value(std::move(r)); });
    return answer->get_future();
  };
  auto applied = propose_then("a", 5s);
  ASSERT_EQ(applied.wait_for(5s), std::future_status::ready);
  auto index = applied.get();
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_GE(l.store->AppliedIndex(), *index);  // answered once applied here
  EXPECT_TRUE(l.store->GetJob("a").ok());
  // Cut off from the others, the leader cannot commit: the write gives up
  // at the first tick past its deadline, with the blocking Propose's error.
  c.net().Isolate(replication::RaftIdOf(leader));
  auto cut = propose_then("b", 300ms);
  ASSERT_EQ(cut.wait_for(5s), std::future_status::ready);
  auto failed = cut.get();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kDeadlineExceeded) << failed.status().ToString();
  EXPECT_NE(failed.status().message().find("not committed within 300ms"), std::string::npos);
}

// A background proposal (the leader's plans) found no company: it waits,
// then goes right after the next proposal, in its Ready, sharing its disk
// write. Alone, it goes once its linger has passed.
TEST(RaftNodeTest, ABackgroundProposalWaitsForCompanyThenSharesItsReady) {
  {
    RaftCluster c(testing::TempDir("r"), 3, 10000, 256 << 10, 1 << 20, /*background_linger=*/60s);
    Member& l = c.Get(c.WaitLeader());
    ASSERT_TRUE(l.log->Propose(JobCmd("first"), 5s).ok());
    auto background = std::async(std::launch::async,
                                 [&] { return l.log->ProposeBackground(JobCmd("plan"), 10s); });
    ASSERT_TRUE(WaitFor([&] { return l.log->lingering() == 1; })) << "it did not wait";
    EXPECT_FALSE(l.store->GetJob("plan").ok()) << "proposed while waiting";
    auto company = l.log->Propose(JobCmd("write"), 5s);
    ASSERT_TRUE(company.ok()) << company.status().ToString();
    ASSERT_EQ(background.wait_for(5s), std::future_status::ready)
        << "still waiting with company come";
    auto index = background.get();
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    EXPECT_EQ(*company + 1, *index) << "it goes right after, in the same Ready";
    EXPECT_EQ(l.log->lingering(), 0u);
  }
  RaftCluster c(testing::TempDir("r2"), 1, 10000, 256 << 10, 1 << 20, /*background_linger=*/20ms);
  Member& m = c.Get(c.WaitLeader());
  auto alone = m.log->ProposeBackground(JobCmd("alone"), 5s);
  ASSERT_TRUE(alone.ok()) << alone.status().ToString();
  EXPECT_TRUE(m.store->GetJob("alone").ok());
}

TEST(RaftNodeTest, ALargeStateIsSnapshotAfterAsManyLogBytesAsItsImage) {
  // Snapshots every 4 entries by the count alone; images past 128 KiB are
  // "large" here (1 MiB in a master). Each job below is ~16 KiB in the log
  // and more than twice that in the state (the job and its version).
  RaftCluster c(testing::TempDir("r"), 1, /*snapshot_entries=*/4, 256 << 10,
                /*cheap_image_bytes=*/128 << 10);
  ASSERT_EQ(c.WaitLeader(), "m1");
  Member& m = c.Get("m1");
  const std::string bulk(16 << 10, 'x');
  for (int i = 0; i < 40; ++i) {
    v1::Job job = testing::SampleJob("big" + std::to_string(i), 1);
    job.mutable_groups(0)->mutable_tasks(0)->add_args(bulk);
    auto r = m.log->Propose(testing::RegisterJobCmd(job, "e" + std::to_string(i)), 5s);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::this_thread::sleep_for(10ms);  // a snapshot due is taken, not skipped while one is written
  }
  // The first image (~0.3 MiB after 4 entries) holds ~0.2 MiB past the
  // cheap size: the next waits for that much log (~11 entries), and the one
  // after it (~0.7 MiB, ~0.6 past) for ~37 more, past the 40th. By the
  // count alone there would have been 10.
  ASSERT_TRUE(WaitFor([&] { return MetricValue(m, "orch_raft_snapshots_total") >= 1; }));
  std::this_thread::sleep_for(100ms);  // one still being written
  EXPECT_LE(MetricValue(m, "orch_raft_snapshots_total"), 3);
  // A small state is still snapshot every `snapshot_entries`.
  RaftCluster small(testing::TempDir("s"), 1, /*snapshot_entries=*/4);
  ASSERT_EQ(small.WaitLeader(), "m1");
  Member& s = small.Get("m1");
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(s.log->Propose(JobCmd("small" + std::to_string(i)), 5s).ok());
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(WaitFor([&] { return MetricValue(s, "orch_raft_snapshots_total") >= 8; }))
      << MetricValue(s, "orch_raft_snapshots_total");
}

// ---- Hostile input on the Raft port (issue 10) ------------------------------

TEST(RaftNodeTest, MessagesFromStrangersNeverReachTheCore) {
  RaftCluster c(testing::TempDir("r"), 3);
  std::string leader = c.WaitLeader();
  ASSERT_TRUE(c.Get(leader).log->Propose(JobCmd("real"), 5s).ok());
  std::string follower = leader == "m1" ? "m2" : "m1";
  Member& f = c.Get(follower);
  ASSERT_TRUE(WaitFor([&] { return f.store->GetJob("real").ok(); }));
  auto deliver = f.log->TransportCallbacks().on_message;
  // The review's 30-byte frame: a heartbeat from nobody, term 1000, commit
  // 2^40. It used to abort the master (commit past the log).
  v1::Message hb;
  hb.set_type(v1::Message::MSG_HEARTBEAT);
  hb.set_from(999);
  hb.set_to(replication::RaftIdOf(follower));
  hb.set_term(1000);
  hb.set_commit(uint64_t{1} << 40);
  deliver(hb);
  // A forged append from nobody that would register a job.
  v1::Message app;
  app.set_type(v1::Message::MSG_APP);
  app.set_from(999);
  app.set_to(replication::RaftIdOf(follower));
  app.set_term(1000);
  app.set_index(f.store->AppliedIndex() + 100);
  app.set_log_term(1000);
  app.set_commit(uint64_t{1} << 40);
  auto* e = app.add_entries();
  e->set_index(app.index() + 1);
  e->set_term(1000);
  e->set_data(JobCmd("evil").SerializeAsString());
  deliver(app);
  ASSERT_TRUE(WaitFor([&] { return f.log->refused_messages() >= 2; }));
  // Still a follower of the real leader, still replicating.
  ASSERT_TRUE(c.Get(leader).log->Propose(JobCmd("after"), 5s).ok());
  ASSERT_TRUE(WaitFor([&] { return f.store->GetJob("after").ok(); }));
  EXPECT_FALSE(f.store->GetJob("evil").ok());
  EXPECT_EQ(c.Leader(), leader);
}

TEST(RaftNodeTest, FoundersShareTheClusterIdAndADataDirKeepsItsOwn) {
  std::string root = testing::TempDir("r");
  uint64_t id = 0;
  {
    RaftCluster c(root, 3);
    id = c.Get("m1").log->ClusterId();
    EXPECT_NE(id, 0u);
    for (auto& m : c.members()) EXPECT_EQ(m.log->ClusterId(), id) << m.id;
    // A joining master may adopt only the cluster its data already has.
    Member& m2 = c.Get("m2");
    EXPECT_TRUE(m2.log->AdoptClusterId(id).ok());
    Status other = m2.log->AdoptClusterId(id ^ 1);
    EXPECT_EQ(other.code(), StatusCode::kFailedPrecondition) << other.ToString();
  }
  // Another cluster on other founders has another id.
  RaftCluster d(testing::TempDir("other"), 2);
  EXPECT_NE(d.Get("m1").log->ClusterId(), id);
  // Restarted with different --peers, a data dir keeps the id it was founded with.
  RaftCluster again(root, 1);
  EXPECT_EQ(again.Get("m1").log->ClusterId(), id);
}

TEST(RaftNodeTest, AGarbageSnapshotIsDroppedBeforeAnythingIsSaved) {
  std::string root = testing::TempDir("r");
  RaftCluster c(root, 3);
  std::string leader = c.WaitLeader();
  ASSERT_TRUE(c.Get(leader).log->Propose(JobCmd("real"), 5s).ok());
  std::string follower = leader == "m1" ? "m2" : "m1";
  ASSERT_TRUE(WaitFor([&] { return c.Get(follower).store->GetJob("real").ok(); }));
  uint64_t applied = c.Get(follower).store->AppliedIndex();
  // From a member's id (nothing authenticates ids yet) and its term, far
  // ahead: before, it was saved to raft.db, failed to restore, and the
  // master failed at every restart after.
  auto make_snap = [&](std::string data) {
    v1::Message m;
    m.set_type(v1::Message::MSG_SNAP);
    m.set_from(replication::RaftIdOf(leader));
    m.set_to(replication::RaftIdOf(follower));
    m.set_term(1000);
    auto* md = m.mutable_snapshot()->mutable_metadata();
    md->set_index(applied + 1000);
    md->set_term(1);
    for (const auto& [id, addr] : c.peers())
      md->mutable_conf_state()->add_voters(replication::RaftIdOf(id));
    m.mutable_snapshot()->set_data(std::move(data));
    return m;
  };
  auto deliver = c.Get(follower).log->TransportCallbacks().on_message;
  deliver(make_snap(std::string(4096, 'x')));  // not a database
  deliver(make_snap("SQLite format 3" + std::string(1, '\0') +
                    std::string(4096, '\x7f')));  // a corrupt one
  ASSERT_TRUE(WaitFor([&] { return c.Get(follower).log->refused_messages() >= 2; }));
  EXPECT_GE(c.Get(follower).store->AppliedIndex(), applied);
  ASSERT_TRUE(c.Get(leader).log->Propose(JobCmd("after"), 5s).ok());
  ASSERT_TRUE(WaitFor([&] { return c.Get(follower).store->GetJob("after").ok(); }));
  // And it restarts into its state.
  c.Stop(follower);
  c.Start(follower, c.peers());
  EXPECT_TRUE(c.Get(follower).store->GetJob("after").ok());
  EXPECT_FALSE(c.WaitLeader().empty());
}

TEST(RaftNodeTest, ACommandLargerThanALogEntryMayHoldIsRefusedAtPropose) {
  RaftCluster c(testing::TempDir("r"), 1);
  std::string leader = c.WaitLeader();
  v1::Command big = JobCmd("big");
  (*big.mutable_register_job()
        ->mutable_job()
        ->mutable_groups(0)
        ->mutable_tasks(0)
        ->mutable_env())["X"] = std::string(replication::RaftNode::kMaxCommandBytes + 1, 'x');
  auto r = c.Get(leader).log->Propose(big, 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("a log entry may hold"), std::string::npos);
  EXPECT_TRUE(c.Get(leader).log->Propose(JobCmd("small"), 5s).ok());
}

TEST(RaftNodeTest, MembersAreAddedAsLearnerPromotedAndRemoved) {
  RaftCluster c(testing::TempDir("r"), 3);
  std::string leader = c.WaitLeader();
  ASSERT_TRUE(c.Get(leader).log->Propose(JobCmd("before-m4"), 5s).ok());
  c.Start("m4", {});  // empty, waiting to be added
  v1::Member m4 = NewMember("m4");
  Status st = c.Get(leader).log->AddMember(m4, /*learner=*/true, 5s);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(WaitFor([&] { return c.Get("m4").store->GetJob("before-m4").ok(); }));
  auto roles = [&] {
    std::map<std::string, v1::Member::Role> out;
    for (const auto& m : c.Get(c.WaitLeader()).log->Members()) out[m.id()] = m.role();
    return out;
  };
  ASSERT_TRUE(WaitFor([&] { return roles()["m4"] == v1::Member::LEARNER; }));
  EXPECT_EQ(c.Get(leader).log->AddMember(m4, true, 5s).code(), StatusCode::kAlreadyExists);
  ASSERT_TRUE(c.Get(leader).log->PromoteMember("m4", 5s).ok());
  ASSERT_TRUE(WaitFor([&] { return roles()["m4"] == v1::Member::VOTER && roles().size() == 4; }));
  // A 4-voter cluster needs 3: with one member down, writes still commit.
  std::string down = leader == "m1" ? "m2" : "m1";
  c.net().Isolate(replication::RaftIdOf(down));
  std::string l2 = c.WaitLeader();
  ASSERT_TRUE(c.Get(l2).log->Propose(JobCmd("with-m4"), 5s).ok());
  c.net().Heal();
  l2 = c.WaitLeader();
  ASSERT_TRUE(c.Get(l2).log->RemoveMember("m4", 5s).ok());
  ASSERT_TRUE(WaitFor([&] { return roles().size() == 3 && !roles().count("m4"); }));
  l2 = c.WaitLeader();
  ASSERT_TRUE(c.Get(l2).log->Propose(JobCmd("after-m4"), 5s).ok());
  EXPECT_EQ(c.Get(l2).log->RemoveMember("nobody", 1s).code(), StatusCode::kNotFound);
}

// Issue 14: the leader's latest snapshot predates a member added after the
// log was compacted (its configuration lacks the member, which must refuse
// it); the snapshot it is sent is built for the membership at send time.
TEST(RaftNodeTest, AMemberAddedAfterTheLogWasCompactedCatchesUp) {
  RaftCluster c(testing::TempDir("r"), 3, /*snapshot_entries=*/50);
  std::string leader = c.WaitLeader();
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(c.Get(leader).log->Propose(JobCmd("j" + std::to_string(i)), 5s).ok());
  c.Start("m4", {});
  v1::Member m4 = NewMember("m4");
  Status st = c.Get(leader).log->AddMember(m4, /*learner=*/true, 5s);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(WaitFor([&] { return c.Get("m4").store->ListJobs().size() == 200u; }, 20s))
      << c.Get("m4").store->ListJobs().size() << " of 200 jobs on m4";
  ASSERT_TRUE(c.Get(leader).log->Propose(JobCmd("after"), 5s).ok());
  ASSERT_TRUE(WaitFor([&] { return c.Get("m4").store->GetJob("after").ok(); }));
}

TEST(RaftNodeTest, AVoterAddedToALoneMasterAfterCompactionDoesNotStopWrites) {
  RaftCluster c(testing::TempDir("r"), 1, /*snapshot_entries=*/50);
  ASSERT_EQ(c.WaitLeader(), "m1");
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(c.Get("m1").log->Propose(JobCmd("j" + std::to_string(i)), 5s).ok());
  c.Start("m2", {});
  v1::Member m2 = NewMember("m2");
  // Straight to voter: the quorum becomes 2, so m2 must catch up for any
  // write to commit again.
  Status st = c.Get("m1").log->AddMember(m2, /*learner=*/false, 5s);
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto w = c.Get(c.WaitLeader()).log->Propose(JobCmd("after"), 10s);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return c.Get("m2").store->ListJobs().size() == 201u; }, 20s));
}

TEST(RaftNodeTest, ALearnerFarBehindTheLeaderIsNotPromoted) {
  RaftCluster c(testing::TempDir("r"), 3);
  std::string leader = c.WaitLeader();
  c.Start("m4", {});
  v1::Member m4 = NewMember("m4");
  ASSERT_TRUE(c.Get(leader).log->AddMember(m4, /*learner=*/true, 5s).ok());
  c.net().Isolate(replication::RaftIdOf("m4"));
  const uint64_t behind = replication::RaftNode::kMaxPromotionLag + 50;
  for (uint64_t i = 0; i < behind; ++i)
    ASSERT_TRUE(c.Get(leader).log->Propose(JobCmd("j" + std::to_string(i)), 5s).ok());
  std::this_thread::sleep_for(100ms);  // the member view is refreshed once a tick
  Status st = c.Get(leader).log->PromoteMember("m4", 5s);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("behind"), std::string::npos) << st.message();
  c.net().Heal();
  ASSERT_TRUE(WaitFor([&] { return c.Get("m4").store->ListJobs().size() == behind; }, 20s));
  ASSERT_TRUE(WaitFor([&] { return c.Get(leader).log->PromoteMember("m4", 5s).ok(); }));
}

TEST(RaftNodeTest, LeadershipMovesOnRequest) {
  RaftCluster c(testing::TempDir("r"), 3);
  std::string leader = c.WaitLeader();
  ASSERT_TRUE(c.Get(leader).log->Propose(JobCmd("x"), 5s).ok());
  std::string target = leader == "m2" ? "m3" : "m2";
  Status st = c.Get(leader).log->TransferLeadership(target, 5s);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(WaitFor([&] { return c.Get(target).log->IsLeader(); }));
  ASSERT_TRUE(c.Get(target).log->Propose(JobCmd("y"), 5s).ok());
}

}  // namespace
}  // namespace orch::master
