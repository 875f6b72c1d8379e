// BlockingWatch: which of its queries are stale reads and which answers it
// takes, against a scripted master.
#include "agent/blocking_watch.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

namespace orch::agent {
namespace {

using namespace std::chrono_literals;

// A master that answers each query with the next scripted answer and
// records how it was asked; past the script it answers 503.
class ScriptedMaster {
 public:
  struct Reply {
    uint64_t index;
    bool known_leader = true;
  };
  struct Asked {
    uint64_t index;
    bool stale;
  };
  explicit ScriptedMaster(std::deque<Reply> script) : script_(std::move(script)) {}

  BlockingWatch::Query Query() {
    return [this](uint64_t index, bool stale) -> Result<BlockingWatch::Answer> {
      std::lock_guard lock(mu_);
      if (script_.empty()) {
        over_ = true;
        cv_.notify_all();
        return Status::Unavailable("script over");
      }
      asked_.push_back({index, stale});
      Reply r = script_.front();
      script_.pop_front();
      return BlockingWatch::Answer{r.index,
                                   [this, at = r.index] {
                                     std::lock_guard lock(mu_);
                                     delivered_.push_back(at);
                                   },
                                   r.known_leader};
    };
  }
  // Waits for a query past the script (the watch asks again only once it
  // has handled the last answer); then what was asked and delivered.
  bool WaitDone() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return over_; });
  }
  std::vector<Asked> asked() {
    std::lock_guard lock(mu_);
    return asked_;
  }
  std::vector<uint64_t> delivered() {
    std::lock_guard lock(mu_);
    return delivered_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Reply> script_;
  bool over_ = false;
  std::vector<Asked> asked_;
  std::vector<uint64_t> delivered_;
};

// Runs a watch against `m` until its script is used up.
void RunWatch(ScriptedMaster& m) {
  BlockingWatch w("test", nullptr, m.Query());
  ASSERT_TRUE(m.WaitDone());
  w.Stop();
}

TEST(BlockingWatchTest, TheFirstQueryIsConsistentAndTheNextOnesStale) {
  ScriptedMaster m({{10}, {11}, {12}});
  RunWatch(m);
  auto asked = m.asked();
  ASSERT_EQ(asked.size(), 3u);
  EXPECT_FALSE(asked[0].stale);
  EXPECT_EQ(asked[0].index, 0u);
  EXPECT_TRUE(asked[1].stale);
  EXPECT_EQ(asked[1].index, 10u);
  EXPECT_TRUE(asked[2].stale);
  EXPECT_EQ(asked[2].index, 11u);
  EXPECT_EQ(m.delivered(), (std::vector<uint64_t>{10, 11, 12}));
}

// Another master, behind the last: its answer is not taken, and a
// consistent query decides -- here lower still (the state was rebuilt),
// so it is taken as is.
TEST(BlockingWatchTest, AStaleAnswerBehindTheLastIsDroppedAndAConsistentOneDecides) {
  ScriptedMaster m({{10}, {5}, {4}, {6}});
  RunWatch(m);
  auto asked = m.asked();
  ASSERT_EQ(asked.size(), 4u);
  EXPECT_TRUE(asked[1].stale);
  EXPECT_EQ(asked[1].index, 10u);
  EXPECT_FALSE(asked[2].stale);  // after the answer behind
  EXPECT_EQ(asked[2].index, 10u);
  EXPECT_TRUE(asked[3].stale);  // the consistent answer was taken
  EXPECT_EQ(asked[3].index, 4u);
  EXPECT_EQ(m.delivered(), (std::vector<uint64_t>{10, 4, 6}));
}

// A master that knows no leader may answer from a copy that stopped
// moving: its answer is taken (it is not behind), the next query is
// consistent.
TEST(BlockingWatchTest, AnAnswerFromAMasterWithoutALeaderMakesTheNextQueryConsistent) {
  ScriptedMaster m({{10}, {12, false}, {13}, {14}});
  RunWatch(m);
  auto asked = m.asked();
  ASSERT_EQ(asked.size(), 4u);
  EXPECT_TRUE(asked[1].stale);
  EXPECT_FALSE(asked[2].stale);
  EXPECT_EQ(asked[2].index, 12u);
  EXPECT_TRUE(asked[3].stale);
  EXPECT_EQ(m.delivered(), (std::vector<uint64_t>{10, 12, 13, 14}));
}

}  // namespace
}  // namespace orch::agent
