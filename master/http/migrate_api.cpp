#include "master/http/migrate_api.h"

#include <spdlog/spdlog.h>

#include <memory>

#include "common/ids.h"
#include "common/json.h"
#include "common/net.h"
#include "master/http/agent_link.h"
#include "orch/v1/api.pb.h"

namespace orch::master {

namespace {

constexpr size_t kRelayBatch = 1 << 20;

struct PreviousDisk {
  v1::Allocation previous;
  AgentLink link;
  std::string url;  // the old agent's ephemeral-disk route
};

Result<PreviousDisk> Locate(StateStore* store, const std::string& node_id,
                            const std::string& alloc_id) {
  auto alloc = store->GetAllocation(alloc_id);
  if (!alloc.ok()) {
    if (alloc.status().code() != StatusCode::kNotFound) return alloc.status();
    // An agent learns of its allocations from some master: this one may lag.
    return Status::Unavailable("allocation " + alloc_id + " is not known to this master yet");
  }
  if (alloc->node_id() != node_id) {
    return Status::PermissionDenied("allocation " + ShortId(alloc_id) + " is not node " +
                                    ShortId(node_id) + "'s");
  }
  const std::string& prev = alloc->previous_allocation();
  if (!alloc->task_group().ephemeral_disk().migrate() || prev.empty()) {
    return Status::InvalidArgument(
        "allocation " + ShortId(alloc_id) +
        " migrates no ephemeral disk (ephemeral_disk.migrate is off, or it "
        "replaces no allocation)");
  }
  auto previous = store->GetAllocation(prev);
  if (!previous.ok()) {
    if (previous.status().code() != StatusCode::kNotFound) return previous.status();
    return Status::NotFound("allocation " + ShortId(prev) +
                            " is gone (collected); nothing to migrate");
  }
  if (previous->node_id() == node_id) {
    return Status::InvalidArgument("allocation " + ShortId(prev) +
                                   " ran on this node: its disk is taken over there, not migrated");
  }
  if (previous->node_id().empty()) {
    return Status::NotFound("allocation " + ShortId(prev) +
                            " never ran on a node; nothing to migrate");
  }
  ORCH_ASSIGN_OR_RETURN(AgentLink link, LinkToAgent(store, previous->node_id(),
                                                    "allocation " + ShortId(prev) + "'s disk"));
  std::string url = link.base + "/v1/allocations/" + UrlEncode(prev) + "/ephemeral-disk";
  return PreviousDisk{std::move(*previous), std::move(link), std::move(url)};
}

HttpResponse Serve(StateStore* store, const std::shared_ptr<HttpClient>& client,
                   const HttpRequest& req, const PathParams& p) {
  std::string check_q = req.Query("check", "false");
  if (check_q != "true" && check_q != "1" && check_q != "false" && check_q != "0") {
    return HttpResponse::Error(
        Status::InvalidArgument("check must be true or false, got \"" + check_q + "\""));
  }
  auto disk = Locate(store, p.at("id"), p.at("alloc"));
  if (!disk.ok()) return HttpResponse::Error(disk.status());
  // The check first, always: the stream's status line goes out before the
  // old agent is asked, so its refusals (still running, no disk) come here.
  HttpResponse head = RelayAgentAnswer(client->Do("GET", disk->url + "?check=true", "",
                                                  std::chrono::seconds(60), disk->link.headers),
                                       disk->link.base);
  if (head.status < 200 || head.status >= 300) return head;
  if (check_q == "true" || check_q == "1") {
    v1::PreviousDiskResponse out;
    if (Status st = FromJson(head.body, &out); !st.ok()) {
      return HttpResponse::Error(Status::Unavailable("the agent at " + disk->link.base +
                                                     " answered no disk size: " + st.message()));
    }
    out.set_previous_allocation(disk->previous.id());
    out.set_node_id(disk->previous.node_id());
    return HttpResponse::Json(200, ToJson(out));
  }
  HttpResponse out;
  out.status = 200;
  out.content_type = "application/x-tar";
  out.stream = [client, url = disk->url,
                headers = disk->link.headers](const HttpStreamWriter& write) {
    // Relayed in pieces of up to kRelayBatch, not libcurl's 16 KiB: each
    // write waits for the connection's strand, and a disk is hundreds of MiB.
    std::string batch;
    auto flush = [&] {
      if (batch.empty()) return true;
      bool ok = write(batch);
      batch.clear();
      return ok;
    };
    auto resp = client->Stream(
        "GET", url,
        [&](std::string_view piece) {
          if (piece.empty()) return flush() && write(piece);  // a quiet second: send what is held
          batch.append(piece);
          return batch.size() < kRelayBatch || flush();
        },
        std::chrono::milliseconds(0), headers);
    flush();
    if (!resp.ok()) spdlog::info("migrate: relaying {} ended: {}", url, resp.status().message());
  };
  return out;
}

}  // namespace

void RegisterMigrateRoutes(Router* router, StateStore* store, const TlsFiles& tls) {
  auto client = MakeAgentClient(tls);
  router->Add("GET", "/v1/nodes/{id}/allocations/{alloc}/previous-disk",
              [store, client](const HttpRequest& req, const PathParams& p) {
                return Serve(store, client, req, p);
              });
}

}  // namespace orch::master
