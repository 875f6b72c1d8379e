// Health check probes: one attempt of an http, tcp or command check.
//   http:    GET http://127.0.0.1:<port><path>; a 2xx or 3xx answer passes
//   tcp:     a connection to 127.0.0.1:<port> is accepted
//   command: the command exits 0 within the timeout (run with the task's
//            environment in its directory; killed with its process group
//            on timeout); given the task's pid, inside the task: its
//            namespaces and its user (probe_inside.h)
// Every probe gives up after `timeout`.
// Thread safety: stateless functions, safe from any thread.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace orch::agent::health {

struct ProbeResult {
  bool ok = false;
  std::string message;  // what was seen: "HTTP 200", "connection refused", ...
};

ProbeResult ProbeHttp(int port, const std::string& path, std::chrono::milliseconds timeout);
ProbeResult ProbeTcp(int port, std::chrono::milliseconds timeout);
ProbeResult ProbeCommand(const std::string& command, const std::vector<std::string>& args,
                         const std::vector<std::pair<std::string, std::string>>& env,
                         const std::string& cwd, std::chrono::milliseconds timeout,
                         int task_pid = 0);

}  // namespace orch::agent::health
