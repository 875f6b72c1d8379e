#include "agent/disk_migrator.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "agent/alloc_runner.h"
#include "agent/disk_archive.h"
#include "agent/files.h"
#include "common/ids.h"

namespace orch::agent {

namespace {

constexpr int64_t kMiB = 1 << 20;
constexpr int64_t kDefaultLimit = 1024 * kMiB;

std::string Mib(int64_t bytes) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / kMiB);
  return buf;
}

// The previous allocation's tasks still run (409 through the masters).
bool StillRunning(const Status& st) {
  return st.code() == StatusCode::kFailedPrecondition || st.code() == StatusCode::kAlreadyExists;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

}  // namespace

int64_t MigrationLimitBytes(const v1::EphemeralDisk& disk) {
  return disk.size() > 0 ? disk.size() * kMiB : kDefaultLimit;
}

DiskMigrator::DiskMigrator(std::string data_dir, DiskSource source, std::function<void()> wake,
                           DiskMigratorOptions options)
    : data_dir_(std::move(data_dir)),
      source_(std::move(source)),
      wake_(std::move(wake)),
      options_(options),
      thread_([this] { Run(); }) {}

DiskMigrator::~DiskMigrator() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

MigrationPoll DiskMigrator::Poll(const v1::Allocation& alloc) {
  std::lock_guard lk(mu_);
  auto it = state_.find(alloc.id());
  if (it != state_.end()) {
    MigrationPoll p = it->second;
    if (p.done) state_.erase(it);  // told once: the runner starts its tasks now
    return p;
  }
  MigrationPoll& p = state_[alloc.id()];
  p.message =
      "waiting to migrate the ephemeral disk of allocation " + ShortId(alloc.previous_allocation());
  queue_.push_back(Job{alloc.id(), alloc.previous_allocation(),
                       MigrationLimitBytes(alloc.task_group().ephemeral_disk())});
  cv_.notify_all();
  return p;
}

bool DiskMigrator::Abandoned(const std::string& alloc_id) {
  std::lock_guard lk(mu_);
  return stop_ || !state_.count(alloc_id);
}

void DiskMigrator::SetProgress(const std::string& alloc_id, std::string message) {
  {
    std::lock_guard lk(mu_);
    auto it = state_.find(alloc_id);
    if (it == state_.end()) return;
    it->second.message = std::move(message);
  }
  if (wake_) wake_();
}

void DiskMigrator::Run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    MigrationPoll result = Migrate(job);
    result.done = true;
    if (result.migrated) {
      spdlog::info("alloc {}: {}", ShortId(job.alloc_id), result.message);
    } else {
      spdlog::warn("alloc {}: {}", ShortId(job.alloc_id), result.message);
    }
    {
      std::lock_guard lk(mu_);
      auto it = state_.find(job.alloc_id);
      if (it == state_.end() || stop_) continue;  // forgotten meanwhile
      it->second = std::move(result);
    }
    if (wake_) wake_();
  }
}

MigrationPoll DiskMigrator::Migrate(const Job& job) {
  const std::string dir = AllocRunner::AllocDir(data_dir_, job.alloc_id);
  const std::string target = dir + "/_shared";
  const std::string tmp = dir + "/_shared.migrating";
  const std::string prev = ShortId(job.previous);
  if (!IsSafePathComponent(job.alloc_id)) {
    return {true, false,
            "the ephemeral disk was not migrated: the allocation id is not a directory name"};
  }
  if (Exists(target))
    return {true, true, "the ephemeral disk of allocation " + prev + " is in place"};
  auto fail = [&](const std::string& why) {
    std::error_code ec;
    std::filesystem::remove_all(tmp, ec);
    return MigrationPoll{true, false,
                         "the ephemeral disk of allocation " + prev + " was not migrated (" + why +
                             "); the tasks start with an empty one"};
  };
  const auto started = std::chrono::steady_clock::now();
  auto unreachable_since = std::chrono::steady_clock::time_point();
  for (int attempt = 1;; ++attempt) {
    if (Abandoned(job.alloc_id)) return fail("abandoned");
    Retry retry = Retry::kNo;
    MigrationPoll r = Transfer(job, tmp, &retry);
    if (retry == Retry::kNo) return r.migrated ? r : fail(r.message);
    auto now = std::chrono::steady_clock::now();
    if (retry == Retry::kUnreachable) {
      if (unreachable_since == std::chrono::steady_clock::time_point()) unreachable_since = now;
      if (now - unreachable_since >= options_.wait_for_node) return fail(r.message);
    } else {
      unreachable_since = {};
      if (now - started >= options_.wait_for_stop) return fail(r.message);
    }
    SetProgress(job.alloc_id, "waiting to migrate the ephemeral disk of allocation " + prev + " (" +
                                  r.message + "; attempt " + std::to_string(attempt) + ")");
    std::unique_lock lk(mu_);
    cv_.wait_for(lk, options_.retry_every, [&] { return stop_; });
  }
}

MigrationPoll DiskMigrator::Transfer(const Job& job, const std::string& tmp, Retry* retry) {
  const std::string prev = ShortId(job.previous);
  auto size = source_.size(job.alloc_id);
  if (!size.ok()) {
    const Status& st = size.status();
    if (StillRunning(st)) {
      *retry = Retry::kStillRunning;
      return {false, false, st.message()};
    }
    if (st.code() == StatusCode::kUnavailable) {
      *retry = Retry::kUnreachable;
      return {false, false, st.message()};
    }
    return {false, false, st.message()};
  }
  if (*size > job.limit) {
    return {false, false,
            "it holds " + Mib(*size) + ", more than the " + Mib(job.limit) +
                " a migration moves; ephemeral_disk.size sets that"};
  }
  std::error_code ec;
  std::filesystem::remove_all(tmp, ec);
  if (Status st = MakeDirs(tmp); !st.ok()) return {false, false, st.message()};
  auto tar = TarExtractor::Start(tmp);
  if (!tar.ok()) return {false, false, tar.status().message()};
  // The archive adds a header per file and pads to 512-byte blocks.
  const int64_t max_stream = job.limit + job.limit / 8 + kMiB;
  int64_t got = 0;
  Status written;
  auto last_report = std::chrono::steady_clock::now();
  SetProgress(job.alloc_id,
              "migrating the ephemeral disk of allocation " + prev + ": 0.0 of " + Mib(*size));
  const auto began = std::chrono::steady_clock::now();
  auto last_data = began;
  Status fetched = source_.fetch(job.alloc_id, [&](std::string_view piece) {
    auto now = std::chrono::steady_clock::now();
    if (piece.empty()) {
      if (now - last_data > options_.stall) {
        written = Status::Unavailable("no data for " +
                                      std::to_string(options_.stall.count() / 1000) + " s");
        return false;
      }
      return !Abandoned(job.alloc_id);
    }
    last_data = now;
    got += static_cast<int64_t>(piece.size());
    if (got > max_stream) {
      written = Status::ResourceExhausted("the archive passed " + Mib(max_stream));
      return false;
    }
    written = (*tar)->Write(piece);
    if (!written.ok()) return false;
    if (now - last_report >= std::chrono::seconds(1)) {
      last_report = now;
      SetProgress(job.alloc_id, "migrating the ephemeral disk of allocation " + prev + ": " +
                                    Mib(got) + " of " + Mib(*size));
    }
    return !Abandoned(job.alloc_id);
  });
  if (!written.ok()) return {false, false, written.message()};
  if (Abandoned(job.alloc_id)) return {false, false, "abandoned"};
  if (!fetched.ok()) {
    if (fetched.code() == StatusCode::kUnavailable && got == 0) {
      *retry = Retry::kUnreachable;
      return {false, false, fetched.message()};
    }
    if (StillRunning(fetched) && got == 0) {
      *retry = Retry::kStillRunning;
      return {false, false, fetched.message()};
    }
    return {false, false, fetched.message()};
  }
  if (Status st = (*tar)->Finish(); !st.ok()) return {false, false, st.message()};
  const std::string target = AllocRunner::AllocDir(data_dir_, job.alloc_id) + "/_shared";
  if (rename(tmp.c_str(), target.c_str()) != 0) {
    return {false, false,
            "cannot move the migrated disk in place: " + std::string(strerror(errno))};
  }
  char took[32];
  snprintf(took, sizeof took, "%.1f s",
           std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  return {true, true,
          "migrated the ephemeral disk of allocation " + prev + " (" + Mib(got) + " archived, in " +
              took + ")"};
}

}  // namespace orch::agent
