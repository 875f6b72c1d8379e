#include "agent/lb/service_watcher.h"

#include "api/client/client.h"

namespace orch::agent::lb {

ServiceWatcher::ServiceWatcher(std::vector<std::string> masters, OrchClientOptions credentials,
                               std::chrono::milliseconds wait, std::function<bool()> ready,
                               Sink sink)
    : watch_(
          "lb: services (keeping the last list)", std::move(ready),
          [client = std::make_shared<OrchClient>(std::move(masters), std::move(credentials)), wait,
           sink = std::move(sink)](uint64_t index, bool stale) -> Result<BlockingWatch::Answer> {
            ORCH_ASSIGN_OR_RETURN(auto resp,
                                  client->ListServices(QueryOptions{index, wait, stale}));
            auto list = std::make_shared<v1::ServiceList>(std::move(resp.value));
            uint64_t at = resp.index;
            return BlockingWatch::Answer{at, [sink, list, at] { sink(*list, at); },
                                         resp.known_leader};
          }) {}

}  // namespace orch::agent::lb
