// Explanations: why a group could not be placed, as counts of filtered
// nodes by reason -- "3 nodes filtered: 2 memory exhausted, 1 constraint
// ${attr.os} = windows".
// Thread safety: a plain value.
#pragma once

#include <map>
#include <string>

namespace orch::master::sched {

class FilterTally {
 public:
  void Add(const std::string& reason) { ++counts_[reason]; ++total_; }
  int total() const { return total_; }
  const std::map<std::string, int>& counts() const { return counts_; }
  // "3 nodes filtered: 2 memory exhausted, 1 constraint ..." (most common
  // reason first), or "no nodes registered".
  std::string Describe() const;

 private:
  std::map<std::string, int> counts_;
  int total_ = 0;
};

}  // namespace orch::master::sched
