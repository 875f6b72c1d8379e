// ReadOnly: the leader's queue of pending ReadIndex requests. A request
// records the commit index at arrival; it is served once a quorum has
// answered a heartbeat carrying its context, which proves no newer leader
// existed at that moment (the Raft thesis, section 6.4).
// Thread-safety: none; owned by the leader's Raft instance.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "master/raft/storage.h"

namespace orch::raft {

struct ReadIndexStatus {
  Message req;  // the MsgReadIndex; entries[0].data is the request context
  uint64_t index = 0;
  std::set<uint64_t> acks;
};

class ReadOnly {
 public:
  // Queues a request (ignored if its context is already pending).
  void AddRequest(uint64_t index, const Message& m);
  // Records that `id` answered the heartbeat for ctx; returns the acks so
  // far, or nullptr if ctx is unknown (already served or never queued).
  const std::set<uint64_t>* RecvAck(uint64_t id, const std::string& ctx);
  // Removes and returns every request queued up to and including ctx:
  // confirming a later heartbeat confirms the earlier ones too.
  std::vector<ReadIndexStatus> Advance(const std::string& ctx);
  // Context of the newest pending request, or "" when none.
  std::string LastPendingRequestCtx() const;
  size_t PendingCount() const { return queue_.size(); }

 private:
  std::map<std::string, ReadIndexStatus> pending_;
  std::deque<std::string> queue_;
};

}  // namespace orch::raft
