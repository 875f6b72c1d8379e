#include "master/services/service_ports.h"

#include <charconv>
#include <map>
#include <set>

namespace orch::master {
namespace {

Result<int32_t> ParsePort(std::string_view s, const std::string& text) {
  int32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < 1 || v > 65535) {
    return Status::InvalidArgument("expected FIRST-LAST with ports from 1 to 65535 (e.g. 12000-12999), got \"" +
                                   text + "\"");
  }
  return v;
}

}  // namespace

Result<ServicePortRange> ParseServicePortRange(const std::string& text) {
  auto dash = text.find('-');
  if (dash == std::string::npos) {
    return Status::InvalidArgument("expected FIRST-LAST (e.g. 12000-12999), got \"" + text + "\"");
  }
  std::string_view all(text);
  ORCH_ASSIGN_OR_RETURN(int32_t first, ParsePort(all.substr(0, dash), text));
  ORCH_ASSIGN_OR_RETURN(int32_t last, ParsePort(all.substr(dash + 1), text));
  if (first > last) {
    return Status::InvalidArgument("first port " + std::to_string(first) + " is above last port " +
                                   std::to_string(last));
  }
  return ServicePortRange{first, last};
}

bool HasServices(const v1::Job& job) {
  for (const auto& g : job.groups()) {
    for (const auto& t : g.tasks()) {
      if (t.has_service()) return true;
    }
  }
  return false;
}

Status AssignServicePorts(v1::Job* job, const v1::Job* previous, const PortTaken& taken_by_others,
                          const ServicePortRange& range) {
  std::set<int32_t> used;  // by this job's named ports and its choices so far
  auto taken = [&](int32_t port) { return used.count(port) > 0 || taken_by_others(port); };
  std::map<std::string, int32_t> chosen;  // service name -> port, this job
  for (const auto& g : job->groups()) {
    for (const auto& t : g.tasks()) {
      if (!t.has_service() || t.service().listen() <= 0) continue;
      used.insert(t.service().listen());
      chosen.emplace(t.service().name(), t.service().listen());
    }
  }
  std::map<std::string, int32_t> before;
  if (previous != nullptr) {
    for (const auto& g : previous->groups()) {
      for (const auto& t : g.tasks()) {
        if (t.has_service() && t.service().listen() > 0) before.emplace(t.service().name(), t.service().listen());
      }
    }
  }
  int32_t next = range.first;  // ports below were found taken
  for (auto& g : *job->mutable_groups()) {
    for (auto& t : *g.mutable_tasks()) {
      if (!t.has_service() || t.service().listen() > 0) continue;
      auto* s = t.mutable_service();
      if (auto it = chosen.find(s->name()); it != chosen.end()) {
        s->set_listen(it->second);
        continue;
      }
      int32_t port = 0;
      if (auto it = before.find(s->name()); it != before.end() && !taken(it->second)) port = it->second;
      while (port == 0 && next <= range.last) {
        if (!taken(next)) port = next;
        ++next;
      }
      if (port == 0) {
        return Status::FailedPrecondition("service \"" + s->name() + "\": no free port left in the cluster service " +
                                          "port range " + range.ToString() + "; name one with service.listen, " +
                                          "stop a job that serves one, or widen the masters' --service-port-range");
      }
      s->set_listen(port);
      used.insert(port);
      chosen.emplace(s->name(), port);
    }
  }
  return Status::Ok();
}

}  // namespace orch::master
