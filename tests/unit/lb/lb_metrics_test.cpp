// The load balancer's metrics by service and endpoint (orch_lb_service_*,
// orch_lb_endpoint_*) as an agent's /metrics renders them: a client of a
// service whose only endpoint is down is counted as rejected for that
// service, the failed connects against that endpoint.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "agent/agent_metrics.h"
#include "agent/lb/proxy.h"
#include "common/metrics.h"
#include "tests/support/ports.h"

namespace orch::agent {
namespace {

using namespace std::chrono_literals;

TEST(LbMetricsTest, RejectionsAndFailuresAreLabelledWithServiceAndEndpoint) {
  lb::ProxyOptions o;
  o.bind = "127.0.0.1";
  o.io_threads = 1;
  auto proxy = lb::Proxy::Start(o);
  ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
  const uint16_t dead = static_cast<uint16_t>(orch::testing::FreeLoopbackPort());
  ASSERT_TRUE(
      (*proxy)
          ->Update({lb::ServiceConfig{
              "api", 0, lb::StrategyKind::kRoundRobin, {lb::Endpoint{"a1", "127.0.0.1", dead, 1}}}})
          .ok());
  metrics::Registry reg;
  RegisterLoadBalancerMetrics(&reg, proxy->get());

  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons((*proxy)->ListenPort("api"));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  char c;
  EXPECT_LE(recv(fd, &c, 1, 0), 0);  // closed: no endpoint took it
  close(fd);
  std::string text;
  const std::string rejected = "orch_lb_service_connections_rejected_total{service=\"api\"} 1\n";
  for (int i = 0; i < 200 && text.find(rejected) == std::string::npos; ++i) {
    std::this_thread::sleep_for(10ms);
    text = reg.Render();
  }
  EXPECT_NE(text.find(rejected), std::string::npos) << text;
  EXPECT_NE(text.find("orch_lb_service_connections_accepted_total{service=\"api\"} 1\n"),
            std::string::npos)
      << text;
  const std::string endpoint =
      "{service=\"api\",endpoint=\"127.0.0.1:" + std::to_string(dead) + "\"}";
  EXPECT_NE(text.find("orch_lb_endpoint_connect_failures_total" + endpoint + " 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("orch_lb_endpoint_connections_total" + endpoint + " 0\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("orch_lb_service_bytes_total{service=\"api\",direction=\"to_client\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE orch_lb_endpoint_connections_total counter"), std::string::npos)
      << text;
  (*proxy)->Shutdown();
}

}  // namespace
}  // namespace orch::agent
