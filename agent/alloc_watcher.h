// AllocWatcher: watches this node's allocations with a blocking query
// (GET /v1/nodes/{id}/allocations?index=N&wait=...) and hands every answer,
// the complete list, to a sink. The loop (backoff, uninterruptible
// requests, Stop) is BlockingWatch's.
// Thread safety: Stop from any thread; the sink runs on the watcher thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/blocking_watch.h"
#include "api/client/client.h"
#include "orch/v1/types.pb.h"

namespace orch::agent {

class AllocWatcher {
 public:
  using Sink = std::function<void(std::vector<v1::Allocation> allocs, uint64_t index)>;
  // `ready` says whether to query yet (e.g. registered); polled.
  // `credentials`: the agent's ACL token, its node secret (which masters
  // with ACLs want on a node's watch) and TLS files.
  AllocWatcher(std::vector<std::string> masters, OrchClientOptions credentials, std::string node_id,
               std::chrono::milliseconds wait, std::function<bool()> ready, Sink sink);
  ~AllocWatcher() = default;  // stops
  AllocWatcher(const AllocWatcher&) = delete;
  AllocWatcher& operator=(const AllocWatcher&) = delete;

  void Stop() { watch_.Stop(); }

 private:
  BlockingWatch watch_;
};

}  // namespace orch::agent
