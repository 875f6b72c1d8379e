// The test harness's loopback ports: one picked by another test process is
// not given out again while that process lives, bound or not.
#include "tests/support/ports.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

namespace orch::testing {
namespace {

TEST(LoopbackPortsTest, PortsAnotherProcessPickedStayItsOwnUntilItExits) {
  int to_child[2], from_child[2];
  ASSERT_EQ(pipe(to_child), 0);
  ASSERT_EQ(pipe(from_child), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Another test process: picks a run of ports, binds none, and lives
    // until the parent closes its end.
    close(to_child[1]);
    close(from_child[0]);
    int first = FreeLoopbackPortRange(16);
    int one = FreeLoopbackPort();
    int picked[2] = {first, one};
    (void)!write(from_child[1], picked, sizeof(picked));
    char c;
    while (read(to_child[0], &c, 1) > 0) {
    }
    _exit(0);
  }
  close(to_child[0]);
  close(from_child[1]);
  int picked[2] = {0, 0};
  ASSERT_EQ(read(from_child[0], picked, sizeof(picked)), static_cast<ssize_t>(sizeof(picked)));
  const int first = picked[0], one = picked[1];
  ASSERT_GT(first, 0);
  ASSERT_GT(one, 0);

  // Nothing is bound there, yet this process may not have any of them.
  EXPECT_FALSE(ClaimLoopbackPorts(first, 16));
  EXPECT_FALSE(ClaimLoopbackPorts(first + 15, 1));
  EXPECT_FALSE(ClaimLoopbackPorts(one, 1));

  close(to_child[1]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // Its claims ended with it.
  EXPECT_TRUE(ClaimLoopbackPorts(first, 16));
  EXPECT_TRUE(ClaimLoopbackPorts(one, 1));
}

}  // namespace
}  // namespace orch::testing
