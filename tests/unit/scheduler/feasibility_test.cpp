// Each feasibility check on its own: node status, drivers, every
// constraint operator, cpu, memory, ports, distinct_hosts -- and the
// explanation they add up to.
#include "master/scheduler/feasibility.h"

#include <gtest/gtest.h>

#include "master/scheduler/constraints.h"
#include "master/scheduler/explain.h"
#include "master/scheduler/ports.h"
#include "master/scheduler/rng.h"
#include "master/scheduler/validate.h"
#include "sched_util.h"

namespace orch::master::sched {
namespace {

using testing::Job;
using testing::Node;

v1::Constraint C(const std::string& attr, const std::string& op, const std::string& value) {
  v1::Constraint c;
  c.set_attribute(attr);
  c.set_operator_(op);
  c.set_value(value);
  return c;
}

v1::Node Labelled() {
  v1::Node n = Node("n1");
  n.mutable_attributes()->set_arch("amd64");
  n.mutable_attributes()->set_kernel("6.1.0");
  n.mutable_attributes()->set_cpu_cores(8);
  n.mutable_attributes()->set_docker_version("24.0.7");
  (*n.mutable_attributes()->mutable_labels())["zone"] = "eu-1";
  (*n.mutable_attributes()->mutable_labels())["features"] = "ssd,gpu,fast";
  return n;
}

TEST(FeasibilityTest, NodeMustBeReadyAndNotDraining) {
  auto job = Job("j", 1);
  auto n = Node("n");
  EXPECT_EQ(StaticInfeasible(n, job, job.groups(0)), "");
  n.set_status(v1::Node::DOWN);
  EXPECT_EQ(StaticInfeasible(n, job, job.groups(0)), "not ready");
  n.set_status(v1::Node::DRAINING);
  EXPECT_EQ(StaticInfeasible(n, job, job.groups(0)), "draining");
}

TEST(FeasibilityTest, EveryTaskDriverMustBePresent) {
  auto job = Job("j", 1);
  job.mutable_groups(0)->add_tasks()->set_driver("docker");
  EXPECT_EQ(StaticInfeasible(Node("n"), job, job.groups(0)), "no docker driver");
}

TEST(FeasibilityTest, ConstraintOperators) {
  v1::Node n = Labelled();
  EXPECT_TRUE(ConstraintHolds(n, C("${attr.os}", "=", "linux")));
  EXPECT_FALSE(ConstraintHolds(n, C("${attr.os}", "=", "windows")));
  EXPECT_TRUE(ConstraintHolds(n, C("os", "", "linux")));  // "=" by default
  EXPECT_TRUE(ConstraintHolds(n, C("${attr.arch}", "!=", "arm64")));
  EXPECT_FALSE(ConstraintHolds(n, C("${attr.arch}", "!=", "amd64")));
  EXPECT_TRUE(ConstraintHolds(n, C("label.missing", "!=", "x")));  // absent differs from anything
  EXPECT_TRUE(ConstraintHolds(n, C("${attr.cpu_cores}", ">", "4")));
  EXPECT_FALSE(ConstraintHolds(n, C("${attr.cpu_cores}", "<", "4")));
  EXPECT_TRUE(ConstraintHolds(n, C("${attr.cpu_cores}", "<", "10")));  // numeric, not "8" < "10" as text
  EXPECT_TRUE(ConstraintHolds(n, C("${meta.zone}", "regexp", "^eu-[0-9]+$")));
  EXPECT_FALSE(ConstraintHolds(n, C("label.zone", "regexp", "^us-")));
  EXPECT_FALSE(ConstraintHolds(n, C("label.zone", "regexp", "(")));  // a bad regexp never holds
  EXPECT_TRUE(ConstraintHolds(n, C("${attr.kernel}", "version", ">= 5.10, < 7")));
  EXPECT_FALSE(ConstraintHolds(n, C("${attr.kernel}", "version", ">= 6.2")));
  EXPECT_TRUE(ConstraintHolds(n, C("${attr.docker_version}", "version", ">= 24.0.6")));
  EXPECT_TRUE(ConstraintHolds(n, C("label.features", "set_contains", "gpu,ssd")));
  EXPECT_FALSE(ConstraintHolds(n, C("label.features", "set_contains", "gpu,tpu")));
  EXPECT_TRUE(ConstraintHolds(n, C("", "distinct_hosts", "")));
  EXPECT_FALSE(ConstraintHolds(n, C("${attr.os}", "like", "linux")));  // unknown operator
  EXPECT_FALSE(ConstraintHolds(n, C("label.missing", "=", "x")));
}

TEST(FeasibilityTest, VersionComparesNumericParts) {
  EXPECT_TRUE(VersionMatches("1.10.0", "> 1.9"));
  EXPECT_TRUE(VersionMatches("v2", "= 2.0.0"));
  EXPECT_FALSE(VersionMatches("1.2.3", "< 1.2.3"));
  EXPECT_TRUE(VersionMatches("1.2.3", "<= 1.2.3, != 1.2.4"));
}

TEST(FeasibilityTest, JobAndGroupConstraintsBothApply) {
  auto job = Job("j", 1);
  *job.add_constraints() = C("${attr.os}", "=", "windows");
  EXPECT_EQ(StaticInfeasible(Node("n"), job, job.groups(0)), "constraint ${attr.os} = windows");
  job.clear_constraints();
  *job.mutable_groups(0)->add_constraints() = C("label.zone", "=", "eu-1");
  EXPECT_EQ(StaticInfeasible(Node("n"), job, job.groups(0)), "constraint label.zone = eu-1");
  EXPECT_EQ(StaticInfeasible(Labelled(), job, job.groups(0)), "");
}

TEST(FeasibilityTest, CpuMemoryPortsAndDistinctHosts) {
  auto job = Job("j", 1, 1000, 1024);
  auto* port = job.mutable_groups(0)->mutable_network()->add_ports();
  port->set_name("http");
  port->set_static_(8080);
  Request r = MakeRequest(job, job.groups(0), 7);
  EXPECT_EQ(r.cpu, 1000);
  EXPECT_EQ(r.mem, 1024);
  ASSERT_EQ(r.static_ports.size(), 1u);
  NodeRec n;
  n.cpu_cap = 2000;
  n.mem_cap = 2048;
  n.port_min = 20000;
  n.port_max = 20001;
  EXPECT_EQ(CheckFit(n, r, 0), Fit::kOk);
  n.cpu_used = 1001;
  EXPECT_EQ(CheckFit(n, r, 0), Fit::kCpu);
  n.cpu_used = 1000;  // exactly full is fine
  EXPECT_EQ(CheckFit(n, r, 0), Fit::kOk);
  n.mem_used = 1025;
  EXPECT_EQ(CheckFit(n, r, 0), Fit::kMemory);
  n.mem_used = 0;
  n.ports = {8080};
  EXPECT_EQ(CheckFit(n, r, 0), Fit::kPorts);
  EXPECT_STREQ(FitReason(Fit::kPorts), "port collision");
  // Dynamic ports need room in the node's range.
  n.ports = {20000, 20001};
  port->set_static_(0);
  Request dyn = MakeRequest(job, job.groups(0), 7);
  EXPECT_EQ(dyn.dynamic_ports, 1);
  EXPECT_EQ(CheckFit(n, dyn, 0), Fit::kPorts);
  n.ports = {20000};
  EXPECT_EQ(CheckFit(n, dyn, 0), Fit::kOk);
  // distinct_hosts: not where the job already runs.
  *job.add_constraints() = C("", "distinct_hosts", "");
  Request d = MakeRequest(job, job.groups(0), 7);
  EXPECT_TRUE(d.distinct_hosts);
  EXPECT_EQ(CheckFit(n, d, 1), Fit::kDistinctHosts);
  EXPECT_EQ(CheckFit(n, d, 0), Fit::kOk);
}

TEST(FeasibilityTest, EphemeralDiskSizeMustFitANodeThatReportsDisk) {
  auto job = Job("j", 1, 100, 64);
  job.mutable_groups(0)->mutable_ephemeral_disk()->set_size(300);
  Request r = MakeRequest(job, job.groups(0), 7);
  EXPECT_EQ(r.disk, 300);
  NodeRec n;
  n.cpu_cap = 2000;
  n.mem_cap = 2048;
  EXPECT_EQ(CheckFit(n, r, 0), Fit::kOk) << "a node reporting no disk has room";
  n.disk_cap = 1000;
  n.disk_used = 700;
  EXPECT_EQ(CheckFit(n, r, 0), Fit::kOk) << "exactly full is fine";
  n.disk_used = 701;
  EXPECT_EQ(CheckFit(n, r, 0), Fit::kDisk);
  EXPECT_STREQ(FitReason(Fit::kDisk), "disk exhausted");
  job.mutable_groups(0)->mutable_ephemeral_disk()->set_size(0);
  EXPECT_EQ(CheckFit(n, MakeRequest(job, job.groups(0), 7), 0), Fit::kOk)
      << "no size, no reservation";
}

TEST(FeasibilityTest, ResourcesFitIsTheOneCheckOfCpuMemoryAndDisk) {
  // master/model/fit.h: what CheckFit and plan apply both use.
  NodeRoom room{1000, 400, 2048, 1024, 0, 0};
  EXPECT_EQ(ResourcesFit(room, 600, 1024, 0), Fit::kOk) << "exactly full is fine";
  EXPECT_EQ(ResourcesFit(room, 601, 10, 0), Fit::kCpu);
  EXPECT_EQ(ResourcesFit(room, 10, 1025, 0), Fit::kMemory);
  EXPECT_EQ(ResourcesFit(room, 10, 10, 1 << 30), Fit::kOk) << "a node reporting no disk has room";
  room.disk_cap = 100;
  EXPECT_EQ(ResourcesFit(room, 10, 10, 101), Fit::kDisk);
  EXPECT_EQ(ResourcesFit(room, -1, 10, 0), Fit::kCpu) << "a negative claim never fits";
  EXPECT_EQ(ResourcesFit(room, 10, -1, 0), Fit::kMemory);
  EXPECT_EQ(ResourcesFit(room, 10, 10, -1), Fit::kDisk);
  EXPECT_EQ(ResourcesFit(room, INT64_MAX, 10, 0), Fit::kCpu) << "sums saturate, never wrap";
  EXPECT_STREQ(FitReason(Fit::kCpu), "cpu exhausted");
}

TEST(FeasibilityTest, ExplanationCountsNodesByReason) {
  FilterTally t;
  EXPECT_EQ(t.Describe(), "no nodes registered");
  t.Add("memory exhausted");
  t.Add("constraint ${attr.os} = windows");
  t.Add("memory exhausted");
  EXPECT_EQ(t.Describe(), "3 nodes filtered: 2 memory exhausted, 1 constraint ${attr.os} = windows");
}

TEST(FeasibilityTest, BadSchedulingFieldsAreRejectedWithTheField) {
  auto job = Job("j", 1);
  EXPECT_TRUE(ValidateSchedulingFields(job).ok());
  *job.add_constraints() = C("${attr.os}", "like", "linux");
  auto st = ValidateSchedulingFields(job);
  EXPECT_NE(st.message().find("constraints[0].operator"), std::string::npos) << st.message();
  job.clear_constraints();
  *job.mutable_groups(0)->add_constraints() = C("label.zone", "regexp", "(");
  st = ValidateSchedulingFields(job);
  EXPECT_NE(st.message().find("groups[0].constraints[0].value: not a valid regexp"), std::string::npos)
      << st.message();
  job.mutable_groups(0)->clear_constraints();
  auto* s = job.mutable_groups(0)->add_spread();
  s->set_attribute("label.zone");
  s->add_targets()->set_percent(80);
  s->add_targets()->set_percent(30);
  st = ValidateSchedulingFields(job);
  EXPECT_NE(st.message().find("more than 100"), std::string::npos) << st.message();
  s->clear_targets();
  job.mutable_groups(0)->mutable_migrate()->set_max_parallel(-1);
  st = ValidateSchedulingFields(job);
  EXPECT_NE(st.message().find("migrate.max_parallel"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace orch::master::sched

namespace orch::master::sched {
namespace {

// A dynamic port still bound by a stopping allocation is not handed to a new
// one while another port is free (the new task would find the old one
// listening: a canary failed its health checks so); with none free it is.
TEST(PortsTest, ADynamicPickAvoidsPortsOfStoppingAllocationsWhileOthersAreFree) {
  NodeRec n;
  n.port_min = 30000;
  n.port_max = 30001;
  n.closing_ports = {30000};
  v1::Network net;
  net.add_ports()->set_name("http");
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    Rng rng(seed);
    std::vector<int32_t> out;
    ASSERT_TRUE(AssignPorts(n, net, &rng, &out));
    EXPECT_EQ(out, std::vector<int32_t>{30001}) << "seed " << seed;
  }
  n.closing_ports = {30000, 30001};
  Rng rng(7);
  std::vector<int32_t> out;
  ASSERT_TRUE(AssignPorts(n, net, &rng, &out));  // closing ports only: still placed
  EXPECT_TRUE(out[0] == 30000 || out[0] == 30001);
}

TEST(PortsTest, PortsReleasedByAPlanOrHeldByStoppingAllocationsAreClosing) {
  v1::Node node = testing::Node("n");
  v1::Allocation stopping;
  stopping.set_id("a1");
  stopping.set_node_id("n");
  stopping.add_ports()->set_value(30005);
  SchedulerConfig cfg;
  NodeTable table({node}, HoldingsOf({&stopping}), {}, cfg);
  EXPECT_TRUE(table.at(0).PortClosing(30005));
  EXPECT_FALSE(table.at(0).PortUsed(30005));
  table.Place(0, Resident{"a2", table.InternJob("j"), 0, 10, 10, 0, {30007}, {}});
  EXPECT_TRUE(table.at(0).PortUsed(30007));
  table.Release(0, "a2", 10, 10, 0, {30007});
  EXPECT_FALSE(table.at(0).PortUsed(30007));
  EXPECT_TRUE(table.at(0).PortClosing(30007));
}

}  // namespace
}  // namespace orch::master::sched
