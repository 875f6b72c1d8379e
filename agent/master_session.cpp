#include "agent/master_session.h"

#include <spdlog/spdlog.h>

#include "agent/backoff.h"
#include "common/ids.h"

namespace orch::agent {

MasterSession::MasterSession(OrchClient* client, v1::Node node, LoadMonitor* load,
                             MasterSessionCallbacks callbacks)
    : client_(client),
      node_(std::move(node)),
      node_id_(node_.id()),
      node_name_(node_.name()),
      load_(load),
      callbacks_(std::move(callbacks)) {
  thread_ = std::thread([this] { Run(); });
}

MasterSession::~MasterSession() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void MasterSession::Reregister() {
  {
    std::lock_guard lk(mu_);
    reregister_ = true;
  }
  cv_.notify_all();
}

void MasterSession::UpdateNode(v1::Node node) {
  {
    std::lock_guard lk(mu_);
    node_ = std::move(node);
    reregister_ = true;
  }
  cv_.notify_all();
}

Status MasterSession::Register() {
  v1::Node node;
  {
    std::lock_guard lk(mu_);
    node = node_;
  }
  auto resp = client_->RegisterNode(node);
  if (!resp.ok()) return resp.status();
  interval_ = std::chrono::milliseconds(
      resp->heartbeat_interval_ms() > 0 ? resp->heartbeat_interval_ms() : 1000);
  if (!resp->node_id().empty() && resp->node_id() != node_id_) {
    spdlog::warn("node {}: the masters answered with node id {}; keeping ours", ShortId(node_id_),
                 resp->node_id());
  }
  registered_ = true;
  spdlog::info("node {} ({}): registered with the masters, heartbeat every {}ms",
               ShortId(node_id_), node_name_, interval_.count());
  if (callbacks_.on_registered) callbacks_.on_registered();
  return Status::Ok();
}

void MasterSession::Run() {
  Backoff backoff(std::chrono::milliseconds(200), std::chrono::milliseconds(5000));
  int failures = 0;
  std::unique_lock lk(mu_);
  while (!stop_) {
    if (reregister_) {
      reregister_ = false;
      if (registered_) {
        registered_ = false;
        if (callbacks_.on_unregistered) {
          lk.unlock();
          callbacks_.on_unregistered();
          lk.lock();
        }
      }
    }
    if (!registered_) {
      lk.unlock();
      Status st = Register();
      lk.lock();
      if (st.ok()) {
        backoff.Reset();
        failures = 0;
        continue;
      }
      auto delay = backoff.Next();
      // Say so at first, then only now and then, not every retry.
      if (failures++ % 10 == 0) {
        spdlog::warn("node {}: cannot register with the masters, retrying: {}", ShortId(node_id_),
                     st.ToString());
      }
      cv_.wait_for(lk, delay, [&] { return stop_; });
      continue;
    }
    cv_.wait_for(lk, interval_, [&] { return stop_ || reregister_; });
    if (stop_ || reregister_) continue;
    lk.unlock();
    v1::HeartbeatRequest req;
    // The latest measurement, never a fresh one: measuring can take longer
    // than the heartbeat TTL (Docker stats of many containers).
    *req.mutable_load() = load_->Latest();
    const auto sent = std::chrono::steady_clock::now();
    auto resp = client_->Heartbeat(node_id_, req);
    if (callbacks_.on_heartbeat) {
      callbacks_.on_heartbeat(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count(),
          resp.ok());
    }
    lk.lock();
    if (resp.ok()) {
      failures = 0;
      continue;
    }
    if (resp.status().code() == StatusCode::kNotFound) {
      spdlog::warn("node {}: the masters do not know this node ({}), registering again",
                   ShortId(node_id_), resp.status().message());
      reregister_ = true;
      continue;
    }
    if (failures++ % 10 == 0) {
      spdlog::warn("node {}: heartbeat failed: {}", ShortId(node_id_), resp.status().ToString());
    }
  }
}

}  // namespace orch::agent
