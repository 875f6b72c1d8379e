#include "agent/alloc_gc.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "common/ids.h"

namespace orch::agent {

namespace {

int64_t MtimeMs(const std::filesystem::path& p) {
  struct stat st;
  if (lstat(p.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

// The last write in the allocation's directory: itself and what is
// directly in it (logs, exit records, task dirs).
int64_t LastActivityMs(const std::filesystem::path& dir) {
  int64_t last = MtimeMs(dir);
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    last = std::max(last, MtimeMs(e.path()));
  }
  return last;
}

}  // namespace

AllocGc::AllocGc(std::string data_dir, std::chrono::milliseconds after, Clock* clock,
                 std::chrono::milliseconds interval)
    : allocs_dir_(std::move(data_dir) + "/allocs"),
      after_(after),
      clock_(clock),
      interval_(interval) {}

int AllocGc::MaybeCollect(const std::function<std::set<std::string>()>& keep) {
  int64_t now = clock_->NowMs();
  if (last_sweep_ms_ != 0 && now - last_sweep_ms_ < interval_.count()) return 0;
  last_sweep_ms_ = now;
  return Collect(keep());
}

int AllocGc::Collect(const std::set<std::string>& keep) {
  namespace fs = std::filesystem;
  int64_t now = clock_->NowMs();
  int removed = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(allocs_dir_, ec)) {
    std::string id = e.path().filename().string();
    if (keep.count(id) || !e.is_directory(ec)) continue;
    int64_t idle_ms = now - LastActivityMs(e.path());
    if (idle_ms < after_.count()) continue;
    std::error_code rm;
    fs::remove_all(e.path(), rm);
    if (rm) {
      spdlog::warn("alloc {}: cannot remove its directory {}: {}", ShortId(id), e.path().string(),
                   rm.message());
      continue;
    }
    ++removed;
    spdlog::info("alloc {}: removed its files ({}), unused for {}s", ShortId(id), e.path().string(),
                 idle_ms / 1000);
  }
  return removed;
}

}  // namespace orch::agent
