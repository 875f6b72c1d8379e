#include "agent/http_api.h"

#include "agent/alloc_runner.h"
#include "agent/files.h"
#include "common/json.h"

namespace orch::agent {

namespace {

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

std::unique_ptr<Router> MakeAgentRouter(std::string data_dir,
                                        std::function<std::string()> node_id) {
  auto r = std::make_unique<Router>();
  r->Add("GET", "/healthz", [node_id](const HttpRequest&, const PathParams&) {
    return HttpResponse::Json(200, "{\"status\":\"ok\",\"node_id\":" + JsonString(node_id()) + "}");
  });
  r->Add(
      "GET", "/v1/allocations/{id}/logs",
      [data_dir](const HttpRequest& req, const PathParams& params) {
        const std::string& id = params.at("id");
        std::string task = req.Query("task");
        std::string type = req.Query("type", "stdout");
        if (task.empty()) {
          return HttpResponse::Error(Status::InvalidArgument("query parameter task is required"));
        }
        if (type != "stdout" && type != "stderr") {
          return HttpResponse::Error(
              Status::InvalidArgument("type must be stdout or stderr, got \"" + type + "\""));
        }
        if (!IsSafePathComponent(id) || !IsSafePathComponent(task)) {
          return HttpResponse::Error(
              Status::NotFound("allocation " + id + " has no task " + task + " on this node"));
        }
        std::string path = AllocRunner::AllocDir(data_dir, id) + "/" + task + "." + type;
        auto text = ReadFileTail(path, kMaxLogBytes);
        if (!text.ok()) {
          return HttpResponse::Error(Status::NotFound("no " + type + " log for allocation " + id +
                                                      " task " + task + " on this node"));
        }
        HttpResponse resp;
        resp.status = 200;
        resp.content_type = "text/plain; charset=utf-8";
        resp.body = std::move(*text);
        return resp;
      });
  return r;
}

}  // namespace orch::agent
