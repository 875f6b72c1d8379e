#include "master/services/registry.h"

#include <algorithm>
#include <map>

namespace orch::master {

std::string HostOfAddress(const std::string& address) {
  std::string s = address;
  if (auto scheme = s.find("://"); scheme != std::string::npos) s = s.substr(scheme + 3);
  if (auto slash = s.find('/'); slash != std::string::npos) s = s.substr(0, slash);
  if (!s.empty() && s[0] == '[') {
    auto close = s.find(']');
    return close == std::string::npos ? s.substr(1) : s.substr(1, close - 1);
  }
  // One colon: host:port. More: a bare IPv6 address.
  auto colon = s.find(':');
  if (colon != std::string::npos && s.find(':', colon + 1) == std::string::npos) s = s.substr(0, colon);
  return s;
}

namespace {

int PortValue(const v1::Allocation& a, const v1::TaskGroup& g, const std::string& name) {
  for (const auto& p : a.ports()) {
    if (p.name() == name && p.value() > 0) return p.value();
  }
  // A fixed port the job asked for is the port even before it is reported.
  for (const auto& p : g.network().ports()) {
    if (p.name() == name && p.static_() > 0) return p.static_();
  }
  return 0;
}

bool TaskHealthy(const v1::Allocation& a, const v1::Task& t) {
  if (!t.has_check() || t.check().type() == v1::HealthCheck::TYPE_UNSPECIFIED) return true;
  return a.healthy();
}

}  // namespace

ServiceView BuildServices(const std::vector<v1::Job>& jobs, const std::vector<v1::Allocation>& allocs,
                          const std::vector<v1::Node>& nodes) {
  std::map<std::string, const v1::Node*> node_by_id;
  for (const auto& n : nodes) node_by_id[n.id()] = &n;
  std::map<std::string, std::vector<const v1::Allocation*>> allocs_by_job;
  for (const auto& a : allocs) allocs_by_job[a.job_id()].push_back(&a);

  std::map<std::string, v1::ServiceInfo> by_name;
  std::vector<const v1::Job*> ordered;
  for (const auto& j : jobs) ordered.push_back(&j);
  // Should two jobs claim one name (validation prevents it), the older wins.
  std::sort(ordered.begin(), ordered.end(), [](const v1::Job* a, const v1::Job* b) {
    return a->create_index() != b->create_index() ? a->create_index() < b->create_index() : a->id() < b->id();
  });
  uint64_t stopped_index = 0;
  for (const v1::Job* job : ordered) {
    if (job->stop()) {
      // Its services are gone: a watcher must still learn that they went.
      for (const auto& g : job->groups()) {
        for (const auto& t : g.tasks()) {
          if (t.has_service()) stopped_index = std::max(stopped_index, job->modify_index());
        }
      }
      continue;
    }
    const auto& job_allocs = allocs_by_job[job->id()];
    // One service may gather tasks of several groups (e.g. one per weight).
    std::map<std::string, std::vector<std::pair<const v1::Allocation*, const v1::Task*>>> members;
    std::map<std::string, uint64_t> index_of;
    std::vector<std::string> mine;
    for (const auto& g : job->groups()) {
      for (const auto& t : g.tasks()) {
        if (!t.has_service() || t.service().name().empty()) continue;
        const auto& svc = t.service();
        if (by_name.count(svc.name()) && by_name[svc.name()].job_id() != job->id()) continue;
        if (!by_name.count(svc.name())) {
          v1::ServiceInfo info;
          info.set_name(svc.name());
          info.set_job_id(job->id());
          info.set_strategy(svc.strategy() == v1::Service::STRATEGY_UNSPECIFIED ? v1::Service::ROUND_ROBIN
                                                                                 : svc.strategy());
          info.set_listen(svc.listen());
          by_name[svc.name()] = std::move(info);
          index_of[svc.name()] = job->modify_index();
          mine.push_back(svc.name());
        }
        uint64_t& index = index_of[svc.name()];
        for (const v1::Allocation* a : job_allocs) {
          if (a->group() != g.name()) continue;
          index = std::max(index, a->modify_index());
          if (a->desired_status() != v1::Allocation::RUN || a->client_status() != v1::Allocation::RUNNING) {
            continue;
          }
          members[svc.name()].push_back({a, &t});
        }
      }
    }
    for (const auto& name : mine) {
      auto& list = members[name];
      std::sort(list.begin(), list.end(), [](const auto& x, const auto& y) {
        return x.first->name() != y.first->name() ? x.first->name() < y.first->name()
                                                   : x.first->id() < y.first->id();
      });
      v1::ServiceInfo& info = by_name[name];
      uint64_t& index = index_of[name];
      for (const auto& [a, t] : list) {
        auto n = node_by_id.find(a->node_id());
        if (n == node_by_id.end()) continue;
        index = std::max(index, n->second->modify_index());
        const v1::TaskGroup* g = nullptr;
        for (const auto& gg : job->groups()) {
          if (gg.name() == a->group()) g = &gg;
        }
        auto* e = info.add_endpoints();
        e->set_alloc_id(a->id());
        e->set_node_id(a->node_id());
        e->set_address(HostOfAddress(n->second->address()));
        e->set_port(g ? PortValue(*a, *g, t->service().port()) : 0);
        e->set_weight(t->service().weight() > 0 ? t->service().weight() : 1);
        e->set_healthy(e->port() > 0 && TaskHealthy(*a, *t));
        e->set_task(t->name());
      }
      info.set_modify_index(index);
    }
  }
  ServiceView out;
  out.index = stopped_index;
  for (auto& [name, info] : by_name) {
    out.index = std::max(out.index, info.modify_index());
    out.services.push_back(std::move(info));
  }
  return out;
}

}  // namespace orch::master
