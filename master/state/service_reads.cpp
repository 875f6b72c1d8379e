// What the service registry is built from: the jobs with services (the
// store's job briefs say which), their allocations by the job index and
// their nodes by id. Before, every registry build parsed every job, every
// allocation and every node, however few of them had services.
#include <set>

#include "master/state/state_store.h"

namespace orch::master {

StateStore::ServiceSources StateStore::ReadForServices() const {
  ServiceSources out;
  std::lock_guard lock(mu_);
  std::set<std::string> node_ids;
  for (const auto& [id, brief] : jobs_brief_) {
    if (!brief.services) continue;
    auto job = LoadOne<v1::Job>("jobs", id);
    if (!job) continue;
    out.jobs.push_back(std::move(*job));
    for (auto& a : LoadMany<v1::Allocation>("SELECT data FROM allocations WHERE job_id=?", {id})) {
      node_ids.insert(a.node_id());
      out.allocations.push_back(std::move(a));
    }
  }
  for (const auto& id : node_ids) {
    if (auto node = LoadOne<v1::Node>("nodes", id)) out.nodes.push_back(std::move(*node));
  }
  return out;
}

}  // namespace orch::master
