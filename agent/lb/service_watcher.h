// ServiceWatcher: watches the masters' service registry with a blocking
// query (GET /v1/services?index=N&wait=...) and hands every answer, the
// complete list, to a sink (the agent feeds it to the load balancer).
// Errors are retried with backoff; the sink keeps the last good list. The
// loop is BlockingWatch's.
// Thread safety: Stop from any thread; the sink runs on the watcher thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/blocking_watch.h"
#include "api/client/client.h"
#include "orch/v1/api.pb.h"

namespace orch::agent::lb {

class ServiceWatcher {
 public:
  using Sink = std::function<void(const v1::ServiceList& services, uint64_t index)>;
  // `ready` says whether to query yet; polled.
  // `credentials`: the agent's ACL token ("" without ACLs) and TLS files.
  ServiceWatcher(std::vector<std::string> masters, OrchClientOptions credentials,
                 std::chrono::milliseconds wait, std::function<bool()> ready, Sink sink);
  ~ServiceWatcher() = default;  // stops
  ServiceWatcher(const ServiceWatcher&) = delete;
  ServiceWatcher& operator=(const ServiceWatcher&) = delete;

  void Stop() { watch_.Stop(); }

 private:
  BlockingWatch watch_;
};

}  // namespace orch::agent::lb
