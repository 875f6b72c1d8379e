// Checkpoints a WAL database on a thread of its own.
//
// SQLite's automatic checkpoint runs inside the commit that pushes the WAL
// past 1,000 pages: that commit also copies the WAL back into the
// database file and waits for two fsyncs. On the state machine's writer
// (the Raft loop or its apply thread) that stalled every apply behind it:
// with 256 clients posting jobs, a commit every 50 ms dirtied ~950 pages,
// so nearly every commit checkpointed ~4 MB and fsynced twice (10-15 ms).
//
// Here the writer's commits only append to the WAL. A commit that leaves
// at least `background_pages` in it wakes this thread, which copies what
// is committed with a PASSIVE checkpoint on its own connection (it never
// blocks the writer or the readers), at most once per `min_interval`, so a
// page rewritten by several commits is copied once.
//
// A WAL restarts from its beginning only when a write transaction begins
// while every frame is copied back. A writer that commits without pause
// never gives a background thread that moment, so the WAL would grow
// without bound. Once it holds `inline_pages`, the thread's next pass
// starts at once, and the first commit after it checkpoints itself
// (copying only its own pages, after the pass under way if any); the next
// transaction restarts the WAL. At twice `inline_pages` any commit does. That is SQLite's own
// behaviour, with the threshold raised and most of the copying already done elsewhere.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"

namespace orch::sqlite {

class Db;

// How many checkpoints a WalCheckpointer ran.
struct WalCheckpointCounts {
  uint64_t background = 0;  // by its thread
  uint64_t inline_ = 0;     // by the writer, in a commit
};

class WalCheckpointer {
 public:
  struct Options {
    int background_pages = 1000;
    int inline_pages = 8192;  // 32 MiB of 4 KiB pages
    std::chrono::milliseconds min_interval{200};
  };

  // Takes over `writer`'s checkpoints (its WAL hook, replacing SQLite's
  // automatic checkpoint) and opens a connection of its own to `path`.
  // `writer` must outlive this object.
  static Result<std::unique_ptr<WalCheckpointer>> Start(sqlite3* writer, const std::string& path,
                                                        Options opts);
  static Result<std::unique_ptr<WalCheckpointer>> Start(sqlite3* writer, const std::string& path) {
    return Start(writer, path, Options{});
  }
  // Stops the thread and gives the writer back SQLite's automatic
  // checkpoint.
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  WalCheckpointCounts counts() const { return {background_.load(), inline_.load()}; }

 private:
  WalCheckpointer(sqlite3* writer, std::unique_ptr<Db> own, Options opts);
  static int OnCommit(void* self, sqlite3* db, const char* schema, int pages);
  void Loop();
  void NoteFailure(int rc, const char* where);

  sqlite3* const writer_;
  const std::unique_ptr<Db> own_;
  const Options opts_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool due_ = false;
  bool stop_ = false;
  std::atomic<uint64_t> background_{0}, inline_{0};
  // How many of the WAL's frames the thread's last pass had copied back.
  std::atomic<int> copied_{0};
  std::atomic<int> last_pages_{0};  // the WAL's frames at the last commit
  bool passing_ = false;            // a pass is under way (under mu_)
  bool urgent_ = false;             // the WAL is past inline_pages (under mu_)
  bool inline_wanted_ = false;  // a commit waits to checkpoint (under mu_)
  std::chrono::steady_clock::time_point last_failure_log_;  // under mu_
  std::thread thread_;
};

}  // namespace orch::sqlite
