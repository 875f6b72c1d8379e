#include "master/validation.h"

#include <regex>
#include <set>

#include "master/scheduler/validate.h"

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
    if (s.port().empty()) {
      return Status::InvalidArgument(path + ".service.port: is required (the name of one of the group's "
                                     "network ports)");
    }
    {
      bool found = false;
      for (const auto& p : g.network().ports()) found |= p.name() == s.port();
      if (!found) {
        return Status::InvalidArgument(path + ".service.port: \"" + s.port() +
                                       "\" is not a port of the group's network");
      }
    }
    // 0 (absent): the masters assign one from --service-port-range.
    if (s.listen() < 0 || s.listen() > 65535) {
      return Status::InvalidArgument(path + ".service.listen: must be a port number from 1 to 65535 "
                                     "(the cluster port every agent serves the service on) or absent "
                                     "(assigned from the cluster's service-port range), got " +
                                     std::to_string(s.listen()));
    }
    if (s.weight() < 0) return Status::InvalidArgument(path + ".service.weight: must not be negative");
  }
  if (t.kill_timeout().seconds() < 0 || t.kill_timeout().nanos() < 0) {
    return Status::InvalidArgument(path + ".kill_timeout: must not be negative");
  }
  return Status::Ok();
}

bool NegativeDuration(const google::protobuf::Duration& d) { return d.seconds() < 0 || d.nanos() < 0; }

// The group's restart policy (agent/restart_policy.h applies it).
Status ValidateRestart(const std::string& path, const v1::TaskGroup& g) {
  if (!g.has_restart()) return Status::Ok();
  const auto& r = g.restart();
  if (r.attempts() < 0) return Status::InvalidArgument(path + ".attempts: must not be negative");
  if (NegativeDuration(r.interval())) return Status::InvalidArgument(path + ".interval: must not be negative");
  if (NegativeDuration(r.delay())) return Status::InvalidArgument(path + ".delay: must not be negative");
  if (!r.mode().empty() && r.mode() != "fail" && r.mode() != "delay") {
    return Status::InvalidArgument(path + ".mode: must be fail or delay, not \"" + r.mode() + "\"");
  }
  return Status::Ok();
}

// A task's health check (agent/health runs it).
Status ValidateCheck(const std::string& path, const v1::Task& t, const v1::TaskGroup& g) {
  if (!t.has_check()) return Status::Ok();
  const auto& c = t.check();
  if (c.type() == v1::HealthCheck::TYPE_UNSPECIFIED) {
    return Status::InvalidArgument(path + ".type: required (http, tcp or command)");
  }
  if (c.type() == v1::HealthCheck::HTTP || c.type() == v1::HealthCheck::TCP) {
    bool known = false;
    for (const auto& p : g.network().ports()) known = known || p.name() == c.port();
    if (!known) {
      return Status::InvalidArgument(path + ".port: \"" + c.port() +
                                     "\" is not a port of the group's network");
    }
  }
  if (c.type() == v1::HealthCheck::COMMAND && c.command().empty()) {
    return Status::InvalidArgument(path + ".command: required for a command check");
  }
  if (NegativeDuration(c.interval())) return Status::InvalidArgument(path + ".interval: must not be negative");
  if (NegativeDuration(c.timeout())) return Status::InvalidArgument(path + ".timeout: must not be negative");
  if (c.healthy_threshold() < 0 || c.unhealthy_threshold() < 0) {
    return Status::InvalidArgument(path + ": thresholds must not be negative");
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
  ORCH_RETURN_IF_ERROR(ValidateRestart(path + ".restart", g));
  std::set<std::string> names;
  for (int i = 0; i < g.tasks_size(); ++i) {
    std::string tp = path + ".tasks[" + std::to_string(i) + "]";
    ORCH_RETURN_IF_ERROR(ValidateTask(tp, g.tasks(i), g));
    ORCH_RETURN_IF_ERROR(ValidateCheck(tp + ".check", g.tasks(i), g));
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
  return sched::ValidateSchedulingFields(*job);
}

Status ValidateServiceClaims(const v1::Job& job, const std::vector<v1::Job>& existing) {
  struct Claim {
    std::string name;
    int listen;
    v1::Service::Strategy strategy;
    int group;
    std::string path;
  };
  std::vector<Claim> claims;
  for (int gi = 0; gi < job.groups_size(); ++gi) {
    const auto& g = job.groups(gi);
    for (int ti = 0; ti < g.tasks_size(); ++ti) {
      const auto& t = g.tasks(ti);
      if (!t.has_service()) continue;
      std::string path = "groups[" + std::to_string(gi) + "].tasks[" + std::to_string(ti) + "].service";
      for (const auto& c : claims) {
        // Tasks of one job may share a service (say, one group per weight)
        // if they agree on where and how it is served.
        if (c.name == t.service().name()) {
          if (c.group == gi) {
            // One allocation would be the same endpoint twice.
            return Status::InvalidArgument(path + ": service \"" + c.name + "\" is also served by " + c.path +
                                           " in the same group; a group serves a service from one task");
          }
          // An absent listen port takes the one its twin names (or both
          // get the same assigned one).
          bool ports_differ = c.listen > 0 && t.service().listen() > 0 && c.listen != t.service().listen();
          if (ports_differ || c.strategy != t.service().strategy()) {
            return Status::InvalidArgument(path + ": service \"" + c.name + "\" is also served by " + c.path +
                                           " with another listen port or strategy");
          }
          continue;
        }
        if (c.listen > 0 && c.listen == t.service().listen()) {
          return Status::InvalidArgument(path + ".listen: port " + std::to_string(c.listen) +
                                         " is already used by " + c.path);
        }
      }
      claims.push_back(Claim{t.service().name(), t.service().listen(), t.service().strategy(), gi, path});
    }
  }
  for (const auto& other : existing) {
    // A job replaces its own earlier version; a stopped job claims nothing.
    if (other.id() == job.id() || other.stop()) continue;
    for (const auto& g : other.groups()) {
      for (const auto& t : g.tasks()) {
        if (!t.has_service()) continue;
        for (const auto& c : claims) {
          if (c.name == t.service().name()) {
            return Status::AlreadyExists(c.path + ".name: service \"" + c.name + "\" is already served by job \"" +
                                         other.id() + "\"");
          }
          if (c.listen > 0 && c.listen == t.service().listen()) {
            return Status::AlreadyExists(c.path + ".listen: port " + std::to_string(c.listen) +
                                         " is already used by service \"" + t.service().name() + "\" of job \"" +
                                         other.id() + "\"");
          }
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace orch::master
