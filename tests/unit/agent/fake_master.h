// FakeMaster: the four node endpoints of the master's REST API, in memory,
// on a real HttpServer, for agent tests:
//   POST /v1/nodes/register, POST /v1/nodes/{id}/heartbeat,
//   GET  /v1/nodes/{id}/allocations?index=N&wait=D (blocking),
//   POST /v1/nodes/{id}/allocations.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>

#include "common/document.h"
#include "common/http_server.h"
#include "common/json.h"
#include "common/router.h"
#include "orch/v1/api.pb.h"

namespace orch::agent::testing {

class FakeMaster {
 public:
  FakeMaster() {
    router_.Add("POST", "/v1/nodes/register", [this](const HttpRequest& r, const PathParams&) {
      v1::RegisterNodeRequest req;
      if (Status st = FromJson(r.body, &req); !st.ok()) return HttpResponse::Error(st);
      std::lock_guard lk(mu_);
      nodes_[req.node().id()] = req.node();
      registrations_++;
      v1::RegisterNodeResponse resp;
      resp.set_node_id(req.node().id());
      resp.set_index(Bump());
      resp.set_heartbeat_interval_ms(50);
      resp.set_heartbeat_ttl_ms(1000);
      return HttpResponse::Json(200, ToJson(resp));
    });
    router_.Add(
        "POST", "/v1/nodes/{id}/heartbeat", [this](const HttpRequest& r, const PathParams& p) {
          v1::HeartbeatRequest req;
          if (Status st = FromJson(r.body, &req); !st.ok()) return HttpResponse::Error(st);
          std::lock_guard lk(mu_);
          if (!nodes_.count(p.at("id"))) {
            return HttpResponse::Error(Status::NotFound("node " + p.at("id") + " not found"));
          }
          heartbeats_++;
          last_load_ = req.load();
          v1::HeartbeatResponse resp;
          resp.set_index(index_);
          return HttpResponse::Json(200, ToJson(resp));
        });
    router_.Add(
        "GET", "/v1/nodes/{id}/allocations", [this](const HttpRequest& r, const PathParams& p) {
          uint64_t min_index = std::stoull(r.Query("index", "0"));
          auto wait = ParseDuration(r.Query("wait", "0"));
          auto deadline = std::chrono::steady_clock::now() +
                          std::min<std::chrono::nanoseconds>(
                              wait.ok() ? *wait : std::chrono::seconds(0), std::chrono::seconds(2));
          std::unique_lock lk(mu_);
          if (!nodes_.count(p.at("id"))) {
            return HttpResponse::Error(Status::NotFound("node " + p.at("id") + " not found"));
          }
          cv_.wait_until(lk, deadline, [&] { return index_ > min_index || closing_; });
          v1::AllocationList list;
          for (const auto& [id, a] : allocs_) {
            if (a.node_id() == p.at("id")) *list.add_allocations() = a;
          }
          auto resp = HttpResponse::Json(200, ToJson(list));
          resp.headers.emplace_back("X-Orch-Index", std::to_string(index_));
          return resp;
        });
    router_.Add("POST", "/v1/nodes/{id}/allocations",
                [this](const HttpRequest& r, const PathParams&) {
                  v1::UpdateAllocationsRequest req;
                  if (Status st = FromJson(r.body, &req); !st.ok()) return HttpResponse::Error(st);
                  std::lock_guard lk(mu_);
                  if (failing_updates_ > 0) {
                    failing_updates_--;
                    return HttpResponse::Error(Status::Unavailable("no leader"));
                  }
                  for (const auto& u : req.updates()) {
                    updates_.push_back(u);
                    auto it = allocs_.find(u.id());
                    if (it == allocs_.end()) continue;
                    it->second.set_client_status(u.client_status());
                    it->second.set_client_description(u.client_description());
                    it->second.mutable_task_states()->CopyFrom(u.task_states());
                    it->second.mutable_ports()->CopyFrom(u.ports());
                  }
                  v1::UpdateAllocationsResponse resp;
                  resp.set_index(Bump());
                  return HttpResponse::Json(200, ToJson(resp));
                });
    HttpServerOptions opts;
    opts.name = "fake-master";
    auto s = HttpServer::Start(opts, [this](const HttpRequest& r) { return router_.Handle(r); });
    server_ = std::move(s).value();
  }

  ~FakeMaster() {
    {
      std::lock_guard lk(mu_);
      closing_ = true;
    }
    cv_.notify_all();
    server_->Shutdown();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  void PutAlloc(const v1::Allocation& a) {
    std::lock_guard lk(mu_);
    v1::Allocation& stored = allocs_[a.id()];
    auto client_status = stored.client_status();
    auto states = stored.task_states();
    stored = a;
    stored.set_client_status(client_status);
    *stored.mutable_task_states() = states;
    Bump();
  }
  void SetDesired(const std::string& id, v1::Allocation::DesiredStatus d) {
    std::lock_guard lk(mu_);
    allocs_.at(id).set_desired_status(d);
    Bump();
  }
  void RemoveAlloc(const std::string& id) {
    std::lock_guard lk(mu_);
    allocs_.erase(id);
    Bump();
  }
  void ForgetNode(const std::string& id) {
    std::lock_guard lk(mu_);
    nodes_.erase(id);
    Bump();
  }
  std::optional<v1::Allocation> Alloc(const std::string& id) {
    std::lock_guard lk(mu_);
    auto it = allocs_.find(id);
    if (it == allocs_.end()) return std::nullopt;
    return it->second;
  }
  std::optional<v1::Node> Node(const std::string& id) {
    std::lock_guard lk(mu_);
    auto it = nodes_.find(id);
    if (it == nodes_.end()) return std::nullopt;
    return it->second;
  }
  // The next `n` allocation updates fail with 503.
  void FailUpdates(int n) {
    std::lock_guard lk(mu_);
    failing_updates_ = n;
  }
  int registrations() {
    std::lock_guard lk(mu_);
    return registrations_;
  }
  int heartbeats() {
    std::lock_guard lk(mu_);
    return heartbeats_;
  }
  std::vector<v1::AllocationUpdate> updates() {
    std::lock_guard lk(mu_);
    return updates_;
  }

 private:
  uint64_t Bump() {  // REQUIRES: mu_
    ++index_;
    cv_.notify_all();
    return index_;
  }

  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t index_ = 1;
  bool closing_ = false;
  std::map<std::string, v1::Node> nodes_;
  std::map<std::string, v1::Allocation> allocs_;
  std::vector<v1::AllocationUpdate> updates_;
  v1::NodeLoad last_load_;
  int registrations_ = 0, heartbeats_ = 0, failing_updates_ = 0;
};

}  // namespace orch::agent::testing
