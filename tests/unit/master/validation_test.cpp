#include "master/validation.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace orch::master {
namespace {

struct Case {
  const char* name;
  void (*mutate)(v1::Job*);
  const char* expect;
};

class ValidationTest : public ::testing::TestWithParam<Case> {};

TEST_P(ValidationTest, RejectsWithFieldPath) {
  v1::Job job = testing::SampleJob("web", 1);
  GetParam().mutate(&job);
  Status st = ValidateJob(&job);
  ASSERT_FALSE(st.ok()) << GetParam().name;
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(GetParam().expect), std::string::npos) << st.message();
}

INSTANTIATE_TEST_SUITE_P(
    BadJobs, ValidationTest,
    ::testing::Values(
        Case{"missing id", [](v1::Job* j) { j->clear_id(); }, "id: is required"},
        Case{"bad id", [](v1::Job* j) { j->set_id("no spaces please"); }, "id: \"no spaces please\""},
        Case{"no groups", [](v1::Job* j) { j->clear_groups(); }, "groups: at least one group"},
        Case{"negative count", [](v1::Job* j) { j->mutable_groups(0)->set_count(-1); },
             "groups[0].count: must not be negative"},
        Case{"no tasks", [](v1::Job* j) { j->mutable_groups(0)->clear_tasks(); }, "groups[0].tasks: at least one"},
        Case{"unknown driver", [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->set_driver("lxc"); },
             "groups[0].tasks[0].driver: unknown driver \"lxc\""},
        Case{"no command", [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->clear_command(); },
             "groups[0].tasks[0].command: is required"},
        Case{"docker without image",
             [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->set_driver("docker"); },
             "groups[0].tasks[0].image: is required"},
        Case{"zero cpu",
             [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->mutable_resources()->set_cpu(0); },
             "groups[0].tasks[0].resources.cpu: must be positive"},
        Case{"zero memory",
             [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->mutable_resources()->set_memory(0); },
             "groups[0].tasks[0].resources.memory: must be positive"},
        Case{"no resources", [](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->clear_resources(); },
             "groups[0].tasks[0].resources: is required"},
        Case{"duplicate task",
             [](v1::Job* j) { *j->mutable_groups(0)->add_tasks() = j->groups(0).tasks(0); },
             "groups[0].tasks[1].name: \"t\" appears twice"},
        Case{"service port not in network",
             [](v1::Job* j) {
               auto* s = j->mutable_groups(0)->mutable_tasks(0)->mutable_service();
               s->set_name("web");
               s->set_port("http");
             },
             "service.port: \"http\" is not a port"}),
    [](const ::testing::TestParamInfo<Case>& info) {
      std::string n = info.param.name;
      for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return n;
    });

TEST(ValidationDefaultsTest, FillsTypeAndPriorityAndClearsServerFields) {
  v1::Job job = testing::SampleJob("web", 1);
  job.clear_type();
  job.clear_priority();
  job.set_version(7);
  job.set_modify_index(99);
  ASSERT_TRUE(ValidateJob(&job).ok());
  EXPECT_EQ(job.type(), v1::Job::SERVICE);
  EXPECT_EQ(job.priority(), 50);
  EXPECT_EQ(job.version(), 0u);
  EXPECT_EQ(job.modify_index(), 0u);
}

}  // namespace
}  // namespace orch::master
