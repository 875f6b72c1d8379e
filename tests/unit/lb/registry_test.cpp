// The masters' service registry derived from state, and the submit-time
// checks of service claims.
#include <gtest/gtest.h>

#include "master/services/registry.h"
#include "master/validation.h"

namespace orch::master {
namespace {

v1::Job WebJob(const std::string& id, const std::string& service, int listen, bool check = false) {
  v1::Job j;
  j.set_id(id);
  j.set_type(v1::Job::SERVICE);
  j.set_modify_index(5);
  auto* g = j.add_groups();
  g->set_name("web");
  g->set_count(3);
  g->mutable_network()->add_ports()->set_name("http");
  auto* t = g->add_tasks();
  t->set_name("server");
  t->set_driver("exec");
  t->set_command("/bin/true");
  t->mutable_resources()->set_cpu(100);
  t->mutable_resources()->set_memory(64);
  auto* s = t->mutable_service();
  s->set_name(service);
  s->set_port("http");
  s->set_listen(listen);
  s->set_weight(2);
  s->set_strategy(v1::Service::WEIGHTED);
  if (check) t->mutable_check()->set_type(v1::HealthCheck::HTTP);
  return j;
}

v1::Allocation Alloc(const std::string& id, const std::string& job, const std::string& node, int port,
                     v1::Allocation::ClientStatus cs, uint64_t modify, bool healthy = false) {
  v1::Allocation a;
  a.set_id(id);
  a.set_job_id(job);
  a.set_group("web");
  a.set_name(job + ".web[" + id + "]");
  a.set_node_id(node);
  a.set_desired_status(v1::Allocation::RUN);
  a.set_client_status(cs);
  a.set_healthy(healthy);
  a.set_modify_index(modify);
  if (port > 0) {
    auto* p = a.add_ports();
    p->set_name("http");
    p->set_value(port);
  }
  return a;
}

v1::Node Node(const std::string& id, const std::string& address, uint64_t modify = 1) {
  v1::Node n;
  n.set_id(id);
  n.set_address(address);
  n.set_modify_index(modify);
  return n;
}

TEST(RegistryTest, EndpointsAreTheRunningAllocationsAtTheirNodesAndPorts) {
  std::vector<v1::Allocation> allocs = {
      Alloc("a1", "web", "n1", 20001, v1::Allocation::RUNNING, 7),
      Alloc("a2", "web", "n2", 20002, v1::Allocation::RUNNING, 8),
      Alloc("a3", "web", "n1", 0, v1::Allocation::PENDING, 9),
      Alloc("a4", "web", "n2", 20004, v1::Allocation::FAILED, 10),
  };
  auto stopping = Alloc("a5", "web", "n1", 20005, v1::Allocation::RUNNING, 11);
  stopping.set_desired_status(v1::Allocation::STOP);
  allocs.push_back(stopping);
  auto view = BuildServices({WebJob("web", "web", 8080)}, allocs,
                            {Node("n1", "http://127.0.0.1:4650"), Node("n2", "http://10.0.0.2:4650", 3)});
  ASSERT_EQ(view.services.size(), 1u);
  const auto& s = view.services[0];
  EXPECT_EQ(s.name(), "web");
  EXPECT_EQ(s.job_id(), "web");
  EXPECT_EQ(s.listen(), 8080);
  EXPECT_EQ(s.strategy(), v1::Service::WEIGHTED);
  ASSERT_EQ(s.endpoints_size(), 2);
  EXPECT_EQ(s.endpoints(0).alloc_id(), "a1");
  EXPECT_EQ(s.endpoints(0).address(), "127.0.0.1");
  EXPECT_EQ(s.endpoints(0).port(), 20001);
  EXPECT_EQ(s.endpoints(0).weight(), 2);
  EXPECT_TRUE(s.endpoints(0).healthy());
  EXPECT_EQ(s.endpoints(0).task(), "server");
  EXPECT_EQ(s.endpoints(1).address(), "10.0.0.2");
  // Every allocation counts for the index, so stopping one wakes watchers.
  EXPECT_EQ(s.modify_index(), 11u);
  EXPECT_EQ(view.index, 11u);
}

TEST(RegistryTest, WithACheckOnlyHealthyAllocationsAreHealthy) {
  auto view = BuildServices({WebJob("web", "web", 8080, /*check=*/true)},
                            {Alloc("a1", "web", "n1", 20001, v1::Allocation::RUNNING, 7, true),
                             Alloc("a2", "web", "n1", 20002, v1::Allocation::RUNNING, 8, false)},
                            {Node("n1", "127.0.0.1:4650")});
  ASSERT_EQ(view.services.size(), 1u);
  ASSERT_EQ(view.services[0].endpoints_size(), 2);
  EXPECT_TRUE(view.services[0].endpoints(0).healthy());
  EXPECT_FALSE(view.services[0].endpoints(1).healthy());
}

TEST(RegistryTest, StoppedJobsServeNothingButMoveTheIndex) {
  auto job = WebJob("web", "web", 8080);
  job.set_stop(true);
  job.set_modify_index(40);
  auto view = BuildServices({job}, {Alloc("a1", "web", "n1", 20001, v1::Allocation::RUNNING, 7)},
                            {Node("n1", "127.0.0.1")});
  EXPECT_TRUE(view.services.empty());
  EXPECT_EQ(view.index, 40u);
}

TEST(RegistryTest, GroupsOfOneJobMayShareAServiceWithTheirOwnWeights) {
  v1::Job job = WebJob("web", "web", 8080);
  for (int w : {2, 3}) {
    auto* g = job.add_groups();
    *g = job.groups(0);
    g->set_name("w" + std::to_string(w));
    g->mutable_tasks(0)->mutable_service()->set_weight(w);
  }
  job.mutable_groups(0)->mutable_tasks(0)->mutable_service()->set_weight(1);
  auto a1 = Alloc("a1", "web", "n1", 20001, v1::Allocation::RUNNING, 7);
  auto a2 = Alloc("a2", "web", "n1", 20002, v1::Allocation::RUNNING, 7);
  a2.set_group("w2");
  auto a3 = Alloc("a3", "web", "n1", 20003, v1::Allocation::RUNNING, 7);
  a3.set_group("w3");
  auto view = BuildServices({job}, {a3, a2, a1}, {Node("n1", "127.0.0.1")});
  ASSERT_EQ(view.services.size(), 1u);
  ASSERT_EQ(view.services[0].endpoints_size(), 3);
  EXPECT_EQ(view.services[0].endpoints(0).weight(), 1);
  EXPECT_EQ(view.services[0].endpoints(1).weight(), 2);
  EXPECT_EQ(view.services[0].endpoints(2).weight(), 3);
  EXPECT_TRUE(ValidateServiceClaims(job, {}).ok());
  job.mutable_groups(2)->mutable_tasks(0)->mutable_service()->set_listen(9000);
  EXPECT_EQ(ValidateServiceClaims(job, {}).code(), StatusCode::kInvalidArgument);
  // Two tasks of one group cannot both serve it: same allocation twice.
  v1::Job same_group = WebJob("web", "web", 8080);
  auto* t2 = same_group.mutable_groups(0)->add_tasks();
  *t2 = same_group.groups(0).tasks(0);
  t2->set_name("sidecar");
  Status st = ValidateServiceClaims(same_group, {});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("same group"), std::string::npos) << st.message();
}

TEST(RegistryTest, HostOfAddress) {
  EXPECT_EQ(HostOfAddress("http://127.0.0.1:4650"), "127.0.0.1");
  EXPECT_EQ(HostOfAddress("http://node-1.example:4650/x"), "node-1.example");
  EXPECT_EQ(HostOfAddress("[::1]:4650"), "::1");
  EXPECT_EQ(HostOfAddress("10.1.2.3"), "10.1.2.3");
}

TEST(ServiceClaimsTest, NamesAndListenPortsAreClusterWide) {
  std::vector<v1::Job> jobs = {WebJob("web", "web", 8080)};
  std::vector<ServiceClaim> existing = ClaimsOfJobs(jobs);
  // Another job, same name: 409.
  Status st = ValidateServiceClaims(WebJob("other", "web", 9090), existing);
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find("already served by job \"web\""), std::string::npos) << st.message();
  // Another job, same port: 409.
  st = ValidateServiceClaims(WebJob("other", "api", 8080), existing);
  EXPECT_EQ(st.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(st.message().find("port 8080"), std::string::npos) << st.message();
  // The job itself, resubmitted: fine. A stopped job claims nothing.
  EXPECT_TRUE(ValidateServiceClaims(WebJob("web", "web", 8080), existing).ok());
  jobs[0].set_stop(true);
  EXPECT_TRUE(ClaimsOfJobs(jobs).empty());
  EXPECT_TRUE(ValidateServiceClaims(WebJob("other", "web", 8080), ClaimsOfJobs(jobs)).ok());
  // Two tasks of one job on one port: 400.
  auto twice = WebJob("twice", "a", 7000);
  auto* t2 = twice.mutable_groups(0)->add_tasks();
  *t2 = twice.groups(0).tasks(0);
  t2->set_name("second");
  t2->mutable_service()->set_name("b");
  st = ValidateServiceClaims(twice, {});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("listen: port 7000 is already used"), std::string::npos) << st.message();
  // Ports still to be assigned (0) clash with nothing.
  EXPECT_TRUE(ValidateServiceClaims(WebJob("other", "api", 0), ClaimsOfJobs({WebJob("web", "web", 0)})).ok());
  auto unnamed = WebJob("unnamed", "a", 0);
  auto* t3 = unnamed.mutable_groups(0)->add_tasks();
  *t3 = unnamed.groups(0).tasks(0);
  t3->set_name("second");
  t3->mutable_service()->set_name("b");
  EXPECT_TRUE(ValidateServiceClaims(unnamed, {}).ok());
}

TEST(ServiceClaimsTest, SubmitRequiresAPortNameAndAValidOrNoListenPort) {
  // No listen port: the masters assign one at apply time.
  auto job = WebJob("web", "web", 0);
  EXPECT_TRUE(ValidateJob(&job).ok());
  job = WebJob("web", "web", -1);
  Status st = ValidateJob(&job);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("service.listen"), std::string::npos) << st.message();
  job = WebJob("web", "web", 70000);
  EXPECT_FALSE(ValidateJob(&job).ok());
  job = WebJob("web", "web", 8080);
  job.mutable_groups(0)->mutable_tasks(0)->mutable_service()->clear_port();
  st = ValidateJob(&job);
  EXPECT_NE(st.message().find("service.port: is required"), std::string::npos) << st.message();
  job = WebJob("web", "web", 8080);
  EXPECT_TRUE(ValidateJob(&job).ok());
}

}  // namespace
}  // namespace orch::master
