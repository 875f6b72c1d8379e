// Inflights: flow control for log replication to one follower. The leader
// records each MsgApp it sends in Replicate state (by last index and size)
// and stops sending when too many messages or bytes are unacknowledged, so
// a slow follower cannot make the leader buffer without bound.
// Thread-safety: none; owned by one Progress.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

namespace orch::raft {

class Inflights {
 public:
  // max_bytes == 0 means no byte limit.
  Inflights(size_t capacity, uint64_t max_bytes) : capacity_(capacity), max_bytes_(max_bytes) {}

  // Records a message whose last entry is `index`.
  // REQUIRES: !Full() and index greater than every recorded index.
  void Add(uint64_t index, uint64_t bytes);
  // Frees every message whose last index is <= to (acknowledged).
  void FreeLE(uint64_t to);
  // Frees the oldest message; a heartbeat response proves the follower is
  // alive, so one more message may go out even if acks were lost.
  void FreeFirstOne();
  bool Full() const {
    return items_.size() >= capacity_ || (max_bytes_ != 0 && bytes_ >= max_bytes_);
  }
  size_t Count() const { return items_.size(); }
  uint64_t Bytes() const { return bytes_; }
  void Reset() {
    items_.clear();
    bytes_ = 0;
  }

 private:
  struct Item {
    uint64_t index;
    uint64_t bytes;
  };
  size_t capacity_;
  uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  std::deque<Item> items_;
};

}  // namespace orch::raft
