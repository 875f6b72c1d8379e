#include "master/scheduler/regex.h"

#include <re2/re2.h>

#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "master/model/job_limits.h"

namespace orch::master::sched {
namespace {

// Memory RE2 may use for one compiled pattern (its default is 8 MiB).
constexpr int64_t kMaxProgramBytes = 1 << 20;
constexpr std::size_t kCacheEntries = 256;

RE2::Options Options() {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(kMaxProgramBytes);
  return o;
}

// Least recently used compiled patterns.
class Cache {
 public:
  std::shared_ptr<const RE2> Get(const std::string& pattern) {
    std::lock_guard lock(mu_);
    auto it = map_.find(pattern);
    if (it != map_.end()) {
      order_.splice(order_.begin(), order_, it->second.second);
      return it->second.first;
    }
    auto re = std::make_shared<const RE2>(pattern, Options());
    order_.push_front(pattern);
    map_.emplace(pattern, std::make_pair(re, order_.begin()));
    if (map_.size() > kCacheEntries) {
      map_.erase(order_.back());
      order_.pop_back();
    }
    return re;
  }

 private:
  std::mutex mu_;
  std::list<std::string> order_;
  std::unordered_map<std::string, std::pair<std::shared_ptr<const RE2>, std::list<std::string>::iterator>> map_;
};

Cache& TheCache() {
  static Cache* cache = new Cache();  // never destroyed: used until exit
  return *cache;
}

}  // namespace

Status CheckPattern(const std::string& pattern) {
  if (pattern.size() > JobLimits::kMaxConstraintValueBytes) {
    return Status::InvalidArgument("regexp longer than " + std::to_string(JobLimits::kMaxConstraintValueBytes) +
                                   " bytes");
  }
  RE2 re(pattern, Options());
  if (!re.ok()) return Status::InvalidArgument("not a valid regexp: " + re.error());
  return Status::Ok();
}

bool PatternSearch(const std::string& pattern, const std::string& text) {
  if (pattern.size() > JobLimits::kMaxConstraintValueBytes) return false;
  auto re = TheCache().Get(pattern);
  return re->ok() && RE2::PartialMatch(text, *re);
}

}  // namespace orch::master::sched
