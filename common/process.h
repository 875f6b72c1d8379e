// Process lifecycle: shutdown signals and systemd notification.
#pragma once

#include <chrono>

namespace orch {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and every thread it
// creates afterwards. Call first thing in main().
void BlockShutdownSignals();

// Waits until SIGTERM or SIGINT arrives (or `timeout` passes; 0 = forever).
// Returns the signal number, or 0 on timeout.
int WaitForShutdownSignal(std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

// sd_notify wrappers; no-ops when not run by systemd.
void NotifyReady(const char* status);
void NotifyStopping();

}  // namespace orch
