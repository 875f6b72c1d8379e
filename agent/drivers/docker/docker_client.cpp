#include "agent/drivers/docker/docker_client.h"

#include <curl/curl.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <deque>
#include <nlohmann/json.hpp>

#include "agent/drivers/docker/log_demux.h"
#include "agent/drivers/pull_progress.h"
#include "common/base64.h"

namespace orch::agent {

namespace {

using nlohmann::json;

// The engine's error text: {"message": "..."}, or the raw body.
std::string EngineMessage(const HttpResponse& r) {
  auto j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) {
    return j["message"].get<std::string>();
  }
  std::string body = r.body.substr(0, 300);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return body.empty() ? "HTTP " + std::to_string(r.status) : body;
}

Status EngineError(const std::string& what, const HttpResponse& r) {
  std::string msg = what + ": " + EngineMessage(r);
  switch (r.status) {
    case 400:
      return Status::InvalidArgument(msg);
    case 404:
      return Status::NotFound(msg);
    case 409:
      return Status::AlreadyExists(msg);
    default:
      return Status::FailedPrecondition(msg);
  }
}

// "1.41" -> {1, 41}
std::pair<int, int> ParseApiVersion(const std::string& v) {
  int major = 0, minor = 0;
  if (std::sscanf(v.c_str(), "%d.%d", &major, &minor) != 2) return {0, 0};
  return {major, minor};
}

int64_t JsonInt(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return 0;
  return it->get<int64_t>();
}

std::string JsonStr(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

std::map<std::string, std::string> JsonLabels(const json& j) {
  std::map<std::string, std::string> out;
  if (!j.is_object()) return out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

}  // namespace

std::pair<std::string, std::string> SplitImageRef(const std::string& ref) {
  if (ref.find('@') != std::string::npos) return {ref, ""};
  auto slash = ref.rfind('/');
  auto colon = ref.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    return {ref.substr(0, colon), ref.substr(colon + 1)};
  }
  return {ref, "latest"};
}

int64_t ParseDockerTime(const std::string& text) {
  struct tm tm = {};
  int year, mon, day, hour, min, sec;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d", &year, &mon, &day, &hour, &min, &sec) != 6) {
    return 0;
  }
  // Also bounds what an engine's answer can make us compute (no overflow).
  if (year < 1970 || year > 9999 || mon < 1 || mon > 12 || day < 1 || day > 31 || hour < 0 || hour > 23 || min < 0 ||
      min > 59 || sec < 0 || sec > 60) {
    return 0;
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  auto dot = text.find('.');
  if (dot != std::string::npos) {
    std::string frac;
    for (std::size_t i = dot + 1; i < text.size() && isdigit(static_cast<unsigned char>(text[i])); ++i) {
      frac += text[i];
    }
    frac = (frac + "000").substr(0, 3);
    ms += std::stoi(frac);
  }
  return ms;
}

DockerClient::DockerClient(DockerClientOptions options)
    : options_(std::move(options)), http_([&] {
        HttpClientOptions o;
        o.unix_socket = options_.socket;
        o.connect_timeout = std::chrono::milliseconds(3000);
        o.timeout = options_.timeout;
        return o;
      }()) {}

Result<std::unique_ptr<DockerClient>> DockerClient::Connect(DockerClientOptions options) {
  std::unique_ptr<DockerClient> c(new DockerClient(std::move(options)));
  auto r = c->http_.Get("http://docker/version", std::chrono::milliseconds(5000));
  if (!r.ok()) {
    return Status::Unavailable("Docker engine at " + c->options_.socket +
                               " is not reachable: " + r.status().message());
  }
  if (r->status != 200) return EngineError("GET /version", *r);
  auto j = json::parse(r->body, nullptr, false);
  if (!j.is_object()) return Status::Internal("GET /version: the engine's answer is not JSON");
  c->engine_version_ = JsonStr(j, "Version");
  std::string engine_api = JsonStr(j, "ApiVersion");
  auto e = ParseApiVersion(engine_api);
  auto m = ParseApiVersion(c->options_.max_api_version);
  if (e.first == 0) {
    return Status::FailedPrecondition("Docker engine at " + c->options_.socket +
                                      " did not say its API version");
  }
  c->api_version_ = e < m ? engine_api : c->options_.max_api_version;
  return c;
}

std::string DockerClient::Url(const std::string& path) const {
  return "http://docker/v" + api_version_ + path;
}

Result<HttpResponse> DockerClient::Request(const std::string& method, const std::string& path,
                                           const std::string& body,
                                           std::chrono::milliseconds timeout) {
  return http_.Do(method, Url(path), body, timeout);
}

Result<bool> DockerClient::ImageExists(const std::string& image) {
  ORCH_ASSIGN_OR_RETURN(auto r, Request("GET", "/images/" + image + "/json"));
  if (r.status == 200) return true;
  if (r.status == 404) return false;
  return EngineError("inspect image " + image, r);
}

Status DockerClient::PullImage(const std::string& image, std::chrono::milliseconds timeout,
                               const std::string& auth,
                               const std::function<void(const std::string&)>& progress) {
  const auto [repo, ref_tag] = SplitImageRef(image);
  const std::string tag =
      ref_tag;  // a copy: lambdas below use it (clang 14 cannot capture a binding)
  std::string path = "/images/create?fromImage=" + UrlEncode(repo);
  if (!tag.empty()) path += "&tag=" + UrlEncode(tag);
  HttpClient::Headers headers;
  if (!auth.empty()) headers.emplace_back("X-Registry-Auth", auth);
  // A stream of JSON lines: per layer "Downloading" with progressDetail
  // {current, total}, then "Download complete" / "Pull complete" /
  // "Already exists"; a failure is a line with "error".
  PullProgress shown(image, progress);
  std::string partial, error;
  auto r = http_.Stream(
      "POST", Url(path),
      [&](std::string_view piece) {
        partial.append(piece);
        for (std::size_t nl; (nl = partial.find('\n')) != std::string::npos;) {
          auto j = json::parse(partial.substr(0, nl), nullptr, false);
          partial.erase(0, nl + 1);
          if (!j.is_object()) continue;
          if (j.contains("error")) {
            error = JsonStr(j, "error");
            continue;
          }
          const std::string id = JsonStr(j, "id"), status = JsonStr(j, "status");
          if (id.empty() || id == tag) continue;
          if (status == "Downloading" && j.contains("progressDetail") &&
              j["progressDetail"].is_object()) {
            const auto& d = j["progressDetail"];
            shown.Layer(id, d.value("current", int64_t{0}), d.value("total", int64_t{0}));
          } else if (status == "Download complete" || status == "Pull complete" ||
                     status == "Already exists") {
            shown.LayerDone(id);
          } else if (status == "Pulling fs layer" || status == "Waiting") {
            shown.Layer(id, 0, 0);
          }
        }
        if (partial.size() > (1 << 20)) partial.clear();  // no line is that long
        return true;
      },
      timeout, headers);
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kDeadlineExceeded) {
      return Status::DeadlineExceeded("pulling image " + image + ": no result within " +
                                      std::to_string(timeout.count() / 1000.0).substr(0, 5) +
                                      "s (is the registry reachable?)");
    }
    return Status::Unavailable("pulling image " + image + ": " + r.status().message());
  }
  if (r->status != 200) return EngineError("pulling image " + image, *r);
  if (!error.empty()) return Status::FailedPrecondition("pulling image " + image + ": " + error);
  return Status::Ok();
}

Status DockerClient::FollowEvents(const std::string& label, int64_t since,
                                  const std::function<bool(const ContainerEvent&)>& on_event,
                                  const std::atomic<bool>& stop) {
  json filters = {
      {"type", {"container"}}, {"label", {label}}, {"event", {"die", "oom", "start", "destroy"}}};
  std::string path = "/events?filters=" + UrlEncode(filters.dump());
  if (since > 0) path += "&since=" + std::to_string(since);
  std::string partial;
  bool keep = true;
  auto r = http_.Stream(
      "GET", Url(path),
      [&](std::string_view piece) {
        if (piece.empty()) keep = on_event(ContainerEvent{});
        partial.append(piece);
        for (std::size_t nl; keep && (nl = partial.find('\n')) != std::string::npos;) {
          auto j = json::parse(partial.substr(0, nl), nullptr, false);
          partial.erase(0, nl + 1);
          if (!j.is_object()) continue;
          ContainerEvent e;
          e.id = JsonStr(j, "id");
          if (e.id.empty() && j.contains("Actor") && j["Actor"].is_object())
            e.id = JsonStr(j["Actor"], "ID");
          e.action = JsonStr(j, "Action");
          if (e.action.empty()) e.action = JsonStr(j, "status");
          if (j.contains("timeNano") && j["timeNano"].is_number_integer())
            e.time_ns = j["timeNano"].get<int64_t>();
          if (j.contains("Actor") && j["Actor"].is_object() && j["Actor"].contains("Attributes") &&
              j["Actor"]["Attributes"].is_object()) {
            std::string code = JsonStr(j["Actor"]["Attributes"], "exitCode");
            int v = 0;
            auto [end, ec] = std::from_chars(code.data(), code.data() + code.size(), v);
            if (!code.empty() && ec == std::errc() && end == code.data() + code.size() && v >= 0 &&
                v <= 255)
              e.exit_code = v;
          }
          if (!e.id.empty()) keep = on_event(e);
        }
        if (partial.size() > (1 << 20)) partial.clear();  // no line is that long
        return keep && !stop.load();
      },
      std::chrono::milliseconds(0));
  if (!r.ok()) return r.status();
  if (r->status != 200) return EngineError("follow events", *r);
  if (!keep || stop.load()) return Status::Ok();
  return Status::Unavailable("the engine closed its event stream");
}

std::string RegistryAuthHeader(const std::string& username, const std::string& password,
                               const std::string& server) {
  if (username.empty() && password.empty()) return "";
  json j = {{"username", username}, {"password", password}, {"serveraddress", server}};
  return EncodeBase64(j.dump(), /*url_safe=*/true);
}

std::string RegistryOf(const std::string& image) {
  auto slash = image.find('/');
  if (slash == std::string::npos) return "docker.io";
  std::string first = image.substr(0, slash);
  // A registry host has a dot or a port, or is localhost.
  if (first.find('.') == std::string::npos && first.find(':') == std::string::npos &&
      first != "localhost") {
    return "docker.io";
  }
  return first;
}

std::optional<RegistryCredentials> CredentialsFromDockerConfig(const std::string& config_json,
                                                               const std::string& image) {
  auto j = json::parse(config_json, nullptr, false);
  if (!j.is_object() || !j.contains("auths") || !j["auths"].is_object()) return std::nullopt;
  const std::string want = RegistryOf(image);
  for (const auto& [key, entry] : j["auths"].items()) {
    // Keys are "host[:port]", sometimes with a scheme and a path.
    std::string host = key;
    if (auto s = host.find("://"); s != std::string::npos) host = host.substr(s + 3);
    host = host.substr(0, host.find('/'));
    bool hub = want == "docker.io" && (host == "index.docker.io" || host == "registry-1.docker.io");
    if ((host != want && !hub) || !entry.is_object()) continue;
    RegistryCredentials c;
    c.server = key;
    if (entry.contains("auth") && entry["auth"].is_string()) {
      auto decoded = DecodeBase64(entry["auth"].get<std::string>());
      if (!decoded) continue;
      auto colon = decoded->find(':');
      if (colon == std::string::npos) continue;
      c.username = decoded->substr(0, colon);
      c.password = decoded->substr(colon + 1);
    } else {
      c.username = JsonStr(entry, "username");
      c.password = JsonStr(entry, "password");
    }
    if (c.username.empty()) continue;
    return c;
  }
  return std::nullopt;
}

Status DockerClient::RemoveImage(const std::string& image) {
  ORCH_ASSIGN_OR_RETURN(auto r, Request("DELETE", "/images/" + image + "?force=1"));
  if (r.status == 200 || r.status == 404) return Status::Ok();
  return EngineError("remove image " + image, r);
}

Result<std::string> DockerClient::CreateContainer(const std::string& name,
                                                  const std::string& config_json) {
  ORCH_ASSIGN_OR_RETURN(auto r,
                        Request("POST", "/containers/create?name=" + UrlEncode(name), config_json));
  if (r.status != 201) return EngineError("create container " + name, r);
  auto j = json::parse(r.body, nullptr, false);
  std::string id = j.is_object() ? JsonStr(j, "Id") : "";
  if (id.empty()) return Status::Internal("create container " + name + ": no id in the answer");
  return id;
}

Status DockerClient::StartContainer(const std::string& id) {
  ORCH_ASSIGN_OR_RETURN(auto r, Request("POST", "/containers/" + id + "/start"));
  if (r.status == 204 || r.status == 304) return Status::Ok();
  return EngineError("start container " + id.substr(0, 12), r);
}

Result<ContainerInfo> DockerClient::InspectContainer(const std::string& id_or_name) {
  ORCH_ASSIGN_OR_RETURN(auto r, Request("GET", "/containers/" + id_or_name + "/json"));
  if (r.status != 200) return EngineError("inspect container " + id_or_name, r);
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object()) return Status::Internal("inspect container " + id_or_name + ": not JSON");
  ContainerInfo c;
  c.id = JsonStr(j, "Id");
  c.name = JsonStr(j, "Name");
  if (!c.name.empty() && c.name[0] == '/') c.name.erase(0, 1);
  if (auto s = j.find("State"); s != j.end() && s->is_object()) {
    c.status = JsonStr(*s, "Status");
    c.running = s->value("Running", false);
    c.pid = static_cast<int>(JsonInt(*s, "Pid"));
    c.exit_code = static_cast<int>(JsonInt(*s, "ExitCode"));
    c.oom_killed = s->value("OOMKilled", false);
    c.error = JsonStr(*s, "Error");
    c.started_at_ms = ParseDockerTime(JsonStr(*s, "StartedAt"));
    c.finished_at_ms = ParseDockerTime(JsonStr(*s, "FinishedAt"));
  }
  if (auto cfg = j.find("Config"); cfg != j.end() && cfg->is_object() && cfg->contains("Labels")) {
    c.labels = JsonLabels((*cfg)["Labels"]);
  }
  if (auto hc = j.find("HostConfig"); hc != j.end() && hc->is_object()) {
    c.nano_cpus = JsonInt(*hc, "NanoCpus");
    c.memory_bytes = JsonInt(*hc, "Memory");
  }
  return c;
}

Status DockerClient::StopContainer(const std::string& id, std::chrono::seconds grace) {
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(grace) +
                 std::chrono::milliseconds(30'000);
  ORCH_ASSIGN_OR_RETURN(auto r, Request("POST",
                                        "/containers/" + id + "/stop?t=" +
                                            std::to_string(grace.count()),
                                        "", timeout));
  if (r.status == 204 || r.status == 304) return Status::Ok();
  return EngineError("stop container " + id.substr(0, 12), r);
}

Status DockerClient::KillContainer(const std::string& id, const std::string& signal) {
  ORCH_ASSIGN_OR_RETURN(auto r, Request("POST", "/containers/" + id + "/kill?signal=" + signal));
  if (r.status == 204) return Status::Ok();
  return EngineError("kill container " + id.substr(0, 12), r);
}

Status DockerClient::RemoveContainer(const std::string& id, bool force) {
  ORCH_ASSIGN_OR_RETURN(
      auto r, Request("DELETE", "/containers/" + id + "?v=1" + (force ? "&force=1" : "")));
  if (r.status == 204 || r.status == 404) return Status::Ok();
  return EngineError("remove container " + id.substr(0, 12), r);
}

Result<std::vector<ContainerSummary>> DockerClient::ListContainers(const std::string& label,
                                                                   bool all) {
  json filters = {{"label", json::array({label})}};
  std::string path =
      "/containers/json?all=" + std::string(all ? "1" : "0") + "&filters=" + UrlEncode(filters.dump());
  ORCH_ASSIGN_OR_RETURN(auto r, Request("GET", path));
  if (r.status != 200) return EngineError("list containers", r);
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_array()) return Status::Internal("list containers: not a JSON array");
  std::vector<ContainerSummary> out;
  for (const auto& c : j) {
    if (!c.is_object()) continue;
    ContainerSummary s;
    s.id = JsonStr(c, "Id");
    s.state = JsonStr(c, "State");
    if (c.contains("Labels")) s.labels = JsonLabels(c["Labels"]);
    out.push_back(std::move(s));
  }
  return out;
}

namespace {

struct StreamState {
  LogDemuxer demux;
  const LogSink* sink = nullptr;
  bool stopped_by_sink = false;
  const std::atomic<bool>* cancel = nullptr;
  bool follow = false;
  std::chrono::steady_clock::time_point last_ping = std::chrono::steady_clock::now();
  std::string error_body;  // a non-200 answer's body
  long status = 0;
  CURL* curl = nullptr;
};

std::size_t OnLogData(char* data, std::size_t size, std::size_t n, void* user) {
  auto* s = static_cast<StreamState*>(user);
  if (s->status == 0) curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
  std::string_view chunk(data, size * n);
  if (s->status != 200) {
    s->error_body.append(chunk);
    return size * n;
  }
  if (!s->demux.Feed(chunk, *s->sink)) {
    s->stopped_by_sink = true;
    return 0;  // aborts the transfer
  }
  return size * n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* s = static_cast<StreamState*>(user);
  if (s->cancel != nullptr && s->cancel->load()) return 1;
  // A quiet followed stream still asks its sink, now and then, whether
  // anyone is reading (an empty chunk; driver.h).
  if (s->status == 0) curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &s->status);
  auto now = std::chrono::steady_clock::now();
  if (s->follow && s->status == 200 && now - s->last_ping >= std::chrono::milliseconds(500)) {
    s->last_ping = now;
    if (!(*s->sink)(LogStream::kStdout, std::string_view())) {
      s->stopped_by_sink = true;
      return 1;
    }
  }
  return 0;
}

}  // namespace

Status DockerClient::Logs(const std::string& id, const LogOptions& opts, const LogSink& sink,
                          const std::atomic<bool>* cancel) {
  std::string path = "/containers/" + id + "/logs?stdout=" + (opts.stdout_stream ? "1" : "0") +
                     "&stderr=" + (opts.stderr_stream ? "1" : "0") +
                     "&follow=" + (opts.follow ? "1" : "0");
  // Docker tails by lines; a byte tail is cut here from everything kept.
  std::deque<std::pair<LogStream, std::string>> kept;
  int64_t kept_bytes = 0;
  LogSink tail_sink = [&](LogStream s, std::string_view d) {
    kept.emplace_back(s, std::string(d));
    kept_bytes += static_cast<int64_t>(d.size());
    while (!kept.empty() && kept_bytes - static_cast<int64_t>(kept.front().second.size()) >=
                                opts.tail_bytes) {
      kept_bytes -= static_cast<int64_t>(kept.front().second.size());
      kept.pop_front();
    }
    return true;
  };
  bool tail = opts.tail_bytes >= 0 && !opts.follow;

  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Status::Internal("curl_easy_init failed");
  StreamState st;
  st.sink = tail ? &tail_sink : &sink;
  st.cancel = cancel;
  st.follow = opts.follow;
  st.curl = curl.get();
  std::string url = Url(path);
  char errbuf[CURL_ERROR_SIZE] = {0};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, options_.socket.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
  if (!opts.follow) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnLogData);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &st);
  CURLcode rc = curl_easy_perform(h);
  if (st.status == 0) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st.status);
  if (st.stopped_by_sink || rc == CURLE_ABORTED_BY_CALLBACK) return Status::Ok();
  if (rc != CURLE_OK) {
    return Status::Unavailable("logs of container " + id.substr(0, 12) + ": " +
                               (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
  }
  if (st.status != 200) {
    HttpResponse r;
    r.status = static_cast<int>(st.status);
    r.body = st.error_body;
    return EngineError("logs of container " + id.substr(0, 12), r);
  }
  if (tail) {
    for (auto& [s, d] : kept) {
      std::string_view v(d);
      int64_t excess = kept_bytes - opts.tail_bytes;
      if (excess > 0) {
        v.remove_prefix(static_cast<std::size_t>(excess));
        kept_bytes -= excess;
      }
      if (!sink(s, v)) break;
    }
  }
  return Status::Ok();
}

Result<ContainerUsage> DockerClient::Stats(const std::string& id) {
  std::string path = "/containers/" + id + "/stats?stream=false";
  if (ParseApiVersion(api_version_) >= std::make_pair(1, 41)) path += "&one-shot=true";
  ORCH_ASSIGN_OR_RETURN(auto r, Request("GET", path));
  if (r.status != 200) return EngineError("stats of container " + id.substr(0, 12), r);
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object()) return Status::Internal("stats of container " + id.substr(0, 12) + ": not JSON");
  ContainerUsage u;
  if (auto cpu = j.find("cpu_stats"); cpu != j.end() && cpu->is_object()) {
    if (auto cu = cpu->find("cpu_usage"); cu != cpu->end() && cu->is_object()) {
      u.cpu_ns = JsonInt(*cu, "total_usage");
    }
  }
  if (auto mem = j.find("memory_stats"); mem != j.end() && mem->is_object()) {
    int64_t usage = JsonInt(*mem, "usage");
    int64_t cache = 0;
    if (auto s = mem->find("stats"); s != mem->end() && s->is_object()) {
      // cgroup v1: total_inactive_file; v2: inactive_file (as docker stats).
      cache = JsonInt(*s, "total_inactive_file");
      if (cache == 0) cache = JsonInt(*s, "inactive_file");
    }
    u.memory_bytes = usage > cache ? usage - cache : usage;
  }
  return u;
}

}  // namespace orch::agent
