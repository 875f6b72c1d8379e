// Task secrets stay out of what the masters show: answers carry "(redacted)"
// and the plan's diff an opaque tag instead of the value; a secret change
// still replaces the allocations. (The REST routes themselves:
// ApiTest.EveryReadEndpointRedactsSecretsButTheNodesOwnWatch.)
#include "master/model/secrets.h"

#include <gtest/gtest.h>

#include "common/json.h"
#include "master/deployments/job_diff.h"
#include "test_util.h"

namespace orch::master {
namespace {

TEST(SecretsTest, RedactedJsonHidesValuesKeepsKeysAndLeavesTheOriginal) {
  v1::Job job = testing::SampleJob("j", 1);
  (*job.mutable_groups(0)->mutable_tasks(0)->mutable_secrets())["TOKEN"] = "abc-123";
  v1::JobList list;
  *list.add_jobs() = job;
  std::string json = RedactedJson(list);
  EXPECT_EQ(json.find("abc-123"), std::string::npos) << json;
  EXPECT_NE(json.find("\"TOKEN\":\"(redacted)\""), std::string::npos) << json;
  EXPECT_EQ(list.jobs(0).groups(0).tasks(0).secrets().at("TOKEN"), "abc-123");
  v1::Node node = testing::SampleNode("n", 1000, 1024);
  EXPECT_EQ(RedactedJson(node), ToJson(node)) << "a message without tasks is as it was";
}

TEST(SecretsTest, ARegistryPasswordIsRedactedToo) {
  v1::Job job = testing::SampleJob("j", 1);
  auto* t = job.mutable_groups(0)->mutable_tasks(0);
  t->set_driver("docker");
  t->mutable_docker()->mutable_auth()->set_username("deploy");
  t->mutable_docker()->mutable_auth()->set_password("hunter2-registry");
  std::string json = RedactedJson(job);
  EXPECT_EQ(json.find("hunter2-registry"), std::string::npos) << json;
  EXPECT_NE(json.find("\"username\":\"deploy\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"password\":\"(redacted)\""), std::string::npos) << json;
}

TEST(SecretsTest, DiffShowsAChangedSecretAsATagNeverItsValueAndStillReplaces) {
  v1::Job before = testing::SampleJob("j", 1);
  (*before.mutable_groups(0)->mutable_tasks(0)->mutable_secrets())["TOKEN"] = "old-value-1";
  v1::Job after = before;
  (*after.mutable_groups(0)->mutable_tasks(0)->mutable_secrets())["TOKEN"] = "new-value-2";
  v1::JobDiff diff = DiffJobs(&before, after);
  std::string json = ToJson(diff);
  EXPECT_EQ(json.find("old-value-1"), std::string::npos) << json;
  EXPECT_EQ(json.find("new-value-2"), std::string::npos) << json;
  ASSERT_EQ(diff.fields_size(), 1) << json;
  EXPECT_EQ(diff.fields(0).type(), v1::FieldDiff::EDITED);
  EXPECT_NE(diff.fields(0).before(), diff.fields(0).after());
  EXPECT_NE(diff.fields(0).before().find("(secret "), std::string::npos) << json;
  EXPECT_EQ(diff.groups(0).update(), "destructive update") << json;
  // A whole new task with secrets: not shown either.
  v1::Job more = after;
  auto* t2 = more.mutable_groups(0)->add_tasks();
  *t2 = more.groups(0).tasks(0);
  t2->set_name("t2");
  json = ToJson(DiffJobs(&after, more));
  EXPECT_EQ(json.find("new-value-2"), std::string::npos) << json;
}

}  // namespace
}  // namespace orch::master
