// AllocWatcher: watches this node's allocations with a blocking query
// (GET /v1/nodes/{id}/allocations?index=N&wait=...) and hands every answer,
// the complete list, to a sink. Errors are retried with backoff.
//
// The blocking request cannot be interrupted, so the watcher's state is
// shared with its thread: Stop() detaches the sink at once and lets a thread
// still inside a request finish on its own (it touches nothing else).
// Thread safety: Stop from any thread; the sink runs on the watcher thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "orch/v1/types.pb.h"

namespace orch::agent {

class AllocWatcher {
 public:
  using Sink = std::function<void(std::vector<v1::Allocation> allocs, uint64_t index)>;
  // `ready` says whether to query yet (e.g. registered); polled.
  AllocWatcher(std::vector<std::string> masters, std::string node_id,
               std::chrono::milliseconds wait, std::function<bool()> ready, Sink sink);
  ~AllocWatcher();  // Stop()
  AllocWatcher(const AllocWatcher&) = delete;
  AllocWatcher& operator=(const AllocWatcher&) = delete;

  void Stop();

  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace orch::agent
