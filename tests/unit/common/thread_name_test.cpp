#include "common/thread_name.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <string>
#include <thread>

namespace orch {
namespace {

std::string NameOfThisThread() {
  char buf[16] = {};
  EXPECT_EQ(pthread_getname_np(pthread_self(), buf, sizeof buf), 0);
  return buf;
}

// A thread names itself, long names are cut to the kernel's 15 characters,
// and the other threads keep theirs.
TEST(ThreadNameTest, NamesOnlyTheCallingThreadCutToFifteenCharacters) {
  const std::string main_before = NameOfThisThread();
  std::string short_name, long_name;
  std::thread t([&] {
    NameThisThread("raft-apply");
    short_name = NameOfThisThread();
    NameThisThread("a-name-longer-than-fifteen");
    long_name = NameOfThisThread();
  });
  t.join();
  EXPECT_EQ(short_name, "raft-apply");
  EXPECT_EQ(long_name, "a-name-longer-t");
  EXPECT_EQ(NameOfThisThread(), main_before);
}

}  // namespace
}  // namespace orch
