#include "agent/http_api.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <charconv>
#include <chrono>

#include "agent/alloc_runner.h"
#include "agent/disk_archive.h"
#include "agent/files.h"
#include "common/ids.h"
#include "common/json.h"
#include "orch/v1/api.pb.h"

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

// Bytes asked of the driver for `tail` lines before trimming to lines.
int64_t TailBudget(int64_t lines) {
  if (lines < 0) return static_cast<int64_t>(kMaxLogBytes);
  return std::min<int64_t>(static_cast<int64_t>(kMaxLogBytes), 4096 + lines * 1024);
}

struct LogQuery {
  std::string task;
  std::string stream = "stdout";
  bool follow = false;
  int64_t tail = -1;  // lines; -1: what is kept (up to 1 MiB unless following)
};

Result<LogQuery> ParseLogQuery(const HttpRequest& req) {
  LogQuery q;
  q.task = req.Query("task");
  q.stream = req.Query("stream", req.Query("type", "stdout"));
  if (q.task.empty()) return Status::InvalidArgument("query parameter task is required");
  if (q.stream != "stdout" && q.stream != "stderr") {
    return Status::InvalidArgument("stream must be stdout or stderr, got \"" + q.stream + "\"");
  }
  std::string follow = req.Query("follow", "false");
  if (follow == "true" || follow == "1") {
    q.follow = true;
  } else if (follow != "false" && follow != "0") {
    return Status::InvalidArgument("follow must be true or false, got \"" + follow + "\"");
  }
  std::string tail = req.Query("tail");
  if (!tail.empty()) {
    auto [p, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), q.tail);
    if (ec != std::errc() || p != tail.data() + tail.size() || q.tail < 0) {
      return Status::InvalidArgument("tail must be a number of lines >= 0, got \"" + tail + "\"");
    }
  }
  return q;
}

HttpResponse FromFiles(const std::string& data_dir, const std::string& id, const LogQuery& q) {
  std::string path = AllocRunner::AllocDir(data_dir, id) + "/" + q.task + "." + q.stream;
  auto text = ReadFileTail(path, kMaxLogBytes);
  if (!text.ok()) {
    return HttpResponse::Error(Status::NotFound("no " + q.stream + " log for allocation " + id +
                                                " task " + q.task + " on this node"));
  }
  HttpResponse resp;
  resp.status = 200;
  resp.content_type = "text/plain; charset=utf-8";
  resp.body = q.tail >= 0 ? LastLines(*text, q.tail) : std::move(*text);
  return resp;
}

LogOptions DriverOptions(const LogQuery& q) {
  LogOptions o;
  o.stdout_stream = q.stream == "stdout";
  o.stderr_stream = q.stream == "stderr";
  o.follow = q.follow;
  o.tail_bytes = q.follow && q.tail < 0 ? -1 : TailBudget(q.tail);
  return o;
}

HttpResponse Logs(const std::string& data_dir, const LogSource& source, const std::string& id,
                  const LogQuery& q) {
  if (!source) return FromFiles(data_dir, id, q);
  if (!q.follow) {
    std::string text;
    Status st = source(id, q.task, DriverOptions(q), [&](LogStream, std::string_view piece) {
      text.append(piece);
      return text.size() <= 2 * kMaxLogBytes;
    });
    if (st.code() == StatusCode::kNotFound) return FromFiles(data_dir, id, q);
    if (!st.ok()) return HttpResponse::Error(st);
    if (text.size() > kMaxLogBytes) text = text.substr(text.size() - kMaxLogBytes);
    HttpResponse resp;
    resp.content_type = "text/plain; charset=utf-8";
    resp.body = q.tail >= 0 ? LastLines(text, q.tail) : std::move(text);
    return resp;
  }
  // Following: refuse at once what cannot be followed, then stream.
  Status probe = source(id, q.task, LogOptions{q.stream == "stdout", q.stream == "stderr", false, 0},
                        [](LogStream, std::string_view) { return true; });
  if (probe.code() == StatusCode::kNotFound) {
    return HttpResponse::Error(Status::NotFound("allocation " + id + " has no task " + q.task +
                                                " running on this node to follow"));
  }
  if (!probe.ok()) return HttpResponse::Error(probe);
  HttpResponse resp;
  resp.content_type = "text/plain; charset=utf-8";
  resp.stream = [source, id, q](const HttpStreamWriter& write) {
    // What the log holds already comes first, in one go (the driver sends
    // an empty piece once it is through it): trimmed to `tail` lines.
    std::string initial;
    bool buffering = q.tail >= 0;
    auto start = std::chrono::steady_clock::now();
    (void)source(id, q.task, DriverOptions(q), [&](LogStream, std::string_view piece) {
      if (buffering) {
        bool done = piece.empty() ||
                    std::chrono::steady_clock::now() - start > std::chrono::milliseconds(500);
        initial.append(piece);
        if (!done) return true;
        buffering = false;
        std::string head = LastLines(initial, q.tail);
        initial.clear();
        if (!head.empty()) return write(head);
        return write(std::string_view());
      }
      return write(piece);
    });
    if (buffering && !initial.empty()) write(LastLines(initial, q.tail));
  };
  return resp;
}

// The masters' credential on a request for an allocation's data.
Status CheckMasters(const HttpRequest& req, const std::string& node_secret_hash, const char* what) {
  if (node_secret_hash.empty() || SameSecretHash(req.Header(kNodeAuthHeader), node_secret_hash)) {
    return Status::Ok();
  }
  return Status::PermissionDenied(std::string(what) +
                                  " are for the masters: this request does not carry the node's "
                                  "credential (" +
                                  std::string(kNodeAuthHeader) + ")");
}

HttpResponse EphemeralDisk(const std::string& data_dir, const AllocRunning& alloc_running,
                           const std::string& id, const HttpRequest& req) {
  std::string dir = AllocRunner::AllocDir(data_dir, id) + "/_shared";
  struct stat st;
  if (!IsSafePathComponent(id) || lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return HttpResponse::Error(
        Status::NotFound("allocation " + id + " has no ephemeral disk on this node"));
  }
  if (alloc_running && alloc_running(id)) {
    return HttpResponse::Error(
        Status::FailedPrecondition("allocation " + ShortId(id) +
                                   " still runs on this node; its disk moves once it has stopped"));
  }
  std::string check = req.Query("check", "false");
  if (check == "true" || check == "1") {
    auto bytes = DirectoryBytes(dir);
    if (!bytes.ok()) return HttpResponse::Error(bytes.status());
    v1::PreviousDiskResponse out;
    out.set_previous_allocation(id);
    out.set_bytes(*bytes);
    return HttpResponse::Json(200, ToJson(out));
  }
  HttpResponse resp;
  resp.content_type = "application/x-tar";
  resp.stream = [dir, id](const HttpStreamWriter& write) {
    if (Status s = TarDirectory(dir, write); !s.ok()) {
      spdlog::warn("alloc {}: its ephemeral disk was not sent whole: {}", ShortId(id),
                   s.ToString());
    }
  };
  return resp;
}

}  // namespace

std::string LastLines(const std::string& text, int64_t n) {
  if (n <= 0) return "";
  std::size_t end = text.size();
  if (end > 0 && text[end - 1] == '\n') --end;  // the final newline ends the last line
  std::size_t pos = end;
  for (int64_t i = 0; i < n; ++i) {
    if (pos == 0) return text;
    std::size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    pos = nl;
  }
  return text.substr(pos + 1);
}

std::unique_ptr<Router> MakeAgentRouter(std::string data_dir, std::function<std::string()> node_id,
                                        LogSource logs, std::string node_secret_hash,
                                        const metrics::Registry* metrics,
                                        AllocRunning alloc_running) {
  auto r = std::make_unique<Router>();
  if (metrics != nullptr) {
    // Counts only, as on the masters: open to a scraper.
    r->Add("GET", "/metrics", [metrics](const HttpRequest&, const PathParams&) {
      HttpResponse resp = HttpResponse::Json(200, metrics->Render());
      resp.content_type = metrics::kContentType;
      return resp;
    });
  }
  r->Add("GET", "/healthz", [node_id](const HttpRequest&, const PathParams&) {
    return HttpResponse::Json(200, "{\"status\":\"ok\",\"node_id\":" + JsonString(node_id()) + "}");
  });
  r->Add("GET", "/v1/allocations/{id}/logs",
         [data_dir, logs, node_secret_hash](const HttpRequest& req, const PathParams& params) {
           if (Status st = CheckMasters(req, node_secret_hash, "task logs"); !st.ok()) {
             return HttpResponse::Error(st);
           }
           const std::string& id = params.at("id");
           auto q = ParseLogQuery(req);
           if (!q.ok()) return HttpResponse::Error(q.status());
           if (!IsSafePathComponent(id) || !IsSafePathComponent(q->task)) {
             return HttpResponse::Error(
                 Status::NotFound("allocation " + id + " has no task " + q->task + " on this node"));
           }
           return Logs(data_dir, logs, id, *q);
         });
  r->Add("GET", "/v1/allocations/{id}/ephemeral-disk",
         [data_dir, node_secret_hash, alloc_running](const HttpRequest& req,
                                                     const PathParams& params) {
           if (Status st = CheckMasters(req, node_secret_hash, "ephemeral disks"); !st.ok()) {
             return HttpResponse::Error(st);
           }
           return EphemeralDisk(data_dir, alloc_running, params.at("id"), req);
         });
  return r;
}

}  // namespace orch::agent
