#include "api/orchctl/views.h"

#include <gtest/gtest.h>

namespace orch::ctl {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

v1::Job WebJob() {
  v1::Job j;
  j.set_id("web");
  j.set_type(v1::Job::SERVICE);
  j.set_status(v1::Job::RUNNING);
  j.set_version(2);
  auto* g = j.add_groups();
  g->set_name("web");
  g->set_count(3);
  g->add_tasks()->set_name("server");
  return j;
}

v1::Allocation Alloc(const std::string& id, v1::Allocation::ClientStatus st, uint64_t version = 2) {
  v1::Allocation a;
  a.set_id(id);
  a.set_job_id("web");
  a.set_job_version(version);
  a.set_group("web");
  a.set_node_id("9f8e7d6c-0000-1111-2222-333344445555");
  a.set_desired_status(v1::Allocation::RUN);
  a.set_client_status(st);
  a.set_create_time_ms(kNow - 90'000);
  return a;
}

TEST(JobsTableTest, ShowsRunningOverDesiredAndLowerCaseEnums) {
  v1::JobList jobs;
  *jobs.add_jobs() = WebJob();
  v1::AllocationList allocs;
  *allocs.add_allocations() = Alloc("a1", v1::Allocation::RUNNING);
  *allocs.add_allocations() = Alloc("a2", v1::Allocation::RUNNING);
  *allocs.add_allocations() = Alloc("a3", v1::Allocation::PENDING);
  EXPECT_EQ(JobsTable(jobs, allocs),
            "ID    TYPE      STATUS    VERSION   GROUPS   ALLOCS\n"
            "web   service   running   2         1        2/3\n");
}

TEST(JobsTableTest, SaysSoWhenThereAreNoJobs) {
  EXPECT_EQ(JobsTable(v1::JobList(), v1::AllocationList()), "No jobs found.\n");
}

TEST(NodesTableTest, ShortIdsAndAllocatedOverCapacity) {
  v1::NodeList nodes;
  auto* n = nodes.add_nodes();
  n->set_id("0123456789abcdef");
  n->set_name("node-1");
  n->set_address("10.0.0.1:4650");
  n->set_status(v1::Node::READY);
  n->mutable_capacity()->set_cpu(4000);
  n->mutable_capacity()->set_memory(8192);
  n->mutable_allocated()->set_cpu(300);
  n->mutable_allocated()->set_memory(192);
  n->mutable_attributes()->add_drivers("exec");
  n->mutable_attributes()->add_drivers("docker");
  EXPECT_EQ(NodesTable(nodes),
            "ID         NAME     ADDRESS         STATUS   CPU         MEMORY       DRIVERS\n"
            "01234567   node-1   10.0.0.1:4650   ready    300/4000m   192/8192Mi   exec,docker\n");
  EXPECT_EQ(NodesTable(v1::NodeList()), "No nodes registered.\n");
}

TEST(AllocsTableTest, ShortIdsLowerCaseStatusAndAge) {
  v1::AllocationList allocs;
  *allocs.add_allocations() = Alloc("1a2b3c4d-aaaa", v1::Allocation::RUNNING);
  EXPECT_EQ(AllocsTable(allocs, kNow),
            "ID         JOB   GROUP   NODE       DESIRED   STATUS    AGE\n"
            "1a2b3c4d   web   web     9f8e7d6c   run       running   90s\n");
  EXPECT_EQ(AllocsTable(v1::AllocationList(), kNow), "No allocations found.\n");
}

TEST(DescribeJobTest, ShowsTaskStatesAndEvaluations) {
  v1::JobDetail d;
  *d.mutable_job() = WebJob();
  auto a = Alloc("1a2b3c4d-aaaa", v1::Allocation::FAILED);
  auto* ts = a.add_task_states();
  ts->set_name("server");
  ts->set_state(v1::TaskState::DEAD);
  ts->set_failed(true);
  ts->set_exit_code(3);
  *d.add_allocations() = a;
  auto* e = d.add_evaluations();
  e->set_id("e1e2e3e4e5");
  e->set_triggered_by(v1::Evaluation::JOB_REGISTER);
  e->set_status(v1::Evaluation::COMPLETE);
  (*d.mutable_summary())["FAILED"] = 1;
  std::string text = DescribeJob(d, kNow);
  EXPECT_NE(text.find("ID:         web\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Type:       service\n"), std::string::npos) << text;
  EXPECT_NE(text.find("server=dead(failed exit 3)"), std::string::npos) << text;
  EXPECT_NE(text.find("e1e2e3e4   job_register   complete"), std::string::npos) << text;
  EXPECT_NE(text.find("failed   1"), std::string::npos) << text;
  EXPECT_EQ(text.find("FAILED"), std::string::npos) << "enums print lower-case:\n" << text;
}

TEST(DescribeNodeTest, ShowsCapacityLoadAndAllocations) {
  v1::Node n;
  n.set_id("0123456789abcdef");
  n.set_name("node-1");
  n.set_status(v1::Node::DRAINING);
  n.mutable_attributes()->set_os("linux");
  n.mutable_attributes()->set_arch("amd64");
  (*n.mutable_attributes()->mutable_labels())["zone"] = "a";
  n.mutable_capacity()->set_cpu(4000);
  n.mutable_allocated()->set_cpu(300);
  n.mutable_load()->set_cpu(120.4);
  n.set_last_heartbeat_ms(kNow - 2000);
  v1::AllocationList allocs;
  *allocs.add_allocations() = Alloc("1a2b3c4d-aaaa", v1::Allocation::RUNNING);
  std::string text = DescribeNode(n, allocs, kNow);
  EXPECT_NE(text.find("Status:     draining\n"), std::string::npos) << text;
  EXPECT_NE(text.find("OS/Arch:    linux/amd64\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Labels:     zone=a\n"), std::string::npos) << text;
  EXPECT_NE(text.find("CPU:        300/4000m allocated, 120m in use\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Heartbeat:  2s ago\n"), std::string::npos) << text;
  EXPECT_NE(text.find("1a2b3c4d   web"), std::string::npos) << text;
}

TEST(DescribeAllocTest, ShowsEveryTaskWithItsMessage) {
  auto a = Alloc("1a2b3c4d-aaaa", v1::Allocation::FAILED);
  a.set_client_description("task server failed");
  auto* port = a.add_ports();
  port->set_name("http");
  port->set_value(23456);
  auto* ts = a.add_task_states();
  ts->set_name("server");
  ts->set_state(v1::TaskState::DEAD);
  ts->set_failed(true);
  ts->set_exit_code(127);
  ts->set_message("exec: \"/bin/nope\": not found\n");
  std::string text = DescribeAlloc(a, kNow);
  EXPECT_NE(text.find("Status:     failed (task server failed)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Ports:      http=23456\n"), std::string::npos) << text;
  EXPECT_NE(text.find("server   dead    yes      127"), std::string::npos) << text;
  EXPECT_NE(text.find("exec: \"/bin/nope\": not found\n"), std::string::npos) << text;
}

TEST(ProgressTest, CountsOnlyLiveAllocationsOfTheCurrentVersion) {
  v1::JobDetail d;
  *d.mutable_job() = WebJob();
  *d.add_allocations() = Alloc("a1", v1::Allocation::RUNNING);
  *d.add_allocations() = Alloc("a2", v1::Allocation::RUNNING, /*version=*/1);
  auto stopped = Alloc("a3", v1::Allocation::RUNNING);
  stopped.set_desired_status(v1::Allocation::STOP);
  *d.add_allocations() = stopped;
  *d.add_allocations() = Alloc("a4", v1::Allocation::PENDING);
  JobProgress p = ComputeProgress(d);
  EXPECT_EQ(p.running, 1);
  EXPECT_EQ(p.desired, 3);
  EXPECT_FALSE(p.done());
  EXPECT_EQ(p.ToString(), "1/3 running, 1 pending");
}

}  // namespace
}  // namespace orch::ctl
