#include "master/http/forward.h"

#include <spdlog/spdlog.h>
#include <strings.h>

#include "master/http/operator_api.h"

namespace orch::master {

namespace {
constexpr const char* kForwardedHeader = "X-Orch-Forwarded";

HttpClientOptions ForwardOptions(const std::string& member_id, const TlsFiles& tls) {
  HttpClientOptions o;
  o.tls = tls;
  o.tls_server_name = std::string(TlsRoleName(TlsRole::kServer));
  o.headers.emplace_back(kForwardedHeader, member_id);
  o.timeout = std::chrono::seconds(30);
  // As many as the workers that may forward at once (agents' reports and
  // registrations reaching a follower), so none dials the leader anew.
  o.max_idle_connections = 256;
  return o;
}
}  // namespace

LeaderForwarder::LeaderForwarder(replication::RaftNode* raft, std::string member_id,
                                 const TlsFiles& tls)
    : raft_(raft), member_id_(std::move(member_id)), client_(ForwardOptions(member_id_, tls)) {}

HttpResponse LeaderForwarder::Handle(const Router& router, const HttpRequest& req,
                                     const acl::Authorizer& authz) const {
  bool write = req.method != "GET" && req.method != "HEAD";
  if (!write || raft_->IsLeader()) {
    if (auto denied = authz.CheckRoute(req)) return *denied;
    return router.Handle(req);
  }
  if (!req.Header("x-orch-forwarded").empty()) {
    // Forwarded to us by a master that thought we lead: do not bounce it on.
    return HttpResponse::Error(Status::Unavailable("master " + member_id_ +
                                                   " is not the leader any more; retry"));
  }
  std::string leader = raft_->LeaderHttpAddress();
  if (leader.empty()) {
    std::string id = raft_->LeaderId();
    return HttpResponse::Error(Status::Unavailable(
        id.empty() ? "no leader: the masters are electing one (or cannot reach a majority); retry shortly"
                   : "leader " + id + " has not announced its address yet; retry shortly"));
  }
  // The caller's credentials go along: the leader checks them (again). An
  // agent's node secret too: with a client token, a node's own requests
  // (heartbeats, reports) need it.
  HttpClient::Headers credentials;
  for (const char* h : {"x-orch-token", "authorization", "x-orch-node-secret"}) {
    if (std::string v = req.Header(h); !v.empty()) credentials.emplace_back(h, v);
  }
  // A restore stages its image through the log before it answers.
  const auto timeout = req.path == kSnapshotPath
                           ? std::chrono::milliseconds(std::chrono::minutes(10))
                           : std::chrono::milliseconds(0);
  auto resp = client_.Do(req.method, leader + req.target, req.body, timeout, credentials);
  if (!resp.ok()) {
    spdlog::warn("forwarding {} {} to leader {} failed: {}", req.method, req.path, leader,
                 resp.status().ToString());
    return HttpResponse::Error(Status::Unavailable("leader at " + leader + " unreachable: " + resp.status().message()));
  }
  HttpResponse out = *resp;
  // Keep only what the client needs; hop-by-hop headers are our server's.
  std::vector<std::pair<std::string, std::string>> keep;
  for (const auto& [k, v] : out.headers) {
    if (strcasecmp(k.c_str(), "X-Orch-Index") == 0 || strcasecmp(k.c_str(), "Allow") == 0) keep.emplace_back(k, v);
  }
  out.headers = std::move(keep);
  if (out.content_type.empty()) out.content_type = "application/json";
  return out;
}

}  // namespace orch::master
