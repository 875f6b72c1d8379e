#include "master/state/scheduling_cache.h"

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

}  // namespace

void SchedulingCache::Clear() {
  filled_ = false;
  index_ = 0;
  nodes_.clear();
  allocs_.clear();
  job_count_.clear();
}

void SchedulingCache::Start(uint64_t epoch) {
  Clear();
  epoch_ = epoch;
}

void SchedulingCache::PutNode(const v1::Node& node) { nodes_[node.id()] = node; }

void SchedulingCache::Forget(std::map<std::string, Alloc>::iterator it) {
  auto j = job_count_.find(it->second->job_id());
  if (j != job_count_.end() && --j->second == 0) job_count_.erase(j);
  allocs_.erase(it);
}

void SchedulingCache::PutAllocation(const v1::Allocation& a) {
  auto it = allocs_.find(a.id());
  if (IsTerminal(a)) {  // holds nothing any more
    if (it != allocs_.end()) Forget(it);
    return;
  }
  auto kept = std::make_shared<const v1::Allocation>(Trimmed(a));
  if (it == allocs_.end()) {
    ++job_count_[a.job_id()];
    allocs_.emplace(a.id(), std::move(kept));
  } else {
    it->second = std::move(kept);  // an allocation never changes job
  }
}

void SchedulingCache::EraseAllocation(const std::string& id) {
  auto it = allocs_.find(id);
  if (it != allocs_.end()) Forget(it);
}

void SchedulingCache::ReplaceJobs(const std::map<std::string, std::vector<v1::Allocation>>& now) {
  if (now.empty()) return;
  for (auto it = allocs_.begin(); it != allocs_.end();) {
    auto next = std::next(it);
    if (now.count(it->second->job_id())) Forget(it);
    it = next;
  }
  for (const auto& [job_id, allocs] : now) {
    for (const auto& a : allocs) PutAllocation(a);
  }
}

std::set<std::string> SchedulingCache::Apply(
    const std::vector<std::shared_ptr<const EventBatch>>& batches, uint64_t last) {
  std::set<std::string> deleted_jobs;
  v1::Allocation a;
  v1::Node n;
  for (const auto& batch : batches) {
    for (const StateEvent& e : batch->events()) {
      if (e.topic == "Allocation") {
        if (e.payload.empty()) {
          EraseAllocation(e.key);
        } else if (a.ParseFromString(e.payload)) {
          PutAllocation(a);
        } else {
          filled_ = false;  // not what the store wrote: read the tables again
        }
      } else if (e.topic == "Node" && !e.payload.empty()) {
        if (n.ParseFromString(e.payload)) {
          PutNode(n);
        } else {
          filled_ = false;
        }
      } else if (e.topic == "Job" && e.payload.empty()) {
        deleted_jobs.insert(e.key);
      }
    }
  }
  index_ = std::max(index_, last);
  return deleted_jobs;
}

}  // namespace orch::master
