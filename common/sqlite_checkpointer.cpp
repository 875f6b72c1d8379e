#include "common/sqlite_checkpointer.h"

#include <spdlog/spdlog.h>

#include "common/sqlite.h"
#include "common/thread_name.h"

namespace orch::sqlite {

namespace {

// Whether `rc` is a checkpoint's failure (not merely another one running).
bool Failed(int rc) { return rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED; }

}  // namespace

Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(sqlite3* writer,
                                                                const std::string& path,
                                                                Options opts) {
  ORCH_ASSIGN_OR_RETURN(auto own, Db::Open(path, Db::Sync::kNormal));
  std::unique_ptr<WalCheckpointer> c(new WalCheckpointer(writer, std::move(own), opts));
  sqlite3_wal_hook(writer, &WalCheckpointer::OnCommit, c.get());
  return c;
}

WalCheckpointer::WalCheckpointer(sqlite3* writer, std::unique_ptr<Db> own, Options opts)
    : writer_(writer), own_(std::move(own)), opts_(opts) {
  thread_ = std::thread([this] {
    NameThisThread("wal-checkpoint");
    Loop();
  });
}

WalCheckpointer::~WalCheckpointer() {
  // SQLite's own hook back first: no commit may call into this object once
  // it is going (the writer's owner serializes its commits with this).
  sqlite3_wal_autocheckpoint(writer_, 1000);
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

int WalCheckpointer::OnCommit(void* arg, sqlite3* db, const char* schema, int pages) {
  auto* self = static_cast<WalCheckpointer*>(arg);
  const Options& o = self->opts_;
  // Little to copy: the thread's last pass copied what the commits before
  // this one wrote.
  const int before = self->last_pages_.exchange(pages);
  const bool little = self->copied_.load() >= before;
  if (pages >= 2 * o.inline_pages || (pages >= o.inline_pages && little)) {
    {
      // Waits for a pass under way (it only copies pages, whatever the
      // readers do), and starts none until this one is done.
      std::unique_lock lock(self->mu_);
      self->inline_wanted_ = true;
      self->cv_.wait(lock, [self] { return !self->passing_; });
    }
    const int rc =
        sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (Failed(rc)) self->NoteFailure(rc, "an inline");
    self->inline_.fetch_add(1, std::memory_order_relaxed);
    if (rc == SQLITE_OK) self->copied_.store(0);  // the next transaction restarts the WAL
    {
      std::lock_guard lock(self->mu_);
      self->inline_wanted_ = false;
    }
    self->cv_.notify_all();
  } else if (pages >= o.background_pages) {
    {
      std::lock_guard lock(self->mu_);
      self->due_ = true;
      // Past the bound: the next pass goes at once, so that a commit soon
      // finds it close behind.
      if (pages >= o.inline_pages) self->urgent_ = true;
    }
    self->cv_.notify_all();
  }
  return SQLITE_OK;  // as SQLite's own hook: the commit stands either way
}

void WalCheckpointer::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return (due_ && !inline_wanted_) || stop_; });
    if (stop_) return;
    due_ = false;
    urgent_ = false;
    passing_ = true;
    lock.unlock();
    int frames = 0, copied = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(own_->raw(), "main", SQLITE_CHECKPOINT_PASSIVE, &frames, &copied);
    if (Failed(rc)) NoteFailure(rc, "a background");
    if (rc == SQLITE_OK) copied_.store(copied);
    background_.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
    passing_ = false;
    cv_.notify_all();
    // Commits that come meanwhile are copied by the next pass, together.
    cv_.wait_for(lock, opts_.min_interval, [this] { return stop_ || urgent_; });
    if (stop_) return;
  }
}

// At most one line per 10 s: the WAL keeps the data, and a full disk shows
// in the next commit.
void WalCheckpointer::NoteFailure(int rc, const char* where) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (now - last_failure_log_ < std::chrono::seconds(10)) return;
    last_failure_log_ = now;
  }
  spdlog::warn("sqlite: {} checkpoint of {} failed: {}", where, own_->path(), sqlite3_errstr(rc));
}

}  // namespace orch::sqlite
