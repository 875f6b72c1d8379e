// NodeLiveness on a fake clock, with a real single-master log and store:
// when a silent node is marked down, and that a pass looks only at the
// nodes that are due.
#include "master/controllers/node_liveness.h"

#include <gtest/gtest.h>

#include "master/replication/raft_node.h"
#include "master/state/state_store.h"
#include "test_util.h"
#include "tests/unit/agent/fake_clock.h"

namespace orch::master {
namespace {

using namespace std::chrono_literals;

class NodeLivenessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string dir = testing::TempDir("liveness");
    store_ = std::move(*StateStore::Open(dir + "/state.db"));
    log_ = testing::StartSingleLeader(dir, store_.get());
    ASSERT_NE(log_, nullptr);
    liveness_ = std::make_unique<NodeLiveness>(store_.get(), log_.get(), &clock_, kTtl);
  }

  // In the state, without a heartbeat.
  void AddNode(const std::string& id) {
    ASSERT_TRUE(log_->Propose(testing::RegisterNodeCmd(testing::SampleNode(id)), 5s).ok());
  }
  v1::Node::Status StatusOf(const std::string& id) { return *store_->NodeStatusBrief(id); }

  static constexpr std::chrono::milliseconds kTtl{10'000};
  agent::testing::FakeClock clock_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<replication::RaftNode> log_;
  std::unique_ptr<NodeLiveness> liveness_;
};

TEST_F(NodeLivenessTest, ASilentNodeIsMarkedDownOnceItsTtlHasPassedAndNotBefore) {
  AddNode("n1");
  ASSERT_TRUE(liveness_->Heartbeat("n1", {}).ok());
  liveness_->CheckOnce();
  clock_.Advance(9s);
  ASSERT_TRUE(liveness_->Heartbeat("n1", {}).ok());
  clock_.Advance(9s);  // 18 s since the first heartbeat, 9 s since the last
  liveness_->CheckOnce();
  EXPECT_EQ(StatusOf("n1"), v1::Node::READY);
  clock_.Advance(1s);
  liveness_->CheckOnce();
  EXPECT_EQ(StatusOf("n1"), v1::Node::READY) << "exactly the TTL is not past it";
  clock_.Advance(1ms);
  liveness_->CheckOnce();
  EXPECT_EQ(StatusOf("n1"), v1::Node::DOWN);
}

// Nodes in the state this master never heard (it just became leader, or a
// restored image brought them): a full TTL from the first check.
TEST_F(NodeLivenessTest, NodesNeverHeardHereGetAFullTtlFromTheFirstCheck) {
  AddNode("a");
  AddNode("b");
  clock_.Advance(60s);  // long before this master checks: it does not count
  liveness_->CheckOnce();
  clock_.Advance(kTtl);
  liveness_->CheckOnce();
  EXPECT_EQ(StatusOf("a"), v1::Node::READY);
  // Added while leading, never heard: found by the sweep once per TTL.
  AddNode("c");
  clock_.Advance(1ms);
  liveness_->CheckOnce();
  EXPECT_EQ(StatusOf("a"), v1::Node::DOWN);
  EXPECT_EQ(StatusOf("b"), v1::Node::DOWN);
  EXPECT_EQ(StatusOf("c"), v1::Node::READY);  // not looked at yet
  clock_.Advance(kTtl);
  liveness_->CheckOnce();  // the sweep, once per TTL, finds c unheard for longer than it
  EXPECT_EQ(StatusOf("c"), v1::Node::DOWN);
}

TEST_F(NodeLivenessTest, ADownNodeThatHeartbeatsIsReadyAgainAndWatchedAgain) {
  AddNode("n1");
  ASSERT_TRUE(liveness_->Heartbeat("n1", {}).ok());
  liveness_->CheckOnce();
  clock_.Advance(kTtl + 1ms);
  liveness_->CheckOnce();
  ASSERT_EQ(StatusOf("n1"), v1::Node::DOWN);
  ASSERT_TRUE(liveness_->Heartbeat("n1", {}).ok());
  EXPECT_EQ(StatusOf("n1"), v1::Node::READY);
  clock_.Advance(kTtl / 2);
  liveness_->CheckOnce();
  EXPECT_EQ(StatusOf("n1"), v1::Node::READY);
  clock_.Advance(kTtl);
  liveness_->CheckOnce();
  EXPECT_EQ(StatusOf("n1"), v1::Node::DOWN);
}

// A pass costs what is due: with every node heard within the TTL it looks
// at no node at all, however many there are.
TEST_F(NodeLivenessTest, APassLooksOnlyAtTheNodesDue) {
  constexpr int kNodes = 500;
  for (int i = 0; i < kNodes; ++i) AddNode("n" + std::to_string(i));
  for (int i = 0; i < kNodes; ++i)
    ASSERT_TRUE(liveness_->Heartbeat("n" + std::to_string(i), {}).ok());
  liveness_->CheckOnce();
  for (int round = 0; round < 20; ++round) {
    clock_.Advance(1s);
    for (int i = 0; i < kNodes; ++i) (void)liveness_->Heartbeat("n" + std::to_string(i), {});
    liveness_->CheckOnce();
  }
  // Each node's entry comes due once per TTL (once in these 20 s, at 11 s)
  // and goes back at its last heartbeat; every pass looking at every node
  // would be 21 x 500.
  EXPECT_EQ(liveness_->entries_checked(), 1u * kNodes);
  // One node falls silent: it alone goes down.
  const uint64_t before = liveness_->entries_checked();
  clock_.Advance(1s);
  for (int i = 1; i < kNodes; ++i) (void)liveness_->Heartbeat("n" + std::to_string(i), {});
  for (int k = 0; k < 12; ++k) {
    clock_.Advance(1s);
    for (int i = 1; i < kNodes; ++i) (void)liveness_->Heartbeat("n" + std::to_string(i), {});
    liveness_->CheckOnce();
  }
  EXPECT_EQ(StatusOf("n0"), v1::Node::DOWN);
  for (int i = 1; i < kNodes; ++i)
    ASSERT_EQ(StatusOf("n" + std::to_string(i)), v1::Node::READY) << i;
  // Every entry came due once more in these 13 s (at 22 s; the others
  // again at 33 s), and n0's once more when it expired: not 13 x 500.
  EXPECT_LE(liveness_->entries_checked() - before, 2u * kNodes);
}

}  // namespace
}  // namespace orch::master
