// Loopback ports for tests: one nobody listens on right now.
#pragma once

namespace orch::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound, closed),
// chosen below the kernel's ephemeral port range so that no outgoing
// connection can take it before the caller binds it; never the same one
// twice in a process.
int FreeLoopbackPort();

}  // namespace orch::testing
