// DiskMigrator: brings the ephemeral disk of the allocation a new one
// replaces from the node it ran on (EphemeralDisk.migrate), before the new
// one's tasks start, as Nomad's client does. The masters relay it: the
// agent asks for its own allocation's previous disk, the leader checks that
// the allocation is this node's and migrates, and fetches the archive from
// the old node's agent with that node's credential (master/http/
// migrate_api.cpp). The old agent answers only once the previous
// allocation's tasks have stopped; until then, and while the old node
// cannot be reached, the migration retries. Best effort, like Nomad's: an
// allocation the old node no longer holds, a node down past the retry
// window, or data over the limit start the new allocation with an empty
// disk and say why in its description.
//
// The archive is unpacked into <alloc dir>/_shared.migrating and renamed to
// _shared once complete, so a restarted agent never takes half a disk: a
// migration that finds _shared there is done. One migration at a time, on
// the migrator's own thread (the reconcile loop only polls).
// Thread safety: thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/status.h"
#include "orch/v1/types.pb.h"

namespace orch::agent {

// Where the previous allocation's disk comes from (the masters, in the
// agent; a fake in tests). Both take the new allocation's id.
struct DiskSource {
  // Bytes the previous allocation's disk holds. FailedPrecondition: its
  // tasks still run; Unavailable: its node cannot be reached now;
  // NotFound: there is nothing to migrate.
  std::function<Result<int64_t>(const std::string& alloc_id)> size;
  // Streams the disk as a tar archive; `on_data` returning false ends it.
  std::function<Status(const std::string& alloc_id,
                       const std::function<bool(std::string_view)>& on_data)>
      fetch;
};

struct DiskMigratorOptions {
  std::chrono::milliseconds retry_every{1000};
  // How long the previous allocation may take to stop.
  std::chrono::milliseconds wait_for_stop{std::chrono::minutes(10)};
  // How long its node may stay unreachable.
  std::chrono::milliseconds wait_for_node{std::chrono::seconds(30)};
  // A transfer that stalls this long is broken off (and fails).
  std::chrono::milliseconds stall{std::chrono::seconds(60)};
};

// The most a migration moves: ephemeral_disk.size when set, else 1 GiB.
int64_t MigrationLimitBytes(const v1::EphemeralDisk& disk);

struct MigrationPoll {
  bool done = false;
  bool migrated = false;  // done, with the data in place
  std::string message;    // progress while running; the outcome when done
};

class DiskMigrator {
 public:
  // `wake` is called when a migration ends or reports progress (at most
  // once a second), from the migrator's thread.
  DiskMigrator(std::string data_dir, DiskSource source, std::function<void()> wake = nullptr,
               DiskMigratorOptions options = {});
  ~DiskMigrator();  // abandons the migration under way (its files are left to AllocGc)
  DiskMigrator(const DiskMigrator&) = delete;
  DiskMigrator& operator=(const DiskMigrator&) = delete;

  // Starts (once) and reports the migration of `alloc`'s previous
  // allocation's disk into `alloc`'s own directory. The outcome is told
  // once, then forgotten (a later Poll finds the disk in place).
  MigrationPoll Poll(const v1::Allocation& alloc);

 private:
  struct Job {
    std::string alloc_id;
    std::string previous;
    int64_t limit = 0;
  };
  void Run();
  MigrationPoll Migrate(const Job& job);
  // Why a transfer that did not finish may be tried again.
  enum class Retry { kNo, kStillRunning, kUnreachable };
  MigrationPoll Transfer(const Job& job, const std::string& tmp, Retry* retry);
  void SetProgress(const std::string& alloc_id, std::string message);
  bool Abandoned(const std::string& alloc_id);

  const std::string data_dir_;
  DiskSource source_;
  std::function<void()> wake_;
  DiskMigratorOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, MigrationPoll> state_;  // GUARDED_BY(mu_)
  std::deque<Job> queue_;                       // GUARDED_BY(mu_)
  bool stop_ = false;                           // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace orch::agent
