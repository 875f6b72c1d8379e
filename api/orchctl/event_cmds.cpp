#include "api/orchctl/event_cmds.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <ostream>

#include "api/orchctl/output.h"
#include "api/orchctl/table.h"

namespace orch::ctl {
namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Str(const nlohmann::json& j, const char* field, const std::string& fallback = "") {
  auto it = j.find(field);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// A few words on the object an event carries.
std::string Detail(const std::string& topic, const nlohmann::json& p) {
  if (!p.is_object()) return "";
  if (topic == "Job") {
    auto v = p.find("version");
    std::string version = v == p.end() ? "0" : v->is_string() ? v->get<std::string>() : v->dump();
    return "version " + version + (p.value("stop", false) ? ", stopped" : "");
  }
  if (topic == "Allocation") {
    return Str(p, "name") + " on " + ShortId(Str(p, "node_id")) + ": " +
           Lower(Str(p, "client_status", "pending")) +
           (Str(p, "desired_status") == "STOP" ? " (to stop)" : "");
  }
  if (topic == "Node") return Str(p, "name") + ": " + Lower(Str(p, "status"));
  if (topic == "Evaluation") {
    return Str(p, "job_id") + ": " + Lower(Str(p, "status")) + " (" +
           Lower(Str(p, "triggered_by")) + ")";
  }
  if (topic == "Deployment") return Str(p, "job_id") + ": " + Lower(Str(p, "status"));
  return "";
}

}  // namespace

Status Events(const Context& ctx, const EventsOptions& opts) {
  std::ostream& out = *ctx.out;
  OrchClient::EventsOptions q;
  q.topics = opts.topics;
  q.index = opts.index;
  q.follow = opts.follow;
  const bool raw = ctx.format != OutputFormat::kTable;
  bool header = false;
  Status bad;
  Status st = ctx.client->Events(q, [&](std::string_view line) {
    if (line.empty() || line == "{}") return static_cast<bool>(out);  // idle, heartbeat
    if (raw) {
      out << line << '\n';
      out.flush();
      return static_cast<bool>(out);
    }
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      bad = Status::Internal("the event stream sent a line that is not JSON: " +
                             std::string(line.substr(0, 200)));
      return false;
    }
    if (j.contains("error")) {
      bad = Status::FailedPrecondition(
          Str(j["error"], "message", "the event stream ended with an error"));
      return false;
    }
    if (!header) {
      header = true;
      char buf[160];
      snprintf(buf, sizeof buf, "%-8s %-11s %-20s %-12s %s", "INDEX", "TOPIC", "TYPE", "KEY",
               "DETAIL");
      out << buf << '\n';
    }
    const std::string index = j.contains("index") ? j["index"].dump() : "";
    for (const auto& e : j.value("events", nlohmann::json::array())) {
      const std::string topic = Str(e, "topic");
      std::string key = Str(e, "key");
      if (topic == "Allocation" || topic == "Evaluation" || topic == "Deployment" ||
          topic == "Node") {
        key = ShortId(key);
      }
      char buf[200];
      snprintf(buf, sizeof buf, "%-8s %-11s %-20s %-12s ", index.c_str(), topic.c_str(),
               Str(e, "type").c_str(), key.c_str());
      out << buf << Detail(topic, e.contains("payload") ? e["payload"] : nlohmann::json()) << '\n';
    }
    out.flush();  // as it comes, for -f
    return static_cast<bool>(out);
  });
  if (!bad.ok()) return bad;
  if (st.ok() && !header && !raw) out << "no events\n";
  return st;
}

}  // namespace orch::ctl
