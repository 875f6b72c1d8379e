#include "common/thread_priority.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace orch {

void RunThisThreadAsBulkWork() {
  thread_local bool done = false;
  if (done) return;
  done = true;
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int now = getpriority(PRIO_PROCESS, tid);
  if (errno != 0) return;
  if (setpriority(PRIO_PROCESS, tid, now + kBulkWorkNice) != 0) {
    static std::atomic<bool> logged{false};
    if (!logged.exchange(true)) spdlog::warn("cannot lower a bulk-work thread's priority: {}", std::strerror(errno));
  }
}

}  // namespace orch
