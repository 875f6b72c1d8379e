// Reporter: sends allocation client updates to the masters. Updates are
// merged per allocation (the latest wins; each is a full snapshot of that
// allocation's client state), sent in batches, and kept and retried with
// backoff when a send fails, so the latest state is never lost.
// Thread safety: Submit/SetEnabled/Pending from any thread; one internal
// sender thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/client/client.h"

namespace orch::agent {

class Reporter {
 public:
  // `client` must outlive the reporter. `on_node_unknown` is called (from
  // the sender thread) when the masters answer that they do not know this
  // node; the updates are kept and sent once it is enabled again.
  Reporter(OrchClient* client, std::string node_id, std::function<void()> on_node_unknown = {});
  ~Reporter();  // stops the sender; unsent updates are dropped (the agent
                // re-reports everything after a restart)
  Reporter(const Reporter&) = delete;
  Reporter& operator=(const Reporter&) = delete;

  void Submit(std::vector<v1::AllocationUpdate> updates);
  // Sending waits while disabled (not registered with a master).
  void SetEnabled(bool enabled);
  std::size_t Pending();

 private:
  void Run();

  OrchClient* client_;
  const std::string node_id_;
  std::function<void()> on_node_unknown_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, v1::AllocationUpdate> pending_;  // GUARDED_BY(mu_)
  bool enabled_ = false;                                 // GUARDED_BY(mu_)
  bool stop_ = false;                                    // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace orch::agent
