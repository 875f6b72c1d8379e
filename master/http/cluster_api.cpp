#include "master/http/cluster_api.h"

#include <spdlog/spdlog.h>

#include "common/document.h"
#include "common/json.h"
#include "common/net.h"
#include "master/model/secrets.h"
#include "master/raft/cluster_id.h"
#include "orch/v1/api.pb.h"

namespace orch::master {
namespace {

constexpr std::chrono::seconds kChangeTimeout{10};

HttpResponse Members(replication::RaftNode* raft) {
  v1::MemberList out;
  for (auto& m : raft->Members()) *out.add_members() = std::move(m);
  out.set_leader_id(raft->LeaderId());
  out.set_cluster_id(raft::FormatClusterId(raft->ClusterId()));
  return HttpResponse::Json(200, RedactedJson(out));
}

HttpResponse AddMember(const HttpRequest& req, replication::RaftNode* raft) {
  v1::AddMemberRequest body;
  Status st = ParseDocument(req.body, &body);
  if (!st.ok()) return HttpResponse::Error(st);
  if (body.id().empty()) return HttpResponse::Error(Status::InvalidArgument("id: is required"));
  if (body.promote()) {
    st = raft->PromoteMember(body.id(), kChangeTimeout);
  } else {
    auto hp = ParseHostPort(body.raft_address());
    if (!hp.ok()) return HttpResponse::Error(hp.status().WithContext("raft_address"));
    if (!body.http_address().empty()) {
      auto urls = ParseUrlList(body.http_address());
      if (!urls.ok()) return HttpResponse::Error(urls.status().WithContext("http_address"));
    }
    v1::Member m;
    m.set_id(body.id());
    m.set_raft_address(body.raft_address());
    m.set_http_address(body.http_address());
    st = raft->AddMember(m, body.learner(), kChangeTimeout);
  }
  if (!st.ok()) return HttpResponse::Error(st);
  spdlog::info("cluster: member {} {}", body.id(),
               body.promote() ? "promoted to voter" : (body.learner() ? "added as learner" : "added as voter"));
  v1::ClusterResponse resp;
  resp.set_message("member " + body.id() +
                   (body.promote() ? " is a voter" : (body.learner() ? " added as learner" : " added as voter")));
  return HttpResponse::Json(200, RedactedJson(resp));
}

}  // namespace

void RegisterClusterRoutes(Router* r, replication::RaftNode* raft) {
  r->Add("GET", "/v1/cluster/leader", [raft](const HttpRequest&, const PathParams&) {
    v1::LeaderResponse resp;
    const auto [leader_id, term] = raft->LeaderAndTerm();
    resp.set_leader_id(leader_id);
    resp.set_address(raft->LeaderHttpAddress());
    resp.set_term(term);
    for (const auto& m : raft->Members()) {
      if (m.leader()) resp.set_raft_address(m.raft_address());
    }
    if (resp.leader_id().empty()) {
      return HttpResponse::Error(Status::Unavailable("no leader elected yet"));
    }
    return HttpResponse::Json(200, RedactedJson(resp));
  });
  r->Add("GET", "/v1/cluster/members", [raft](const HttpRequest&, const PathParams&) { return Members(raft); });
  r->Add("POST", "/v1/cluster/members",
         [raft](const HttpRequest& req, const PathParams&) { return AddMember(req, raft); });
  r->Add("DELETE", "/v1/cluster/members/{id}", [raft](const HttpRequest&, const PathParams& p) {
    Status st = raft->RemoveMember(p.at("id"), kChangeTimeout);
    if (!st.ok()) return HttpResponse::Error(st);
    spdlog::info("cluster: member {} removed", p.at("id"));
    v1::ClusterResponse resp;
    resp.set_message("member " + p.at("id") + " removed");
    return HttpResponse::Json(200, RedactedJson(resp));
  });
  r->Add("POST", "/v1/cluster/transfer-leader", [raft](const HttpRequest& req, const PathParams&) {
    v1::TransferLeaderRequest body;
    Status st = ParseDocument(req.body, &body);
    if (st.ok() && body.id().empty()) st = Status::InvalidArgument("id: is required");
    if (st.ok()) st = raft->TransferLeadership(body.id(), kChangeTimeout);
    if (!st.ok()) return HttpResponse::Error(st);
    v1::ClusterResponse resp;
    resp.set_message("leadership transferred to " + body.id());
    return HttpResponse::Json(200, RedactedJson(resp));
  });
}

}  // namespace orch::master
