// Loopback ports for tests: one nobody listens on right now.
#pragma once

namespace orch::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound, closed),
// chosen below the kernel's ephemeral port range so that no outgoing
// connection can take it before the caller binds it; never the same one
// twice in a process, and none another test process holds (each claims
// what it gives out, across processes, until it exits).
int FreeLoopbackPort();

// The first of `count` consecutive such ports, each bindable a moment ago
// and none given out before or after by either function in this process
// (e.g. an agent's --dynamic-ports range, which must not hold a port the
// test gave its master or agent); 0 when no such run is found.
int FreeLoopbackPortRange(int count);

// Claims ports [first, first + count) for this process until it exits,
// across processes (a lock on a shared file in $TMPDIR or /tmp); false when
// another process holds any of them. Both functions above claim what they
// give out; the claim does not bind anything.
bool ClaimLoopbackPorts(int first, int count);

}  // namespace orch::testing
