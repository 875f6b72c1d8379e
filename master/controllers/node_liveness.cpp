#include "master/controllers/node_liveness.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "common/ids.h"
#include "common/thread_name.h"

namespace orch::master {
namespace {

// The statuses a silent node is marked down from. A draining node still
// runs work: it goes down like a ready one.
bool Watched(v1::Node::Status status) {
  return status == v1::Node::READY || status == v1::Node::DRAINING;
}

}  // namespace

void NodeLiveness::Start() {
  stop_ = false;
  thread_ = std::thread([this] {
    NameThisThread("node-liveness");
    while (!stop_) {
      CheckOnce();
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
}

void NodeLiveness::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

Status NodeLiveness::Heartbeat(const std::string& node_id, const v1::NodeLoad& load) {
  if (auto done = HeartbeatWithoutWrite(node_id, load)) return *done;
  {
    std::lock_guard lock(mu_);
    RecordLocked(node_id, load);
  }
  if (log_->IsLeader()) return ProposeStatus(node_id, v1::Node::READY, "heartbeat received again");
  return Status::Ok();
}

std::optional<Status> NodeLiveness::HeartbeatWithoutWrite(const std::string& node_id, const v1::NodeLoad& load) {
  auto status = store_->NodeStatusBrief(node_id);
  if (!status) return Status::NotFound("node \"" + node_id + "\" not found");
  if (*status == v1::Node::DOWN) return std::nullopt;
  std::lock_guard lock(mu_);
  RecordLocked(node_id, load);
  return Status::Ok();
}

void NodeLiveness::RecordLocked(const std::string& node_id, const v1::NodeLoad& load) {
  auto it = seen_.try_emplace(node_id).first;
  Seen& s = it->second;
  s.at = clock_->Steady();
  s.wall_ms = clock_->NowMs();
  s.load = load;
  QueueLocked(*it, s.at);
}

void NodeLiveness::QueueLocked(SeenMap::value_type& node, Steady at) {
  if (node.second.queued) return;
  node.second.queued = true;
  due_.push(Due{at, &node});
}

v1::NodeLoad NodeLiveness::Load(const std::string& node_id) const {
  std::lock_guard lock(mu_);
  auto it = seen_.find(node_id);
  return it == seen_.end() ? v1::NodeLoad() : it->second.load;
}

void NodeLiveness::NoteUsage(const std::string& alloc_id, const v1::NodeLoad& usage) {
  std::lock_guard lock(mu_);
  const auto now = clock_->Steady();
  usage_[alloc_id] = Used{usage, now};
  // Forget allocations not reported for a minute (gone, or their node is),
  // whenever the map doubled since the last look: amortized O(1).
  if (usage_.size() >= 2 * std::max<std::size_t>(usage_pruned_at_, 512)) {
    for (auto it = usage_.begin(); it != usage_.end();) {
      it = now - it->second.at > std::chrono::minutes(1) ? usage_.erase(it) : std::next(it);
    }
    usage_pruned_at_ = usage_.size();
  }
}

std::optional<v1::NodeLoad> NodeLiveness::Usage(const std::string& alloc_id) const {
  std::lock_guard lock(mu_);
  auto it = usage_.find(alloc_id);
  if (it == usage_.end() || clock_->Steady() - it->second.at > std::chrono::minutes(1))
    return std::nullopt;
  return it->second.usage;
}

int64_t NodeLiveness::LastHeartbeatMs(const std::string& node_id) const {
  std::lock_guard lock(mu_);
  auto it = seen_.find(node_id);
  return it == seen_.end() ? 0 : it->second.wall_ms;
}

void NodeLiveness::CheckOnce() {
  if (!log_->IsLeader()) {
    std::lock_guard lock(mu_);
    was_leader_ = false;
    return;
  }
  const auto now = clock_->Steady();
  bool sweep = false;
  {
    std::lock_guard lock(mu_);
    if (!was_leader_) {
      // A new leader has heard no heartbeats yet: give every node a full TTL.
      was_leader_ = true;
      leader_since_ = now;
      next_sweep_ = now;
    }
    if (now >= next_sweep_) {
      sweep = true;
      next_sweep_ = now + ttl_;
    }
  }
  if (sweep) QueueUnqueuedNodes();
  std::vector<std::string> expired;
  {
    std::lock_guard lock(mu_);
    uint64_t checked = 0;
    while (!due_.empty() && now - due_.top().at > ttl_) {
      const Due d = due_.top();
      due_.pop();
      ++checked;
      Seen& s = d.node->second;
      const Steady last = std::max(s.at, leader_since_);
      if (now - last <= ttl_) {
        due_.push(Due{last, d.node});  // heard since it was queued: due later
        continue;
      }
      s.queued = false;
      expired.push_back(d.node->first);
    }
    entries_checked_ += checked;
  }
  std::sort(expired.begin(), expired.end());
  for (const auto& id : expired) {
    // The status from memory (no SQLite, no apply to wait for).
    const auto status = store_->NodeStatusBrief(id);
    if (!status) {
      // Gone from the state: forget it, unless it was heard meanwhile.
      std::lock_guard lock(mu_);
      if (auto it = seen_.find(id); it != seen_.end() && !it->second.queued) seen_.erase(it);
      continue;
    }
    if (!Watched(*status)) continue;
    auto st = ProposeStatus(id, v1::Node::DOWN,
                            "no heartbeat for " + std::to_string(ttl_.count()) + "ms");
    if (!st.ok()) {
      spdlog::warn("node {}: cannot mark down: {}", ShortId(id), st.ToString());
      // Looked at again at the next pass.
      std::lock_guard lock(mu_);
      if (auto it = seen_.find(id); it != seen_.end()) QueueLocked(*it, it->second.at);
    }
  }
}

void NodeLiveness::QueueUnqueuedNodes() {
  const auto nodes = store_->NodeStatusesBrief();
  std::lock_guard lock(mu_);
  for (const auto& [id, status] : nodes) {
    if (!Watched(status)) continue;
    auto it = seen_.try_emplace(id).first;
    QueueLocked(*it, std::max(it->second.at, leader_since_));
  }
}

Status NodeLiveness::ProposeStatus(const std::string& node_id, v1::Node::Status status,
                                   const std::string& why) {
  v1::Command cmd;
  cmd.set_time_ms(clock_->NowMs());
  auto* c = cmd.mutable_node_status();
  c->set_node_id(node_id);
  c->set_status(status);
  if (status == v1::Node::DOWN) {
    std::set<std::string> jobs;
    for (const auto& a : store_->ListAllocations("", node_id)) {
      if (IsLive(a)) jobs.insert(a.job_id());
    }
    for (const auto& job : jobs) {
      auto* e = c->add_evals();
      e->set_id(NewUuid());
      e->set_job_id(job);
      e->set_node_id(node_id);
      e->set_triggered_by(v1::Evaluation::NODE_UPDATE);
    }
  }
  auto index = log_->Propose(cmd, std::chrono::seconds(5));
  if (!index.ok()) return index.status();
  spdlog::info("node {}: {}, marking {} (index {})", ShortId(node_id), why,
               v1::Node::Status_Name(status), *index);
  return Status::Ok();
}

}  // namespace orch::master
