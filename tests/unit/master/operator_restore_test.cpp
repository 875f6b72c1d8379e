// The state machine's side of an operator restore (RestoreSnapshotCommand):
// chunks staged, a commit that replaces the state with the image's but keeps
// the cluster's members and index, indexes that never go back, bad images
// refused with the state unchanged, and a restore interrupted by a Raft
// snapshot that still completes on the master installing it.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "common/ids.h"
#include "master/replication/snapshot_check.h"
#include "master/state/state_store.h"
#include "test_util.h"

namespace orch::master {
namespace {

using testing::RegisterJobCmd;
using testing::RegisterNodeCmd;
using testing::SampleJob;
using testing::SampleNode;

std::unique_ptr<StateStore> NewStore(const std::string& name) {
  return std::move(*StateStore::Open(testing::TempDir(name) + "/state.db"));
}

v1::Member Member(const std::string& id) {
  v1::Member m;
  m.set_id(id);
  m.set_raft_address("127.0.0.1:1");
  return m;
}

v1::Command Chunk(const std::string& restore_id, const std::string& image, std::size_t offset,
                  std::size_t n) {
  v1::Command cmd;
  auto* c = cmd.mutable_restore_snapshot();
  c->set_restore_id(restore_id);
  c->set_offset(offset);
  c->set_data(image.substr(offset, n));
  return cmd;
}

v1::Command Commit(const std::string& restore_id, const std::string& image) {
  v1::Command cmd;
  auto* c = cmd.mutable_restore_snapshot();
  c->set_restore_id(restore_id);
  c->set_commit(true);
  c->set_size(image.size());
  c->set_sha256(Sha256Hex(image));
  return cmd;
}

// Applies `image` as a restore from Raft index `index` on: its chunks of
// `chunk` bytes, then the commit. Returns the commit's outcome; `*next` the
// index after it.
Status Restore(StateStore* s, const std::string& id, const std::string& image, uint64_t index,
               uint64_t* next, std::size_t chunk = 0) {
  if (chunk == 0) chunk = image.size() / 3 + 1;
  Status outcome;
  for (std::size_t off = 0; off < image.size(); off += chunk) {
    EXPECT_TRUE(s->Apply(index++, Chunk(id, image, off, chunk), &outcome).ok());
    EXPECT_TRUE(outcome.ok()) << outcome.ToString();
  }
  EXPECT_TRUE(s->Apply(index++, Commit(id, image), &outcome).ok());
  if (next) *next = index;
  return outcome;
}

std::set<std::string> JobIds(const StateStore& s) {
  std::set<std::string> ids;
  for (const auto& j : s.ListJobs()) ids.insert(j.id());
  return ids;
}

// Cluster a: m-a, jobs a1 and a2, node n1, up to Raft index `last`.
std::string ImageOfA(uint64_t last) {
  auto a = NewStore("a");
  EXPECT_TRUE(a->ApplyMembership(1, Member("m-a"), false).ok());
  EXPECT_TRUE(a->Apply(2, RegisterNodeCmd(SampleNode("n1"))).ok());
  EXPECT_TRUE(a->Apply(3, RegisterJobCmd(SampleJob("a1", 1), "ea1")).ok());
  EXPECT_TRUE(a->Apply(last, RegisterJobCmd(SampleJob("a2", 1), "ea2")).ok());
  return *a->SerializeImage();
}

TEST(OperatorRestoreTest, ReplacesTheStateButKeepsTheMembersAndTheIndex) {
  const std::string image = ImageOfA(5);
  auto b = NewStore("b");
  ASSERT_TRUE(b->ApplyMembership(1, Member("m-b"), false).ok());
  ASSERT_TRUE(b->Apply(2, RegisterJobCmd(SampleJob("b1", 1), "eb1")).ok());
  ASSERT_TRUE(b->Apply(3, RegisterJobCmd(SampleJob("b2", 1), "eb2")).ok());
  // b's log (index 3) is behind a's (5) here: see the next test for the other way.
  for (uint64_t i = 4; i < 10; ++i) ASSERT_TRUE(b->MarkApplied(i).ok());
  uint64_t next = 0;
  ASSERT_TRUE(Restore(b.get(), "r1", image, 10, &next).ok());
  const uint64_t restored_at = next - 1;
  EXPECT_EQ(b->AppliedIndex(), restored_at);
  EXPECT_EQ(b->StateIndex(), restored_at) << "a's indexes (5) are behind b's: no jump";
  EXPECT_EQ(JobIds(*b), (std::set<std::string>{"a1", "a2"}));
  EXPECT_EQ(b->ListNodes().size(), 1u);
  ASSERT_EQ(b->ListMembers().size(), 1u);
  EXPECT_EQ(b->ListMembers()[0].id(), "m-b") << "membership is the log's, not the image's";
  // Everything changed at the restore: a watcher of any object wakes.
  EXPECT_EQ(b->GetJob("a1")->modify_index(), restored_at);
  EXPECT_EQ(b->GetNode("n1")->modify_index(), restored_at);
  EXPECT_EQ(b->GetJob("a1")->create_index(), 3u) << "creation stays as it was";
  // The restored evaluations wait for the scheduler.
  EXPECT_EQ(b->JobsWithWaitingEvaluations(), (std::set<std::string>{"a1", "a2"}));
  // Writes go on from there.
  ASSERT_TRUE(b->Apply(next, RegisterJobCmd(SampleJob("b3", 1), "eb3")).ok());
  EXPECT_EQ(b->GetJob("b3")->create_index(), next);
}

TEST(OperatorRestoreTest, AnImageThatCountedFurtherMovesTheIndexPastIt) {
  const std::string image = ImageOfA(1000);
  const std::string path = testing::TempDir("b") + "/state.db";
  uint64_t next = 0;
  {
    auto b = std::move(*StateStore::Open(path));
    ASSERT_TRUE(b->Apply(1, RegisterJobCmd(SampleJob("b1", 1), "eb1")).ok());
    ASSERT_TRUE(Restore(b.get(), "r1", image, 2, &next).ok());
    // The commit applied at Raft index next-1; the state counts past 1000.
    EXPECT_EQ(b->AppliedIndex(), next - 1);
    EXPECT_EQ(b->StateIndex(), 1001u);
    EXPECT_EQ(b->StateIndexAt(next), 1002u);
    EXPECT_EQ(b->GetJob("a2")->modify_index(), 1001u);
    ASSERT_TRUE(b->Apply(next, RegisterJobCmd(SampleJob("b2", 1), "eb2")).ok());
    EXPECT_EQ(b->GetJob("b2")->create_index(), 1002u);
    EXPECT_EQ(b->StateIndex(), 1002u);
  }
  // A restart resumes in both counts.
  auto b = std::move(*StateStore::Open(path));
  EXPECT_EQ(b->AppliedIndex(), next);
  EXPECT_EQ(b->StateIndex(), 1002u);
  // A Raft snapshot carries the offset to a master that installs it.
  auto c = NewStore("c");
  ASSERT_TRUE(c->RestoreImage(*b->SerializeImage()).ok());
  EXPECT_EQ(c->AppliedIndex(), next);
  EXPECT_EQ(c->StateIndex(), 1002u);
  // Restoring an older image later never moves the index back.
  uint64_t after = 0;
  ASSERT_TRUE(Restore(c.get(), "r2", ImageOfA(5), next + 1, &after).ok());
  const uint64_t offset = 1002 - next;  // StateIndex() - AppliedIndex() since the first restore
  EXPECT_EQ(c->StateIndex(), (after - 1) + offset) << "the offset stays";
  EXPECT_GT(c->StateIndex(), 1002u);
}

TEST(OperatorRestoreTest, BadImagesAreRefusedAndChangeNothing) {
  auto b = NewStore("b");
  ASSERT_TRUE(b->Apply(1, RegisterJobCmd(SampleJob("kept", 1), "e1")).ok());
  uint64_t index = 2;
  // A sound SQLite database that is not a state image (no meta table).
  std::string not_ours;
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);", nullptr,
                           nullptr, nullptr),
              SQLITE_OK);
    sqlite3_int64 size = 0;
    unsigned char* bytes = sqlite3_serialize(db, "main", &size, 0);
    not_ours.assign(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(size));
    sqlite3_free(bytes);
    sqlite3_close(db);
  }
  const std::string whole = ImageOfA(5);
  for (const auto& [name, image] : std::vector<std::pair<std::string, std::string>>{
           {"garbage", std::string(8192, 'x')},
           {"half an image", whole.substr(0, whole.size() / 2)},
           {"another database", not_ours}}) {
    uint64_t next = 0;
    Status outcome = Restore(b.get(), "bad-" + name, image, index, &next);
    EXPECT_EQ(outcome.code(), StatusCode::kInvalidArgument) << name << ": " << outcome.ToString();
    EXPECT_EQ(JobIds(*b), std::set<std::string>{"kept"}) << name;
    EXPECT_EQ(b->AppliedIndex(), next - 1) << name << ": the index moves on";
    index = next;
  }
  // The commit's size or SHA-256 not those of what was staged.
  const std::string good = ImageOfA(5);
  Status outcome;
  ASSERT_TRUE(b->Apply(index++, Chunk("r", good, 0, good.size()), &outcome).ok());
  v1::Command wrong = Commit("r", good);
  wrong.mutable_restore_snapshot()->set_sha256(Sha256Hex("something else"));
  ASSERT_TRUE(b->Apply(index++, wrong, &outcome).ok());
  EXPECT_EQ(outcome.code(), StatusCode::kInvalidArgument) << outcome.ToString();
  ASSERT_TRUE(b->Apply(index++, Chunk("r2", good, 0, 100), &outcome).ok());
  ASSERT_TRUE(b->Apply(index++, Commit("r2", good), &outcome).ok());
  EXPECT_EQ(outcome.code(), StatusCode::kFailedPrecondition) << outcome.ToString();
  EXPECT_EQ(JobIds(*b), std::set<std::string>{"kept"});
  // A chunk that does not follow what is staged.
  ASSERT_TRUE(b->Apply(index++, Chunk("r3", good, 0, 100), &outcome).ok());
  ASSERT_TRUE(b->Apply(index++, Chunk("r3", good, 200, 100), &outcome).ok());
  EXPECT_EQ(outcome.code(), StatusCode::kFailedPrecondition) << outcome.ToString();
}

TEST(OperatorRestoreTest, ANewRestoreDropsAnUnfinishedOne) {
  const std::string image = ImageOfA(5);
  auto b = NewStore("b");
  Status outcome;
  ASSERT_TRUE(b->Apply(1, Chunk("first", image, 0, 1000), &outcome).ok());
  uint64_t next = 0;
  ASSERT_TRUE(Restore(b.get(), "second", image, 2, &next).ok());
  ASSERT_TRUE(b->Apply(next, Chunk("first", image, 1000, 1000), &outcome).ok());
  EXPECT_EQ(outcome.code(), StatusCode::kFailedPrecondition) << outcome.ToString();
  EXPECT_EQ(JobIds(*b), (std::set<std::string>{"a1", "a2"}));
}

TEST(OperatorRestoreTest, ARaftSnapshotTakenMidRestoreCarriesTheStagedChunks) {
  const std::string image = ImageOfA(5);
  const std::size_t half = image.size() / 2;
  auto leader = NewStore("leader");
  Status outcome;
  ASSERT_TRUE(leader->Apply(1, Chunk("r", image, 0, half), &outcome).ok());
  // A follower installs a snapshot taken here, then applies the rest.
  auto follower = NewStore("follower");
  ASSERT_TRUE(follower->RestoreImage(*leader->SerializeImage()).ok());
  for (auto* s : {leader.get(), follower.get()}) {
    ASSERT_TRUE(s->Apply(2, Chunk("r", image, half, image.size()), &outcome).ok());
    ASSERT_TRUE(outcome.ok()) << outcome.ToString();
    ASSERT_TRUE(s->Apply(3, Commit("r", image), &outcome).ok());
    EXPECT_TRUE(outcome.ok()) << outcome.ToString();
    EXPECT_EQ(JobIds(*s), (std::set<std::string>{"a1", "a2"}));
    EXPECT_EQ(s->StateIndex(), 6u);
  }
}

TEST(OperatorRestoreTest, ACommitInsideABatchAppliesBetweenItsNeighbours) {
  const std::string image = ImageOfA(5);
  auto b = NewStore("b");
  const v1::Command chunk = Chunk("r", image, 0, image.size());
  const v1::Command commit = Commit("r", image);
  const v1::Command before = RegisterJobCmd(SampleJob("before", 1), "e1");
  const v1::Command after = RegisterJobCmd(SampleJob("after", 1), "e2");
  std::vector<Status> outcomes;
  ASSERT_TRUE(
      b->ApplyBatch({{1, &before}, {2, &chunk}, {3, &commit}, {4, &after}}, &outcomes).ok());
  for (const auto& o : outcomes) EXPECT_TRUE(o.ok()) << o.ToString();
  EXPECT_EQ(JobIds(*b), (std::set<std::string>{"a1", "a2", "after"}))
      << "'before' is replaced by the image";
  EXPECT_EQ(b->AppliedIndex(), 4u);
  // Replaying the same batch changes nothing.
  ASSERT_TRUE(
      b->ApplyBatch({{1, &before}, {2, &chunk}, {3, &commit}, {4, &after}}, &outcomes).ok());
  EXPECT_EQ(JobIds(*b), (std::set<std::string>{"a1", "a2", "after"}));
}

TEST(OperatorRestoreTest, CheckStateImageCountsWhatAnImageHolds) {
  auto info = replication::CheckStateImage(ImageOfA(7));
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->applied_index, 7u);
  EXPECT_EQ(info->index, 7u);
  EXPECT_EQ(info->jobs, 2u);
  EXPECT_EQ(info->nodes, 1u);
  EXPECT_EQ(info->evaluations, 2u);
  EXPECT_EQ(replication::CheckStateImage(std::string(4096, 'x')).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace orch::master
