#include "common/thread_priority.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

namespace orch {
namespace {

int NiceOfThisThread() { return getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid))); }

// Bulk work lowers its own thread's priority once; the other threads of the
// process (the Raft loop, the I/O threads) keep theirs.
TEST(ThreadPriorityTest, BulkWorkLowersOnlyItsOwnThreadAndOnlyOnce) {
  const int main_before = NiceOfThisThread();
  int before = 0, after = 0, again = 0;
  std::thread t([&] {
    before = NiceOfThisThread();
    RunThisThreadAsBulkWork();
    after = NiceOfThisThread();
    RunThisThreadAsBulkWork();
    again = NiceOfThisThread();
  });
  t.join();
  EXPECT_EQ(after, std::min(before + kBulkWorkNice, 19));
  EXPECT_EQ(again, after);
  EXPECT_EQ(NiceOfThisThread(), main_before);
}

}  // namespace
}  // namespace orch
