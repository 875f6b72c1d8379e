#include "common/process.h"

#include <signal.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include <string>

namespace orch {

namespace {
sigset_t ShutdownSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}
}  // namespace

void BlockShutdownSignals() {
  sigset_t set = ShutdownSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer that goes away mid-write must not kill us.
  signal(SIGPIPE, SIG_IGN);
}

int WaitForShutdownSignal(std::chrono::milliseconds timeout) {
  sigset_t set = ShutdownSet();
  for (;;) {
    int sig = 0;
    if (timeout.count() == 0) {
      if (sigwait(&set, &sig) != 0) continue;
    } else {
      timespec ts{static_cast<time_t>(timeout.count() / 1000),
                  static_cast<long>((timeout.count() % 1000) * 1'000'000)};
      sig = sigtimedwait(&set, nullptr, &ts);
      if (sig < 0) return 0;
    }
    if (sig == SIGHUP) continue;  // reserved for config reload
    return sig;
  }
}

void NotifyReady(const char* status) {
  std::string msg = std::string("READY=1\nSTATUS=") + status;
  sd_notify(0, msg.c_str());
}

void NotifyStopping() { sd_notify(0, "STOPPING=1"); }

}  // namespace orch
