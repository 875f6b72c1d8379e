// The agent's own HTTP API: GET /healthz and
// GET /v1/allocations/{id}/logs?task=NAME&type=stdout|stderr (the last
// 1 MiB of a task's log file, read from <data_dir>/allocs/<id>/<task>.<type>).
// Thread safety: the router is immutable once built; handlers are
// thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/router.h"

namespace orch::agent {

constexpr std::size_t kMaxLogBytes = 1 << 20;

std::unique_ptr<Router> MakeAgentRouter(std::string data_dir, std::function<std::string()> node_id);

}  // namespace orch::agent
