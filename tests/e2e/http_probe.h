// A user's client of a service, for the end-to-end tests: one plain HTTP
// request on a fresh connection, a port free for a service's `listen`, and a
// tally of the answers.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace orch::e2e {

// One HTTP/1.0 GET to 127.0.0.1:port on a fresh connection; the body, or
// nullopt on any failure (refused, reset, timeout, not 200).
std::optional<std::string> HttpGet(int port, const std::string& path = "/");

// A port for a service's `listen`, outside both the kernel's ephemeral
// range (a test's own thousands of connections, and parallel tests', take
// ports from it and could hold it by the time the agent binds) and the
// scheduler's dynamic range (20000-32000): random in [10000, 20000), free
// now.
int ListenPort();

struct Tally {
  std::map<std::string, int> by_body;
  int failed = 0;
  void Add(const std::optional<std::string>& r) {
    if (r) {
      by_body[*r]++;
    } else {
      failed++;
    }
  }
};

}  // namespace orch::e2e
