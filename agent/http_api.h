// The agent's own HTTP API: GET /healthz, GET /metrics and
// GET /v1/allocations/{id}/logs?task=NAME&stream=stdout|stderr&tail=N&follow=true
// (`type` is accepted for `stream`). The output comes from the driver that
// runs the task (TaskDriver::Logs); with follow=true it is streamed
// (chunked) until the task exits or the client goes away. A task no driver
// tracks any more (its allocation finished and was forgotten) is read from
// its files, <data_dir>/allocs/<id>/<task>.<stream>: the last 1 MiB.
// Thread safety: the router is immutable once built; handlers are
// thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "agent/drivers/driver.h"
#include "common/metrics.h"
#include "common/router.h"

namespace orch::agent {

constexpr std::size_t kMaxLogBytes = 1 << 20;

// Streams a task's log from the driver that runs it: NotFound when no
// driver tracks the task (then the files are read).
using LogSource = std::function<Status(const std::string& alloc_id, const std::string& task,
                                       const LogOptions& opts, const LogSink& sink)>;

// Whether a task of allocation `alloc_id` still runs on this node.
using AllocRunning = std::function<bool(const std::string& alloc_id)>;

// Routes: GET /v1/allocations/{id}/logs (a task's log), GET
// /v1/allocations/{id}/ephemeral-disk[?check=true] (a stopped allocation's
// ephemeral disk as a tar stream, for its migration; 409 while
// `alloc_running` says it runs; check: its size, as PreviousDiskResponse),
// /healthz and /metrics.
// `node_secret_hash` non-empty: the allocation routes answer 403 to a
// request without that value in kNodeAuthHeader (common/ids.h; /healthz
// stays open). `metrics` non-null: GET /metrics renders it (open, like
// /healthz).
std::unique_ptr<Router> MakeAgentRouter(std::string data_dir, std::function<std::string()> node_id,
                                        LogSource logs = nullptr, std::string node_secret_hash = "",
                                        const metrics::Registry* metrics = nullptr,
                                        AllocRunning alloc_running = nullptr);

// The last `n` lines of `text` (a last line without "\n" counts).
std::string LastLines(const std::string& text, int64_t n);

}  // namespace orch::agent
