// orchctl's service views: what `get services` and `describe service` print.
#include <gtest/gtest.h>

#include "api/orchctl/services.h"

namespace orch::ctl {
namespace {

v1::ServiceInfo Web() {
  v1::ServiceInfo s;
  s.set_name("web");
  s.set_job_id("webjob");
  s.set_strategy(v1::Service::LEAST_CONNECTIONS);
  s.set_listen(8080);
  s.set_modify_index(42);
  for (int i = 0; i < 3; ++i) {
    auto* e = s.add_endpoints();
    e->set_alloc_id("a" + std::to_string(i) + "bcdef0123456789");
    e->set_node_id("n1234567890");
    e->set_address("10.0.0." + std::to_string(i + 1));
    e->set_port(20000 + i);
    e->set_weight(i + 1);
    e->set_healthy(i != 1);
    e->set_task("server");
  }
  return s;
}

TEST(ServicesViewTest, TableCountsHealthyEndpoints) {
  v1::ServiceList list;
  *list.add_services() = Web();
  std::string t = ServicesTable(list);
  EXPECT_NE(t.find("NAME"), std::string::npos);
  EXPECT_NE(t.find("least_connections"), std::string::npos) << t;
  EXPECT_NE(t.find("8080"), std::string::npos);
  EXPECT_NE(t.find("2/3 healthy"), std::string::npos) << t;
  EXPECT_EQ(ServicesTable(v1::ServiceList()), "No services found.\n");
}

TEST(ServicesViewTest, DescribeListsEveryEndpoint) {
  std::string d = DescribeService(Web());
  EXPECT_NE(d.find("Strategy:   least_connections"), std::string::npos) << d;
  EXPECT_NE(d.find("10.0.0.2:20001"), std::string::npos) << d;
  EXPECT_NE(d.find("no"), std::string::npos);
  v1::ServiceInfo empty = Web();
  empty.clear_endpoints();
  EXPECT_NE(DescribeService(empty).find("none running"), std::string::npos);
}

}  // namespace
}  // namespace orch::ctl
