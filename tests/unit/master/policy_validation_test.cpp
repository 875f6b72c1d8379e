// Job validation of the restart policy and health checks: bad values are
// refused with the field's path, good ones pass unchanged.
#include <gtest/gtest.h>

#include "master/validation.h"
#include "test_util.h"

namespace orch::master {
namespace {

Status Validate(void (*mutate)(v1::Job*)) {
  v1::Job job = testing::SampleJob("web", 1);
  mutate(&job);
  return ValidateJob(&job);
}

TEST(PolicyValidationTest, RejectsBadRestartPolicies) {
  auto st = Validate([](v1::Job* j) { j->mutable_groups(0)->mutable_restart()->set_mode("sometimes"); });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("groups[0].restart.mode: must be fail or delay"), std::string::npos)
      << st.message();
  st = Validate([](v1::Job* j) { j->mutable_groups(0)->mutable_restart()->set_attempts(-1); });
  EXPECT_NE(st.message().find("groups[0].restart.attempts"), std::string::npos) << st.message();
  EXPECT_TRUE(Validate([](v1::Job* j) {
                auto* r = j->mutable_groups(0)->mutable_restart();
                r->set_attempts(0);
                r->set_mode("delay");
                r->mutable_delay()->set_seconds(1);
              }).ok());
}

TEST(PolicyValidationTest, RejectsChecksThatCannotRun) {
  auto st = Validate([](v1::Job* j) {
    auto* c = j->mutable_groups(0)->mutable_tasks(0)->mutable_check();
    c->set_type(v1::HealthCheck::HTTP);
    c->set_port("http");
  });
  EXPECT_NE(st.message().find("groups[0].tasks[0].check.port: \"http\" is not a port"), std::string::npos)
      << st.message();
  st = Validate([](v1::Job* j) { j->mutable_groups(0)->mutable_tasks(0)->mutable_check()->set_path("/"); });
  EXPECT_NE(st.message().find("check.type: required"), std::string::npos) << st.message();
  st = Validate([](v1::Job* j) {
    j->mutable_groups(0)->mutable_tasks(0)->mutable_check()->set_type(v1::HealthCheck::COMMAND);
  });
  EXPECT_NE(st.message().find("check.command: required"), std::string::npos) << st.message();
  EXPECT_TRUE(Validate([](v1::Job* j) {
                j->mutable_groups(0)->mutable_network()->add_ports()->set_name("http");
                auto* c = j->mutable_groups(0)->mutable_tasks(0)->mutable_check();
                c->set_type(v1::HealthCheck::TCP);
                c->set_port("http");
              }).ok());
}

}  // namespace
}  // namespace orch::master
