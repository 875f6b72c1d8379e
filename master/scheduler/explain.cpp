#include "master/scheduler/explain.h"

#include <algorithm>
#include <vector>

namespace orch::master::sched {

std::string FilterTally::Describe() const {
  if (total_ == 0) return "no nodes registered";
  std::vector<std::pair<std::string, int>> v(counts_.begin(), counts_.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::string out = std::to_string(total_) + (total_ == 1 ? " node" : " nodes") + " filtered: ";
  for (size_t i = 0; i < v.size(); ++i) {
    out += (i ? ", " : "") + std::to_string(v[i].second) + " " + v[i].first;
  }
  return out;
}

}  // namespace orch::master::sched
