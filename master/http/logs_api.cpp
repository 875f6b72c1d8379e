#include "master/http/logs_api.h"

#include <spdlog/spdlog.h>

#include <memory>

#include "common/http_client.h"
#include "common/ids.h"
#include "common/net.h"
#include "master/http/agent_link.h"

namespace orch::master {

namespace {

// Where the logs of `alloc`'s `task` are served, as a URL on its agent, and
// the credential its agent wants (kNodeAuthHeader).
struct AgentLogs {
  std::string url;
  std::string base;
  HttpClient::Headers headers;
};

Result<AgentLogs> AgentLogsUrl(StateStore* store, const std::string& alloc_id,
                               const HttpRequest& req, bool follow) {
  ORCH_ASSIGN_OR_RETURN(v1::Allocation alloc, store->GetAllocation(alloc_id));
  std::string task = req.Query("task");
  const auto& tasks = alloc.task_group().tasks();
  if (task.empty()) {
    if (tasks.size() != 1) {
      std::string names;
      for (const auto& t : tasks) names += (names.empty() ? "" : ", ") + t.name();
      return Status::InvalidArgument("allocation " + alloc_id + " has " + std::to_string(tasks.size()) +
                                     " tasks; say which with task= (one of: " + names + ")");
    }
    task = tasks[0].name();
  } else {
    bool known = false;
    for (const auto& t : tasks) known = known || t.name() == task;
    if (!known) return Status::NotFound("allocation " + alloc_id + " has no task \"" + task + "\"");
  }
  if (alloc.node_id().empty()) {
    return Status::FailedPrecondition("allocation " + alloc_id + " is not placed on a node");
  }
  ORCH_ASSIGN_OR_RETURN(AgentLink link, LinkToAgent(store, alloc.node_id(), "its logs"));
  std::string url =
      link.base + "/v1/allocations/" + UrlEncode(alloc.id()) + "/logs?task=" + UrlEncode(task);
  std::string stream = req.Query("stream", req.Query("type", "stdout"));
  url += "&stream=" + UrlEncode(stream);
  std::string tail = req.Query("tail");
  if (!tail.empty()) url += "&tail=" + UrlEncode(tail);
  if (follow) url += "&follow=true";
  return AgentLogs{url, link.base, std::move(link.headers)};
}

HttpResponse Logs(StateStore* store, const std::shared_ptr<HttpClient>& client,
                  const HttpRequest& req, const PathParams& p) {
  std::string follow_q = req.Query("follow", "false");
  if (follow_q != "true" && follow_q != "1" && follow_q != "false" && follow_q != "0") {
    return HttpResponse::Error(
        Status::InvalidArgument("follow must be true or false, got \"" + follow_q + "\""));
  }
  bool follow = follow_q == "true" || follow_q == "1";
  auto agent = AgentLogsUrl(store, p.at("id"), req, /*follow=*/false);
  if (!agent.ok()) return HttpResponse::Error(agent.status());
  // Without follow (or to check a follow request first: bad input and
  // unknown tasks get their error, not an empty stream), one plain request.
  std::string first = agent->url;
  if (follow) first = first.substr(0, first.find("&tail=")) + "&tail=0";  // the check only
  HttpResponse head = RelayAgentAnswer(
      client->Do("GET", first, "", std::chrono::seconds(30), agent->headers), agent->base);
  if (!follow || head.status < 200 || head.status >= 300) return head;

  std::string follow_url = agent->url + "&follow=true";
  HttpResponse out;
  out.status = 200;
  out.content_type = head.content_type;
  out.stream = [client, follow_url, headers = agent->headers](const HttpStreamWriter& write) {
    auto resp = client->Stream(
        "GET", follow_url, [&](std::string_view piece) { return write(piece); },
        std::chrono::milliseconds(0), headers);
    if (!resp.ok())
      spdlog::info("logs: following {} ended: {}", follow_url, resp.status().message());
  };
  return out;
}

}  // namespace

void RegisterLogsRoutes(Router* router, StateStore* store, const TlsFiles& tls) {
  auto client = MakeAgentClient(tls);
  router->Add("GET", "/v1/allocations/{id}/logs", [store, client](const HttpRequest& req, const PathParams& p) {
    return Logs(store, client, req, p);
  });
}

}  // namespace orch::master
