// The registry's answer as the proxy sees it: healthy endpoints only.
#include <gtest/gtest.h>

#include "agent/lb/service_config.h"

namespace orch::agent::lb {
namespace {

TEST(ServiceConfigTest, KeepsHealthyEndpointsWithAPort) {
  v1::ServiceList list;
  auto* s = list.add_services();
  s->set_name("web");
  s->set_listen(8080);
  s->set_strategy(v1::Service::WEIGHTED);
  auto add = [&](std::string id, bool healthy, int port, int weight) {
    auto* e = s->add_endpoints();
    e->set_alloc_id(id);
    e->set_address("127.0.0.1");
    e->set_port(port);
    e->set_healthy(healthy);
    e->set_weight(weight);
  };
  add("a", true, 9001, 2);
  add("b", false, 9002, 1);
  add("c", true, 0, 1);
  add("d", true, 9004, 0);
  auto* no_listen = list.add_services();
  no_listen->set_name("internal");
  auto out = ToServiceConfigs(list);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "web");
  EXPECT_EQ(out[0].listen, 8080);
  EXPECT_EQ(out[0].strategy, StrategyKind::kWeighted);
  ASSERT_EQ(out[0].endpoints.size(), 2u);
  EXPECT_EQ(out[0].endpoints[0], (Endpoint{"a", "127.0.0.1", 9001, 2}));
  EXPECT_EQ(out[0].endpoints[1], (Endpoint{"d", "127.0.0.1", 9004, 1}));
}

TEST(ServiceConfigTest, UnspecifiedStrategyIsRoundRobin) {
  EXPECT_EQ(ToStrategyKind(v1::Service::STRATEGY_UNSPECIFIED), StrategyKind::kRoundRobin);
  EXPECT_EQ(ToStrategyKind(v1::Service::RANDOM), StrategyKind::kRandom);
  EXPECT_EQ(ToStrategyKind(v1::Service::LEAST_CONNECTIONS), StrategyKind::kLeastConnections);
}

}  // namespace
}  // namespace orch::agent::lb
