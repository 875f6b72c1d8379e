#include "agent/reporter.h"

#include <spdlog/spdlog.h>

#include "agent/backoff.h"
#include "common/ids.h"

namespace orch::agent {

Reporter::Reporter(OrchClient* client, std::string node_id, std::function<void()> on_node_unknown)
    : client_(client), node_id_(std::move(node_id)), on_node_unknown_(std::move(on_node_unknown)) {
  thread_ = std::thread([this] { Run(); });
}

Reporter::~Reporter() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Reporter::Submit(std::vector<v1::AllocationUpdate> updates) {
  if (updates.empty()) return;
  {
    std::lock_guard lk(mu_);
    for (auto& u : updates) {
      std::string id = u.id();
      pending_[id] = std::move(u);
    }
  }
  cv_.notify_all();
}

void Reporter::SetEnabled(bool enabled) {
  {
    std::lock_guard lk(mu_);
    enabled_ = enabled;
  }
  cv_.notify_all();
}

std::size_t Reporter::Pending() {
  std::lock_guard lk(mu_);
  return pending_.size();
}

void Reporter::Run() {
  Backoff backoff(std::chrono::milliseconds(200), std::chrono::milliseconds(5000));
  std::unique_lock lk(mu_);
  while (!stop_) {
    cv_.wait(lk, [&] { return stop_ || (enabled_ && !pending_.empty()); });
    if (stop_) break;
    // Take everything pending: one request carries the whole batch.
    std::map<std::string, v1::AllocationUpdate> batch;
    batch.swap(pending_);
    lk.unlock();
    v1::UpdateAllocationsRequest req;
    for (const auto& [id, u] : batch) *req.add_updates() = u;
    auto resp = client_->UpdateAllocations(node_id_, req);
    lk.lock();
    if (resp.ok()) {
      backoff.Reset();
      for (const auto& [id, u] : batch) {
        spdlog::debug("alloc {}: reported {}", ShortId(id),
                      v1::Allocation::ClientStatus_Name(u.client_status()));
      }
      continue;
    }
    if (resp.status().code() == StatusCode::kInvalidArgument) {
      // The masters refuse the request itself; sending it again cannot help.
      spdlog::error("the masters rejected {} allocation update(s), dropped: {}", batch.size(),
                    resp.status().ToString());
      continue;
    }
    // Put back what no newer update has replaced meanwhile, then wait.
    for (auto& [id, u] : batch) pending_.try_emplace(id, std::move(u));
    if (resp.status().code() == StatusCode::kNotFound && on_node_unknown_) {
      enabled_ = false;  // until registered again
      lk.unlock();
      on_node_unknown_();
      lk.lock();
    }
    auto delay = backoff.Next();
    spdlog::warn("reporting {} allocation update(s) failed, retrying in {}ms: {}", batch.size(),
                 delay.count(), resp.status().ToString());
    cv_.wait_for(lk, delay, [&] { return stop_; });
  }
}

}  // namespace orch::agent
