// lb_proxy: the agent's load balancer (agent/lb Proxy) serving one static
// service, for lb_bench.py to measure against HAProxy with the same
// backends and load generator. No masters involved.
//
//   lb_proxy --listen PORT --backend 127.0.0.1:9001 --backend ...
//            [--strategy round_robin|random|weighted|least_connections] [--threads N]
//
// Runs until SIGTERM or SIGINT.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "agent/lb/proxy.h"

using namespace orch::agent::lb;

int main(int argc, char** argv) {
  ProxyOptions opts;
  opts.bind = "127.0.0.1";
  opts.io_threads = 1;
  ServiceConfig svc;
  svc.name = "bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--listen") {
      svc.listen = static_cast<uint16_t>(std::atoi(v.c_str()));
    } else if (k == "--threads") {
      opts.io_threads = std::atoi(v.c_str());
    } else if (k == "--backend") {
      auto colon = v.rfind(':');
      Endpoint e;
      e.id = "b" + std::to_string(svc.endpoints.size());
      e.host = v.substr(0, colon);
      e.port = static_cast<uint16_t>(std::atoi(v.c_str() + colon + 1));
      svc.endpoints.push_back(e);
    } else if (k == "--strategy") {
      svc.strategy = v == "random"              ? StrategyKind::kRandom
                     : v == "weighted"          ? StrategyKind::kWeighted
                     : v == "least_connections" ? StrategyKind::kLeastConnections
                                                : StrategyKind::kRoundRobin;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      return 2;
    }
  }
  if (svc.listen == 0 || svc.endpoints.empty()) {
    std::fprintf(stderr, "usage: %s --listen PORT --backend HOST:PORT... [--strategy S] [--threads N]\n", argv[0]);
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the io threads start
  auto proxy = Proxy::Start(opts);
  if (!proxy.ok()) {
    std::fprintf(stderr, "%s\n", proxy.status().ToString().c_str());
    return 1;
  }
  if (auto st = (*proxy)->Update({svc}); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.ToString().c_str());
    return 1;
  }
  int sig = 0;
  sigwait(&set, &sig);
  (*proxy)->Shutdown();
  return 0;
}
