#include "agent/alloc_watcher.h"

#include "api/client/client.h"
#include "common/ids.h"

namespace orch::agent {

AllocWatcher::AllocWatcher(std::vector<std::string> masters, OrchClientOptions credentials,
                           std::string node_id, std::chrono::milliseconds wait,
                           std::function<bool()> ready, Sink sink)
    : watch_("node " + ShortId(node_id) + ": allocations", std::move(ready),
             [client = std::make_shared<OrchClient>(std::move(masters), std::move(credentials)),
              node_id, wait,
              sink = std::move(sink)](uint64_t index, bool stale) -> Result<BlockingWatch::Answer> {
               ORCH_ASSIGN_OR_RETURN(
                   auto resp, client->NodeAllocations(node_id, QueryOptions{index, wait, stale}));
               auto allocs = std::make_shared<std::vector<v1::Allocation>>(
                   resp.value.allocations().begin(), resp.value.allocations().end());
               uint64_t at = resp.index;
               return BlockingWatch::Answer{
                   at, [sink, allocs, at] { sink(std::move(*allocs), at); }, resp.known_leader};
             }) {}

}  // namespace orch::agent
