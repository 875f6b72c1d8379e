// The verbs of orchctl, each a function over an OrchClient that prints its
// result. Flags are parsed before (cli.h); a returned error Status is a
// failed API call, printed by the caller as one line (errors.h).
// Thread safety: a Context is used by one command on one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

#include "api/client/client.h"
#include "api/orchctl/output.h"
#include "common/status.h"

namespace orch::ctl {

// Time as commands see it; tests may substitute it.
struct Clock {
  std::function<int64_t()> now_ms;                           // wall clock, for ages
  std::function<void(std::chrono::milliseconds)> sleep_for;  // back-off only
  static Clock System();
};

struct Context {
  OrchClient* client = nullptr;  // not owned
  OutputFormat format = OutputFormat::kTable;
  std::ostream* out = nullptr;  // not owned
  Clock clock = Clock::System();
  bool terminal = false;  // `out` is a terminal: progress redraws in place
};

struct RunOptions {
  bool wait = false;  // until the job's allocations run (blocking queries)
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};  // of the wait
};

// Submits a job file's text (YAML or JSON) as it is; the server parses it.
Status RunJob(const Context& ctx, const std::string& document, const RunOptions& opts);
Status GetJobs(const Context& ctx);
Status GetNodes(const Context& ctx);
// `job` filters when not empty.
Status GetAllocs(const Context& ctx, const std::string& job);
Status DescribeJobCommand(const Context& ctx, const std::string& id);
// `id` may be an id's unique prefix (as tables print them) or a node name.
Status DescribeNodeCommand(const Context& ctx, const std::string& id);
// `id` may be an id's unique prefix.
Status DescribeAllocCommand(const Context& ctx, const std::string& id);
Status StopJob(const Context& ctx, const std::string& id, bool purge);
// Prints orchctl's own version; needs no server.
Status PrintVersion(const Context& ctx, const std::string& version);

}  // namespace orch::ctl
