// `run --wait`'s deployment view: a header, then a line per group with a
// progress bar of its healthy allocations.
#include <gtest/gtest.h>

#include "api/orchctl/deployment_cmds.h"

namespace orch::ctl {
namespace {

TEST(DeploymentView, ALinePerGroupWithAProgressBar) {
  v1::Deployment d;
  d.set_id("1a2b3c4d-0000");
  d.set_status(v1::Deployment::RUNNING);
  d.set_status_description("deployment in progress");
  auto* web = d.add_groups();
  web->set_name("web");
  web->set_desired_total(4);
  web->set_healthy(1);
  web->set_placed(2);
  auto* api = d.add_groups();
  api->set_name("api-long");
  api->set_desired_total(2);
  api->set_healthy(2);
  api->set_placed(2);
  api->set_desired_canaries(1);
  api->set_healthy_canaries(1);
  auto lines = DeploymentLines(d);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "deployment 1a2b3c4d running: deployment in progress");
  EXPECT_EQ(lines[1], "  web       [#####---------------]  1/4 healthy, 2 placed, 0 unhealthy");
  EXPECT_EQ(lines[2], "  api-long  [####################]  2/2 healthy, 2 placed, 0 unhealthy, 1/1 canaries healthy");
}

}  // namespace
}  // namespace orch::ctl
