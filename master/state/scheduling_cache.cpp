#include "master/state/scheduling_cache.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <limits>

#include "master/model/allocation.h"

namespace orch::master {

namespace {

// What the scheduler reads of an allocation: where it is, whether it holds
// resources, its ports, resources and writable volumes.
v1::Allocation Trimmed(const v1::Allocation& a) {
  v1::Allocation t;
  t.set_id(a.id());
  t.set_job_id(a.job_id());
  t.set_node_id(a.node_id());
  t.set_desired_status(a.desired_status());
  t.set_client_status(a.client_status());
  *t.mutable_ports() = a.ports();
  *t.mutable_resources() = a.resources();
  if (a.task_group().volumes_size() > 0)
    *t.mutable_task_group()->mutable_volumes() = a.task_group().volumes();
  return t;
}

// A job's priority read from its encoding, skipping the rest unparsed (a
// job's groups and tasks are most of it); false if it is not a Job's.
bool PriorityIn(const std::string& job, int32_t* priority) {
  using google::protobuf::internal::WireFormatLite;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(job.data()),
                                            static_cast<int>(job.size()));
  *priority = 0;
  for (uint32_t tag = in.ReadTag(); tag != 0; tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == v1::Job::kPriorityFieldNumber &&
        WireFormatLite::GetTagWireType(tag) == WireFormatLite::WIRETYPE_VARINT) {
      uint32_t v = 0;
      if (!in.ReadVarint32(&v)) return false;
      *priority = static_cast<int32_t>(v);  // the last one counts, as in a parse
    } else if (!WireFormatLite::SkipField(&in, tag)) {
      return false;
    }
  }
  return in.ConsumedEntireMessage();
}

int64_t Saturated(__int128 v) {
  return static_cast<int64_t>(std::clamp<__int128>(v, std::numeric_limits<int64_t>::min(),
                                                   std::numeric_limits<int64_t>::max()));
}

// Adds (sign 1) or takes away (-1) what a live allocation claims.
void Count(SchedulingCache::NodeHeld* h, const v1::Allocation& a, int sign) {
  if (!IsLive(a)) return;
  h->cpu += sign * static_cast<__int128>(a.resources().cpu());
  h->mem += sign * static_cast<__int128>(a.resources().memory());
  h->disk += sign * static_cast<__int128>(a.resources().disk());
}

}  // namespace

v1::Resources SchedulingCache::NodeHeld::Claimed() const {
  v1::Resources r;
  r.set_cpu(Saturated(cpu));
  r.set_memory(Saturated(mem));
  r.set_disk(Saturated(disk));
  return r;
}

void SchedulingCache::Clear() {
  // Asked every wake of a master that does not lead: nothing to do when
  // nothing is kept.
  if (!filled_ && nodes_.empty() && held_->empty() && priorities_->empty() && deleted_jobs_.empty())
    return;
  filled_ = false;
  index_ = 0;
  nodes_.clear();
  node_list_ = nullptr;
  held_ = std::make_shared<HeldMap>();  // a read may still hold the old one
  where_.clear();
  priorities_ = std::make_shared<Priorities>();
  deleted_jobs_.clear();
}

void SchedulingCache::Start(uint64_t epoch) {
  Clear();
  epoch_ = epoch;
}

void SchedulingCache::PutNode(v1::Node node) {
  std::string id = node.id();
  nodes_[std::move(id)] = std::make_shared<const v1::Node>(std::move(node));
  node_list_ = nullptr;
}

std::shared_ptr<const SchedulingCache::NodeList> SchedulingCache::Nodes() const {
  if (!node_list_) {
    auto list = std::make_shared<NodeList>();
    list->reserve(nodes_.size());
    for (const auto& [id, n] : nodes_) list->push_back(n);
    node_list_ = std::move(list);
  }
  return node_list_;
}

SchedulingCache::HeldMap& SchedulingCache::MutableHeld() {
  if (held_.use_count() > 1) held_ = std::make_shared<HeldMap>(*held_);  // a read still holds it
  return *held_;
}

SchedulingCache::Priorities& SchedulingCache::MutablePriorities() {
  if (priorities_.use_count() > 1) priorities_ = std::make_shared<Priorities>(*priorities_);
  return *priorities_;
}

void SchedulingCache::PutPriority(const std::string& job_id, int32_t priority) {
  auto it = priorities_->find(job_id);
  if (it != priorities_->end() && it->second == priority) return;
  MutablePriorities()[job_id] = priority;
}

SchedulingCache::NodeHeld& SchedulingCache::Mutable(const std::string& node_id) {
  std::shared_ptr<NodeHeld>& h = MutableHeld()[node_id];
  if (!h) {
    h = std::make_shared<NodeHeld>();
  } else if (h.use_count() > 1) {
    h = std::make_shared<NodeHeld>(*h);  // a read still holds it
  }
  return *h;
}

void SchedulingCache::Forget(const std::string& id, const std::string& node_id) {
  NodeHeld& h = Mutable(node_id);
  auto it = h.allocs.find(id);
  if (it != h.allocs.end()) {
    Count(&h, *it->second, -1);
    h.allocs.erase(it);
  }
  if (h.allocs.empty()) held_->erase(node_id);  // Mutable made the map this cache's own
}

void SchedulingCache::PutAllocation(const v1::Allocation& a) {
  auto where = where_.find(a.id());
  if (where != where_.end() && (IsTerminal(a) || where->second != a.node_id())) {
    Forget(a.id(),
           where->second);  // holds nothing any more (or moved: never, but cheap to be right)
    where_.erase(where);
    where = where_.end();
  }
  if (IsTerminal(a)) return;
  NodeHeld& h = Mutable(a.node_id());
  auto kept = std::make_shared<const v1::Allocation>(Trimmed(a));
  auto [it, added] = h.allocs.try_emplace(a.id(), kept);
  if (!added) {
    Count(&h, *it->second, -1);
    it->second = kept;
  }
  Count(&h, *kept, 1);
  if (where == where_.end()) where_.emplace(a.id(), a.node_id());
}

void SchedulingCache::EraseAllocation(const std::string& id) {
  auto where = where_.find(id);
  if (where == where_.end()) return;
  Forget(id, where->second);
  where_.erase(where);
}

void SchedulingCache::ReplaceJobs(const std::map<std::string, std::vector<v1::Allocation>>& now) {
  if (now.empty()) return;
  std::vector<std::string> gone;
  for (const auto& [node_id, h] : *held_) {
    for (const auto& [id, a] : h->allocs) {
      if (now.count(a->job_id())) gone.push_back(id);
    }
  }
  for (const auto& id : gone) EraseAllocation(id);
  for (const auto& [job_id, allocs] : now) {
    for (const auto& a : allocs) PutAllocation(a);
  }
}

void SchedulingCache::Apply(const std::vector<std::shared_ptr<const EventBatch>>& batches,
                            uint64_t last) {
  v1::Allocation a;
  v1::Node n;
  int32_t priority = 0;
  for (const auto& batch : batches) {
    for (const StateEvent& e : batch->events()) {
      bool read = true;
      if (e.topic == "Allocation") {
        if (e.payload.empty()) {
          EraseAllocation(e.key);
        } else if ((read = a.ParseFromString(e.payload))) {
          PutAllocation(a);
        }
      } else if (e.topic == "Node" && !e.payload.empty()) {
        if ((read = n.ParseFromString(e.payload))) PutNode(std::move(n));
      } else if (e.topic == "Job") {
        if (e.payload.empty()) {
          deleted_jobs_.insert(e.key);
          if (priorities_->count(e.key)) MutablePriorities().erase(e.key);
        } else if ((read = PriorityIn(e.payload, &priority))) {
          PutPriority(e.key, priority);
        }
      }
      if (!read) {
        Clear();  // not what the store wrote: read the tables again
        return;
      }
    }
  }
  index_ = std::max(index_, last);
}

}  // namespace orch::master
