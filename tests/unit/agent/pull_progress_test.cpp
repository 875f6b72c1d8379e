// PullProgress: the words a task's status shows while its image is pulled.
#include "agent/drivers/pull_progress.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace orch::agent {
namespace {

using namespace std::chrono_literals;

TEST(PullProgressTest, SaysItBeginsThenSumsTheLayersAtMostOncePerInterval) {
  std::vector<std::string> said;
  PullProgress p(
      "reg/app:1", [&](const std::string& s) { said.push_back(s); }, 50ms);
  p.Begin("as bob");
  ASSERT_EQ(said.size(), 1u);
  EXPECT_EQ(said[0], "pulling image reg/app:1 as bob");
  p.Layer("a", 1 << 20, 2 << 20);
  p.Layer("b", 0, 4 << 20);
  EXPECT_EQ(said.size(), 1u) << "not again within the interval";
  std::this_thread::sleep_for(60ms);
  p.LayerDone("a");
  ASSERT_EQ(said.size(), 2u);
  EXPECT_EQ(said[1], "pulling image reg/app:1: 2.0 of 6.0 MiB, 1 of 2 layers done");
  p.Phase("unpacking");
  EXPECT_EQ(said.back(), "unpacking image reg/app:1");
}

TEST(PullProgressTest, UnknownTotalsAndNoSink) {
  PullProgress quiet("x", nullptr);
  quiet.Begin();
  quiet.Layer("a", 512 * 1024, 0);
  EXPECT_EQ(quiet.Describe(), "pulling image x: 0.5 MiB, 0 of 1 layers done");
}

}  // namespace
}  // namespace orch::agent
