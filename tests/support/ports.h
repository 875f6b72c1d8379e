// Loopback ports for tests: one nobody listens on right now.
#pragma once

namespace orch::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound, read, closed).
// Another process may take it before the caller does; tests that start
// servers retry or pick again.
int FreeLoopbackPort();

}  // namespace orch::testing
