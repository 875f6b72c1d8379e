// SchedulingCache: what every scheduling pass reads of the whole cluster
// (the nodes, and the allocations that hold resources or ports on them),
// kept between passes by the one who reads it (the leader's eval worker,
// through StateStore::ReadForScheduling) and brought up to date from the
// state's change events (EventBuffer) instead of parsing every node and
// allocation from state.db each pass. Nothing is kept or paid for at apply:
// a master that never schedules never fills it. Built from the tables when
// first read, when the events it needs were dropped, and after the store
// rebuilt its memory (restore, snapshot install, rollback: a new epoch).
// Allocations are kept trimmed to what the scheduler reads (ids, statuses,
// ports, resources, the group's volumes), shared with the passes that read
// them (immutable once kept).
// Thread safety: not thread-safe; its owner serialises the reads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "master/events/event_buffer.h"
#include "orch/v1/types.pb.h"

namespace orch::master {

class SchedulingCache {
 public:
  using Alloc = std::shared_ptr<const v1::Allocation>;

  // Whether it holds the state as of some index of `epoch` (false until
  // filled, and after Clear).
  bool Holds(uint64_t epoch) const { return filled_ && epoch_ == epoch; }
  uint64_t index() const { return index_; }
  void Clear();
  // Filling from the tables: Start, then every node and allocation, then
  // Filled at the state index they were read at.
  void Start(uint64_t epoch);
  void Filled(uint64_t index) {
    index_ = index;
    filled_ = true;
  }

  void PutNode(const v1::Node& node);
  // Kept if it holds resources or ports (live, or asked to stop and not
  // yet terminal); forgotten otherwise.
  void PutAllocation(const v1::Allocation& a);
  void EraseAllocation(const std::string& id);
  // The allocations of the jobs in `now` are exactly those listed (what
  // the tables hold after a job deletion, which deletes allocations without
  // an event each). One pass over what is kept.
  void ReplaceJobs(const std::map<std::string, std::vector<v1::Allocation>>& now);

  // The events of `batches` (index order, every one after index()), applied.
  // Jobs deleted on the way are returned: the caller reads their
  // allocations from the tables and calls ReplaceJobs. An event it cannot
  // read empties it (Holds turns false).
  std::set<std::string> Apply(const std::vector<std::shared_ptr<const EventBatch>>& batches,
                              uint64_t last);

  const std::map<std::string, v1::Node>& nodes() const { return nodes_; }
  const std::map<std::string, Alloc>& allocations() const { return allocs_; }
  // Jobs with allocations kept, and how many of each.
  const std::unordered_map<std::string, uint32_t>& jobs() const { return job_count_; }

 private:
  void Forget(std::map<std::string, Alloc>::iterator it);

  bool filled_ = false;
  uint64_t epoch_ = 0;
  uint64_t index_ = 0;
  std::map<std::string, v1::Node> nodes_;  // by id
  std::map<std::string, Alloc> allocs_;    // by id (passes read them in that order)
  std::unordered_map<std::string, uint32_t> job_count_;
};

}  // namespace orch::master
