#include "master/validation.h"

#include <regex>
#include <set>

namespace orch::master {
namespace {

const std::regex& NameRe() {
  static const std::regex re("^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$");
  return re;
}

Status CheckName(const std::string& path, const std::string& name) {
  if (name.empty()) return Status::InvalidArgument(path + ": is required");
  if (!std::regex_match(name, NameRe())) {
    return Status::InvalidArgument(path + ": \"" + name +
                                   "\" must be 1-63 letters, digits, '-', '_' or '.', starting with a "
                                   "letter or digit");
  }
  return Status::Ok();
}

Status ValidateTask(const std::string& path, const v1::Task& t, const v1::TaskGroup& g) {
  ORCH_RETURN_IF_ERROR(CheckName(path + ".name", t.name()));
  if (t.driver().empty()) return Status::InvalidArgument(path + ".driver: is required (exec or docker)");
  if (t.driver() == "exec") {
    if (t.command().empty()) return Status::InvalidArgument(path + ".command: is required for the exec driver");
  } else if (t.driver() == "docker") {
    if (t.image().empty()) return Status::InvalidArgument(path + ".image: is required for the docker driver");
  } else {
    return Status::InvalidArgument(path + ".driver: unknown driver \"" + t.driver() +
                                   "\" (expected exec or docker)");
  }
  if (!t.has_resources()) {
    return Status::InvalidArgument(path + ".resources: is required (cpu in millicores, memory in MiB)");
  }
  if (t.resources().cpu() <= 0) return Status::InvalidArgument(path + ".resources.cpu: must be positive");
  if (t.resources().memory() <= 0) {
    return Status::InvalidArgument(path + ".resources.memory: must be positive");
  }
  if (t.has_service()) {
    const auto& s = t.service();
    ORCH_RETURN_IF_ERROR(CheckName(path + ".service.name", s.name()));
    if (!s.port().empty()) {
      bool found = false;
      for (const auto& p : g.network().ports()) found |= p.name() == s.port();
      if (!found) {
        return Status::InvalidArgument(path + ".service.port: \"" + s.port() +
                                       "\" is not a port of the group's network");
      }
    }
    if (s.listen() < 0 || s.listen() > 65535) {
      return Status::InvalidArgument(path + ".service.listen: must be a port number");
    }
    if (s.weight() < 0) return Status::InvalidArgument(path + ".service.weight: must not be negative");
  }
  if (t.kill_timeout().seconds() < 0 || t.kill_timeout().nanos() < 0) {
    return Status::InvalidArgument(path + ".kill_timeout: must not be negative");
  }
  return Status::Ok();
}

Status ValidateGroup(const std::string& path, const v1::TaskGroup& g) {
  ORCH_RETURN_IF_ERROR(CheckName(path + ".name", g.name()));
  if (g.count() < 0) return Status::InvalidArgument(path + ".count: must not be negative");
  if (g.tasks_size() == 0) return Status::InvalidArgument(path + ".tasks: at least one task is required");
  std::set<std::string> ports;
  for (int i = 0; i < g.network().ports_size(); ++i) {
    const auto& p = g.network().ports(i);
    std::string pp = path + ".network.ports[" + std::to_string(i) + "]";
    ORCH_RETURN_IF_ERROR(CheckName(pp + ".name", p.name()));
    if (!ports.insert(p.name()).second) {
      return Status::InvalidArgument(pp + ".name: \"" + p.name() + "\" appears twice");
    }
    if (p.static_() < 0 || p.static_() > 65535) {
      return Status::InvalidArgument(pp + ".static: must be a port number");
    }
  }
  std::set<std::string> names;
  for (int i = 0; i < g.tasks_size(); ++i) {
    std::string tp = path + ".tasks[" + std::to_string(i) + "]";
    ORCH_RETURN_IF_ERROR(ValidateTask(tp, g.tasks(i), g));
    if (!names.insert(g.tasks(i).name()).second) {
      return Status::InvalidArgument(tp + ".name: \"" + g.tasks(i).name() + "\" appears twice");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateJob(v1::Job* job) {
  ORCH_RETURN_IF_ERROR(CheckName("id", job->id()));
  if (job->type() == v1::Job::TYPE_UNSPECIFIED) job->set_type(v1::Job::SERVICE);
  if (job->type() == v1::Job::SYSTEM) {
    return Status::InvalidArgument("type: system jobs are not supported yet (use service or batch)");
  }
  if (job->priority() == 0) job->set_priority(50);
  if (job->priority() < 1 || job->priority() > 100) {
    return Status::InvalidArgument("priority: must be between 1 and 100");
  }
  if (job->groups_size() == 0) return Status::InvalidArgument("groups: at least one group is required");
  // Fields the masters own are not the user's to set.
  job->clear_version();
  job->clear_status();
  job->clear_stop();
  job->clear_create_index();
  job->clear_modify_index();
  job->clear_submit_time_ms();
  std::set<std::string> names;
  for (int i = 0; i < job->groups_size(); ++i) {
    std::string gp = "groups[" + std::to_string(i) + "]";
    ORCH_RETURN_IF_ERROR(ValidateGroup(gp, job->groups(i)));
    if (!names.insert(job->groups(i).name()).second) {
      return Status::InvalidArgument(gp + ".name: \"" + job->groups(i).name() + "\" appears twice");
    }
  }
  return Status::Ok();
}

}  // namespace orch::master
