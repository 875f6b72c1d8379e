// The job diff (master/deployments/job_diff.h): field paths, and what each
// change does to a group -- scale, in place, destructive, create, destroy.
#include "master/deployments/job_diff.h"

#include <gtest/gtest.h>

#include "sched_util.h"

namespace orch::master {
namespace {

using sched::testing::Job;

const v1::FieldDiff* Find(const v1::JobDiff& d, const std::string& path) {
  for (const auto& f : d.fields()) {
    if (f.path() == path) return &f;
  }
  return nullptr;
}

TEST(JobDiff, IdenticalSpecsAreUnchangedWhateverTheMastersSet) {
  v1::Job a = Job("web", 3);
  v1::Job b = a;
  b.set_version(7);
  b.set_modify_index(99);
  b.set_stable(true);
  b.set_status(v1::Job::RUNNING);
  auto d = DiffJobs(&b, a);
  EXPECT_TRUE(d.unchanged());
  EXPECT_EQ(d.fields_size(), 0);
  ASSERT_EQ(d.groups_size(), 1);
  EXPECT_EQ(d.groups(0).update(), "none");
  EXPECT_EQ(d.version_before(), 7u);
}

TEST(JobDiff, CountIsAScaleConstraintsInPlaceCommandsDestructive) {
  v1::Job before = Job("web", 3);
  v1::Job scaled = before;
  scaled.mutable_groups(0)->set_count(5);
  auto d = DiffJobs(&before, scaled);
  EXPECT_EQ(d.groups(0).update(), "scale");
  EXPECT_EQ(d.groups(0).count_before(), 3);
  EXPECT_EQ(d.groups(0).count_after(), 5);
  const auto* count = Find(d, "groups[g].count");
  ASSERT_NE(count, nullptr);
  EXPECT_EQ(count->type(), v1::FieldDiff::EDITED);
  EXPECT_EQ(count->before(), "3");
  EXPECT_EQ(count->after(), "5");

  v1::Job constrained = before;
  auto* c = constrained.mutable_groups(0)->add_constraints();
  c->set_attribute("os");
  c->set_value("linux");
  constrained.mutable_groups(0)->mutable_update()->mutable_min_healthy_time()->set_seconds(30);
  d = DiffJobs(&before, constrained);
  EXPECT_EQ(d.groups(0).update(), "in-place update");
  const auto* added = Find(d, "groups[g].constraints[0]");
  ASSERT_NE(added, nullptr);
  EXPECT_EQ(added->type(), v1::FieldDiff::ADDED);
  const auto* update = Find(d, "groups[g].update");
  ASSERT_NE(update, nullptr) << d.DebugString();
  EXPECT_EQ(update->type(), v1::FieldDiff::ADDED);

  v1::Job changed = before;
  auto* t = changed.mutable_groups(0)->mutable_tasks(0);
  t->set_command("/bin/other");
  t->add_args("--fast");
  (*t->mutable_env())["MODE"] = "x";
  d = DiffJobs(&before, changed);
  EXPECT_EQ(d.groups(0).update(), "destructive update");
  const auto* cmd = Find(d, "groups[g].tasks[t].command");
  ASSERT_NE(cmd, nullptr);
  EXPECT_EQ(cmd->before(), "\"/bin/sleep\"");
  EXPECT_EQ(cmd->after(), "\"/bin/other\"");
  ASSERT_NE(Find(d, "groups[g].tasks[t].args[0]"), nullptr);
  const auto* env = Find(d, "groups[g].tasks[t].env[MODE]");
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(env->type(), v1::FieldDiff::ADDED);
  EXPECT_EQ(env->after(), "\"x\"");
}

TEST(JobDiff, GroupsAndTasksAreMatchedByName) {
  v1::Job before = Job("web", 1);
  v1::Job after = before;
  after.mutable_groups(0)->set_name("api");  // g removed, api added
  *after.add_groups() = before.groups(0);    // g kept as second group
  after.mutable_groups(1)->mutable_tasks(0)->mutable_resources()->set_memory(128);
  auto d = DiffJobs(&before, after);
  std::map<std::string, std::string> updates;
  for (const auto& g : d.groups()) updates[g.name()] = g.update();
  EXPECT_EQ(updates["api"], "create");
  EXPECT_EQ(updates["g"], "destructive update");  // memory is what the task runs with
  const auto* mem = Find(d, "groups[g].tasks[t].resources.memory");
  ASSERT_NE(mem, nullptr) << d.DebugString();
  EXPECT_EQ(mem->before(), "64");
  EXPECT_EQ(mem->after(), "128");
  ASSERT_NE(Find(d, "groups[api]"), nullptr);
  EXPECT_EQ(Find(d, "groups[api]")->type(), v1::FieldDiff::ADDED);

  v1::Job removed = before;
  removed.mutable_groups(0)->set_name("other");
  d = DiffJobs(&before, removed);
  updates.clear();
  for (const auto& g : d.groups()) updates[g.name()] = g.update();
  EXPECT_EQ(updates["g"], "destroy");
  EXPECT_EQ(Find(d, "groups[g]")->type(), v1::FieldDiff::DELETED);
}

TEST(JobDiff, ANewJobAndServicePortsTheMastersAssigned) {
  v1::Job job = Job("web", 2);
  auto d = DiffJobs(nullptr, job);
  EXPECT_TRUE(d.new_job());
  EXPECT_FALSE(d.unchanged());
  EXPECT_EQ(d.groups(0).update(), "create");
  // The running version has the listen port the masters gave its service;
  // a file that names none is not a change.
  v1::Job running = job;
  auto* svc = running.mutable_groups(0)->mutable_tasks(0)->mutable_service();
  svc->set_name("web");
  svc->set_listen(12000);
  v1::Job file = running;
  file.mutable_groups(0)->mutable_tasks(0)->mutable_service()->set_listen(0);
  EXPECT_TRUE(DiffJobs(&running, file).unchanged());
  file.mutable_groups(0)->mutable_tasks(0)->mutable_service()->set_listen(12001);
  EXPECT_NE(Find(DiffJobs(&running, file), "groups[g].tasks[t].service.listen"), nullptr);
}

TEST(JobDiff, DurationsReadAsDurations) {
  v1::Job before = Job("web", 1);
  before.mutable_groups(0)->mutable_tasks(0)->mutable_kill_timeout()->set_seconds(5);
  v1::Job after = before;
  after.mutable_groups(0)->mutable_tasks(0)->mutable_kill_timeout()->set_nanos(500'000'000);
  const v1::JobDiff d = DiffJobs(&before, after);
  const auto* f = Find(d, "groups[g].tasks[t].kill_timeout");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->before(), "5s");
  EXPECT_EQ(f->after(), "5500ms");
}

}  // namespace
}  // namespace orch::master
