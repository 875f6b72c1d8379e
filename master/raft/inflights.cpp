#include "master/raft/inflights.h"

#include "master/raft/error.h"

namespace orch::raft {

void Inflights::Add(uint64_t index, uint64_t bytes) {
  RAFT_CHECK(!Full());
  RAFT_CHECK(items_.empty() || items_.back().index < index);
  items_.push_back({index, bytes});
  bytes_ += bytes;
}

void Inflights::FreeLE(uint64_t to) {
  while (!items_.empty() && items_.front().index <= to) {
    bytes_ -= items_.front().bytes;
    items_.pop_front();
  }
}

void Inflights::FreeFirstOne() {
  if (items_.empty()) return;
  bytes_ -= items_.front().bytes;
  items_.pop_front();
}

}  // namespace orch::raft
