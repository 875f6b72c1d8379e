// SchedulingCache: what every scheduling pass reads of the whole cluster
// (the nodes, what each node holds, the jobs' priorities), kept between
// passes by the one who reads it (the leader's eval worker, through
// StateStore::ReadForScheduling) and brought up to date from the state's
// change events (EventBuffer) instead of parsing every node and allocation
// from state.db each pass. Nothing is kept or paid for at apply: a master
// that never schedules never fills it. Built from the tables when first
// read, when the events it needs were dropped, and after the store rebuilt
// its memory (restore, snapshot install, rollback: a new epoch).
//
// What a node holds is kept per node (NodeHeld: the allocations holding
// resources or ports there, trimmed to what the scheduler reads, and what
// the live ones claim), shared with the passes that read it: a pass's node
// table reads only the nodes it looks at. A node's holdings and the
// priorities are copied before a change only while a read still holds
// them (the eval worker lets its read go before the next).
// Thread safety: not thread-safe; its owner serialises the reads.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "master/events/event_buffer.h"
#include "orch/v1/types.pb.h"

namespace orch::master {

class SchedulingCache {
 public:
  using Alloc = std::shared_ptr<const v1::Allocation>;
  // What one node holds: its allocations that are live, or asked to stop
  // and not yet terminal (ports still bound), by id; and what the live ones
  // claim (exact sums; saturated to int64 by Claimed).
  struct NodeHeld {
    std::map<std::string, Alloc> allocs;
    __int128 cpu = 0, mem = 0, disk = 0;
    v1::Resources Claimed() const;
  };
  using Priorities = std::unordered_map<std::string, int32_t>;  // by job id

  // Whether it holds the state as of some index of `epoch` (false until
  // filled, and after Clear).
  bool Holds(uint64_t epoch) const { return filled_ && epoch_ == epoch; }
  uint64_t index() const { return index_; }
  void Clear();
  // Filling from the tables: Start, then every node, job priority and
  // allocation, then Filled at the state index they were read at.
  void Start(uint64_t epoch);
  void Filled(uint64_t index) {
    index_ = index;
    filled_ = true;
  }

  void PutNode(v1::Node node);
  void PutPriority(const std::string& job_id, int32_t priority);
  // Kept if it holds resources or ports (not terminal); forgotten
  // otherwise.
  void PutAllocation(const v1::Allocation& a);
  void EraseAllocation(const std::string& id);
  // The allocations of the jobs in `now` are exactly those listed (what
  // the tables hold after a job deletion, which deletes allocations without
  // an event each). One pass over what is kept.
  void ReplaceJobs(const std::map<std::string, std::vector<v1::Allocation>>& now);

  // The events of `batches` (index order, every one after index()), applied;
  // the cache is then at `last`. Jobs deleted on the way are noted: a read
  // of the tables takes them (TakeDeletedJobs) and calls ReplaceJobs. An
  // event it cannot read empties it (Holds turns false).
  void Apply(const std::vector<std::shared_ptr<const EventBatch>>& batches, uint64_t last);
  std::set<std::string> TakeDeletedJobs() { return std::exchange(deleted_jobs_, {}); }

  // Every node by id, shared with the passes that read it (a pass copies
  // neither the list nor a record): a change replaces a node's record, never
  // alters it, and the list is made again only after a node changed.
  using NodePtr = std::shared_ptr<const v1::Node>;
  using NodeList = std::vector<NodePtr>;
  std::shared_ptr<const NodeList> Nodes() const;
  // What each node holds (by node id; absent: nothing), shared with the
  // read that takes it: a later change copies the map, then the holdings of
  // the node it changes, while a read still holds them.
  using HeldMap = std::unordered_map<std::string, std::shared_ptr<NodeHeld>>;
  std::shared_ptr<const HeldMap> Held() const { return held_; }
  std::shared_ptr<const Priorities> priorities() const { return priorities_; }

 private:
  NodeHeld& Mutable(const std::string& node_id);
  HeldMap& MutableHeld();
  Priorities& MutablePriorities();
  void Forget(const std::string& id, const std::string& node_id);

  bool filled_ = false;
  uint64_t epoch_ = 0;
  uint64_t index_ = 0;
  std::map<std::string, NodePtr> nodes_;               // by id
  mutable std::shared_ptr<const NodeList> node_list_;  // nodes_ as a list; null: to be made
  std::shared_ptr<HeldMap> held_ = std::make_shared<HeldMap>();
  std::unordered_map<std::string, std::string> where_;               // allocation id -> node id
  std::shared_ptr<Priorities> priorities_ = std::make_shared<Priorities>();
  std::set<std::string> deleted_jobs_;  // since the last TakeDeletedJobs
};

}  // namespace orch::master
