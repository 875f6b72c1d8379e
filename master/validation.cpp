#include "master/validation.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "common/capabilities.h"
#include "common/cron.h"
#include "common/ids.h"
#include "common/time_zone.h"
#include "master/model/job_limits.h"
#include "master/scheduler/validate.h"

namespace orch::master {
namespace {

using L = JobLimits;

bool IsNameChar(char c, bool first) {
  bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  return alnum || (!first && (c == '_' || c == '.' || c == '-'));
}

// ^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$, without a regex engine.
bool IsName(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!IsNameChar(s[i], i == 0)) return false;
  }
  return true;
}

Status CheckName(const std::string& path, const std::string& name) {
  if (name.empty()) return Status::InvalidArgument(path + ": is required");
  if (!IsName(name)) {
    return Status::InvalidArgument(path + ": \"" + name.substr(0, 80) + (name.size() > 80 ? "..." : "") +
                                   "\" must be 1-63 letters, digits, '-', '_' or '.', starting with a "
                                   "letter or digit");
  }
  return Status::Ok();
}

Status CheckSize(const std::string& path, const std::string& s, std::size_t max) {
  if (s.size() > max) {
    return Status::InvalidArgument(path + ": is " + std::to_string(s.size()) + " bytes, more than the limit of " +
                                   std::to_string(max));
  }
  return Status::Ok();
}

Status CheckCount(const std::string& path, int n, int max, const char* what) {
  if (n > max) {
    return Status::InvalidArgument(path + ": " + std::to_string(n) + " " + what + ", more than the limit of " +
                                   std::to_string(max));
  }
  return Status::Ok();
}

Status CheckArgs(const std::string& path, const google::protobuf::RepeatedPtrField<std::string>& args) {
  ORCH_RETURN_IF_ERROR(CheckCount(path, args.size(), L::kMaxArgs, "arguments"));
  for (int i = 0; i < args.size(); ++i) {
    ORCH_RETURN_IF_ERROR(CheckSize(path + "[" + std::to_string(i) + "]", args[i], L::kMaxStringBytes));
  }
  return Status::Ok();
}

// Who the task runs as and what it keeps (agent/drivers/exec_isolation.h
// enforces it; the agent also checks its own allow-lists).
Status ValidateTaskIdentity(const std::string& path, const v1::Task& t) {
  const std::string& u = t.user();
  if (!u.empty()) {
    bool numeric = u.find_first_not_of("0123456789") == std::string::npos;
    bool name = (std::islower(static_cast<unsigned char>(u[0])) || u[0] == '_') &&
                u.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") == std::string::npos;
    if (u.size() > 32 || !(numeric || name)) {
      return Status::InvalidArgument(
          path + ".user: \"" + u.substr(0, 40) +
          "\" is neither a user name ([a-z_][a-z0-9_-]*, at most 32) nor a uid");
    }
    if (numeric && (u.size() > 10 || std::stoll(u) > 4'294'967'294LL)) {
      return Status::InvalidArgument(path + ".user: uid " + u + " is out of range");
    }
  }
  if (t.cap_add_size() > 0 && t.driver() != "exec") {
    return Status::InvalidArgument(path +
                                   ".cap_add: only exec tasks take capabilities (docker "
                                   "containers keep Docker's default set)");
  }
  if (t.cap_add_size() > CapabilityCount()) {
    return Status::InvalidArgument(path + ".cap_add: at most " + std::to_string(CapabilityCount()) +
                                   " entries");
  }
  if (auto m = CapabilitiesToMask({t.cap_add().begin(), t.cap_add().end()}); !m.unknown.empty()) {
    return Status::InvalidArgument(path + ".cap_add: \"" + m.unknown.substr(0, 40) +
                                   "\" is not a Linux capability (e.g. NET_BIND_SERVICE)");
  }
  if (t.pids_limit() < 0 || t.pids_limit() > 4'194'304) {
    return Status::InvalidArgument(path + ".pids_limit: must be 0 (the agent's limit) to 4194304");
  }
  return Status::Ok();
}

// Environment variables (env, secrets): names and sizes bounded.
Status CheckEnv(const std::string& path,
                const google::protobuf::Map<std::string, std::string>& env) {
  ORCH_RETURN_IF_ERROR(CheckCount(path, static_cast<int>(env.size()), L::kMaxEnv, "variables"));
  for (const auto& [k, v] : env) {
    std::string ep = path + "[\"" + k.substr(0, 60) + "\"]";
    if (k.empty()) return Status::InvalidArgument(path + ": a variable name is empty");
    ORCH_RETURN_IF_ERROR(CheckSize(ep + " (name)", k, L::kMaxEnvKeyBytes));
    if (k.find('=') != std::string::npos || k.find('\0') != std::string::npos) {
      return Status::InvalidArgument(ep + ": a variable name must not contain '=' or NUL");
    }
    ORCH_RETURN_IF_ERROR(CheckSize(ep, v, L::kMaxStringBytes));
  }
  return Status::Ok();
}

Status ValidateTask(const std::string& path, const v1::Task& t, const v1::TaskGroup& g) {
  ORCH_RETURN_IF_ERROR(CheckName(path + ".name", t.name()));
  ORCH_RETURN_IF_ERROR(CheckSize(path + ".driver", t.driver(), 64));
  ORCH_RETURN_IF_ERROR(CheckSize(path + ".image", t.image(), 4096));
  ORCH_RETURN_IF_ERROR(CheckSize(path + ".command", t.command(), L::kMaxStringBytes));
  ORCH_RETURN_IF_ERROR(CheckArgs(path + ".args", t.args()));
  ORCH_RETURN_IF_ERROR(CheckEnv(path + ".env", t.env()));
  ORCH_RETURN_IF_ERROR(CheckEnv(path + ".secrets", t.secrets()));
  for (const auto& [k, v] : t.secrets()) {
    if (t.env().count(k) > 0) {
      return Status::InvalidArgument(path + ".secrets[\"" + k.substr(0, 60) +
                                     "\"]: also in env; a variable is either secret or not");
    }
  }
  if (t.driver().empty()) {
    return Status::InvalidArgument(path + ".driver: is required (exec, docker or containerd)");
  }
  if (t.driver() == "exec") {
    if (t.command().empty()) return Status::InvalidArgument(path + ".command: is required for the exec driver");
  } else if (t.driver() == "docker" || t.driver() == "containerd") {
    if (t.image().empty()) {
      return Status::InvalidArgument(path + ".image: is required for the " + t.driver() +
                                     " driver");
    }
  } else {
    return Status::InvalidArgument(path + ".driver: unknown driver \"" + t.driver() +
                                   "\" (expected exec, docker or containerd)");
  }
  if (!t.has_resources()) {
    return Status::InvalidArgument(path + ".resources: is required (cpu in millicores, memory in MiB)");
  }
  if (t.resources().cpu() <= 0) return Status::InvalidArgument(path + ".resources.cpu: must be positive");
  if (t.resources().cpu() > L::kMaxCpu) {
    return Status::InvalidArgument(path + ".resources.cpu: " + std::to_string(t.resources().cpu()) +
                                   " millicores is more than the limit of " + std::to_string(L::kMaxCpu));
  }
  if (t.resources().memory() <= 0) {
    return Status::InvalidArgument(path + ".resources.memory: must be positive");
  }
  if (t.resources().memory() > L::kMaxMemory) {
    return Status::InvalidArgument(path + ".resources.memory: " + std::to_string(t.resources().memory()) +
                                   " MiB is more than the limit of " + std::to_string(L::kMaxMemory));
  }
  if (t.has_service()) {
    const auto& s = t.service();
    ORCH_RETURN_IF_ERROR(CheckName(path + ".service.name", s.name()));
    if (s.port().empty()) {
      return Status::InvalidArgument(path + ".service.port: is required (the name of one of the group's "
                                     "network ports)");
    }
    {
      bool found = false, udp = false;
      for (const auto& p : g.network().ports()) {
        found |= p.name() == s.port();
        udp |= p.name() == s.port() && p.protocol() == "udp";
      }
      if (!found) {
        return Status::InvalidArgument(path + ".service.port: \"" + s.port() +
                                       "\" is not a port of the group's network");
      }
      if (udp) {
        return Status::InvalidArgument(path + ".service.port: \"" + s.port() +
                                       "\" is a UDP port; the balancers serve TCP");
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
  if (t.shutdown_delay().seconds() < 0 || t.shutdown_delay().nanos() < 0 || t.shutdown_delay().seconds() > 3600) {
    return Status::InvalidArgument(path + ".shutdown_delay: must be 0 to 1h");
  }
  return ValidateTaskIdentity(path, t);
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

// The group's update block (master/deployments/update_strategy.h).
Status ValidateUpdate(const std::string& path, const v1::TaskGroup& g) {
  if (!g.has_update()) return Status::Ok();
  const auto& u = g.update();
  if (u.has_max_parallel() && (u.max_parallel() < 0 || u.max_parallel() > L::kMaxCount)) {
    return Status::InvalidArgument(path + ".max_parallel: must be 0.." + std::to_string(L::kMaxCount) +
                                   " (0 replaces everything at once)");
  }
  for (const auto& [name, d] : {std::pair{"min_healthy_time", &u.min_healthy_time()},
                                std::pair{"healthy_deadline", &u.healthy_deadline()},
                                std::pair{"progress_deadline", &u.progress_deadline()}}) {
    if (NegativeDuration(*d)) return Status::InvalidArgument(path + "." + name + ": must not be negative");
  }
  auto ms = [](const google::protobuf::Duration& d) { return d.seconds() * 1000 + d.nanos() / 1'000'000; };
  const int64_t min_healthy = u.has_min_healthy_time() ? ms(u.min_healthy_time()) : 10'000;
  const int64_t healthy_deadline = u.has_healthy_deadline() ? ms(u.healthy_deadline()) : 300'000;
  const int64_t progress_deadline = u.has_progress_deadline() ? ms(u.progress_deadline()) : 600'000;
  if (min_healthy >= healthy_deadline) {
    return Status::InvalidArgument(path + ".min_healthy_time: must be shorter than healthy_deadline");
  }
  if (progress_deadline < healthy_deadline) {
    return Status::InvalidArgument(path + ".progress_deadline: must not be shorter than healthy_deadline");
  }
  if (u.canary() < 0 || u.canary() > L::kMaxCount) {
    return Status::InvalidArgument(path + ".canary: must be 0.." + std::to_string(L::kMaxCount));
  }
  if (!u.health_check().empty() && u.health_check() != "checks" && u.health_check() != "task_states") {
    return Status::InvalidArgument(path + ".health_check: must be checks or task_states, not \"" +
                                   u.health_check().substr(0, 64) + "\"");
  }
  return Status::Ok();
}

// The group's reschedule policy (master/scheduler/reschedule.h).
Status ValidateReschedule(const std::string& path, const v1::TaskGroup& g) {
  if (!g.has_reschedule()) return Status::Ok();
  const auto& r = g.reschedule();
  if (r.attempts() < 0 || r.attempts() > 1000) return Status::InvalidArgument(path + ".attempts: must be 0..1000");
  for (const auto& [name, d] : {std::pair{"interval", &r.interval()}, std::pair{"delay", &r.delay()},
                                std::pair{"max_delay", &r.max_delay()}}) {
    if (NegativeDuration(*d)) return Status::InvalidArgument(path + "." + name + ": must not be negative");
  }
  if (!r.delay_function().empty() && r.delay_function() != "constant" && r.delay_function() != "exponential" &&
      r.delay_function() != "fibonacci") {
    return Status::InvalidArgument(path + ".delay_function: must be constant, exponential or fibonacci, not \"" +
                                   r.delay_function().substr(0, 64) + "\"");
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
    if (c.port().empty()) {
      return Status::InvalidArgument(path + ".port: required (the name of one of the group's network ports) "
                                     "unless the task has a service, whose port the check then uses");
    }
    if (!known) {
      return Status::InvalidArgument(path + ".port: \"" + c.port() +
                                     "\" is not a port of the group's network");
    }
  }
  if (c.type() == v1::HealthCheck::COMMAND && c.command().empty()) {
    return Status::InvalidArgument(path + ".command: required for a command check");
  }
  ORCH_RETURN_IF_ERROR(CheckSize(path + ".command", c.command(), L::kMaxStringBytes));
  ORCH_RETURN_IF_ERROR(CheckSize(path + ".path", c.path(), 4096));
  ORCH_RETURN_IF_ERROR(CheckArgs(path + ".args", c.args()));
  if (NegativeDuration(c.interval())) return Status::InvalidArgument(path + ".interval: must not be negative");
  if (NegativeDuration(c.timeout())) return Status::InvalidArgument(path + ".timeout: must not be negative");
  if (c.healthy_threshold() < 0 || c.unhealthy_threshold() < 0) {
    return Status::InvalidArgument(path + ": thresholds must not be negative");
  }
  return Status::Ok();
}

// A path a volume is mounted at: absolute, normalized, and fit for the
// exec driver's chroot argument (no ',', '|' or '>').
Status CheckMountPath(const std::string& path, const std::string& dest) {
  ORCH_RETURN_IF_ERROR(CheckSize(path, dest, 1024));
  if (dest.empty() || dest[0] != '/' || dest == "/") {
    return Status::InvalidArgument(path + ": must be an absolute path other than /");
  }
  if (dest.find_first_of(",|>") != std::string::npos || dest.find('\0') != std::string::npos) {
    return Status::InvalidArgument(path + ": must not contain ',', '|' or '>'");
  }
  for (std::size_t i = 0; i < dest.size();) {
    std::size_t j = dest.find('/', i + 1);
    std::string part = dest.substr(i + 1, (j == std::string::npos ? dest.size() : j) - i - 1);
    if (part == "." || part == ".." || (part.empty() && j != std::string::npos)) {
      return Status::InvalidArgument(path + ": \"" + dest.substr(0, 80) +
                                     "\" is not a normalized path");
    }
    if (j == std::string::npos) break;
    i = j;
  }
  return Status::Ok();
}

Status ValidateVolumes(const std::string& path, const v1::TaskGroup& g) {
  ORCH_RETURN_IF_ERROR(CheckCount(path + ".volumes", g.volumes_size(), L::kMaxVolumes, "volumes"));
  for (const auto& [name, v] : g.volumes()) {
    std::string vp = path + ".volumes[\"" + name.substr(0, 60) + "\"]";
    ORCH_RETURN_IF_ERROR(CheckName(vp + " (name)", name));
    if (v.type() != "host") {
      return Status::InvalidArgument(vp + ".type: \"" + v.type().substr(0, 40) +
                                     "\" is not a volume type (host)");
    }
    ORCH_RETURN_IF_ERROR(CheckName(vp + ".source", v.source()));
    const std::string& m = v.access_mode();
    if (!m.empty() && m != "single-node-multi-writer" && m != "single-node-single-writer") {
      return Status::InvalidArgument(
          vp + ".access_mode: \"" + m.substr(0, 40) +
          "\" is not single-node-multi-writer or single-node-single-writer");
    }
  }
  if (g.ephemeral_disk().size() < 0 || g.ephemeral_disk().size() > (int64_t{1} << 30)) {
    return Status::InvalidArgument(path + ".ephemeral_disk.size: must be 0 to 2^30 MiB");
  }
  return Status::Ok();
}

Status ValidateDocker(const std::string& path, const v1::Task& t) {
  if (!t.has_docker()) return Status::Ok();
  const std::string dp = path + ".docker";
  if (t.driver() != "docker") return Status::InvalidArgument(dp + ": only for the docker driver");
  const auto& d = t.docker();
  const std::string& net = d.network_mode();
  if (!net.empty() && net != "bridge" && net != "host" && net != "none") {
    return Status::InvalidArgument(dp + ".network_mode: \"" + net.substr(0, 40) +
                                   "\" is not bridge, host or none");
  }
  ORCH_RETURN_IF_ERROR(
      CheckCount(dp + ".cap_drop", d.cap_drop_size(), CapabilityCount(), "capabilities"));
  for (const auto& c : d.cap_drop()) {
    if (c != "ALL" && !CapabilityNumber(c)) {
      return Status::InvalidArgument(dp + ".cap_drop: \"" + c.substr(0, 40) +
                                     "\" is not a Linux capability");
    }
  }
  ORCH_RETURN_IF_ERROR(CheckCount(dp + ".extra_hosts", d.extra_hosts_size(), 64, "entries"));
  for (const auto& h : d.extra_hosts()) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 >= h.size() || h.size() > 300 ||
        h.find_first_of(" \t\n") != std::string::npos) {
      return Status::InvalidArgument(dp + ".extra_hosts: \"" + h.substr(0, 80) +
                                     "\" is not NAME:IP");
    }
  }
  ORCH_RETURN_IF_ERROR(CheckCount(dp + ".labels", d.labels_size(), 64, "labels"));
  for (const auto& [k, v] : d.labels()) {
    if (k.empty() || k.rfind("orch.", 0) == 0) {
      return Status::InvalidArgument(dp + ".labels: \"" + k.substr(0, 60) +
                                     "\" is empty or in orch.'s namespace");
    }
    ORCH_RETURN_IF_ERROR(CheckSize(dp + ".labels", k, 256));
    ORCH_RETURN_IF_ERROR(CheckSize(dp + ".labels", v, 4096));
  }
  ORCH_RETURN_IF_ERROR(CheckArgs(dp + ".entrypoint", d.entrypoint()));
  ORCH_RETURN_IF_ERROR(CheckSize(dp + ".work_dir", d.work_dir(), 4096));
  if (!d.work_dir().empty() && d.work_dir()[0] != '/') {
    return Status::InvalidArgument(dp + ".work_dir: must be an absolute path");
  }
  if (d.shm_size_mib() < 0 || d.shm_size_mib() > (int64_t{1} << 20)) {
    return Status::InvalidArgument(dp + ".shm_size_mib: must be 0 to 1048576");
  }
  static const std::set<std::string> kUlimits = {
      "core",   "cpu",   "data", "fsize",  "locks",  "memlock",    "msgqueue", "nice",
      "nofile", "nproc", "rss",  "rtprio", "rttime", "sigpending", "stack"};
  ORCH_RETURN_IF_ERROR(CheckCount(dp + ".ulimits", d.ulimits_size(), 32, "ulimits"));
  for (const auto& u : d.ulimits()) {
    if (!kUlimits.count(u.name())) {
      return Status::InvalidArgument(dp + ".ulimits: \"" + u.name().substr(0, 40) +
                                     "\" is not a ulimit name");
    }
    if (u.soft() < -1 || u.hard() < -1 || (u.hard() >= 0 && u.soft() > u.hard()) ||
        (u.hard() >= 0 && u.soft() < 0)) {
      return Status::InvalidArgument(dp + ".ulimits." + u.name() +
                                     ": soft must be at most hard (-1: unlimited)");
    }
  }
  if (d.log_max_size_mib() < 0 || d.log_max_size_mib() > 1024 || d.log_max_files() < 0 ||
      d.log_max_files() > 100) {
    return Status::InvalidArgument(
        dp + ": log_max_size_mib must be 0 to 1024 and log_max_files 0 to 100");
  }
  ORCH_RETURN_IF_ERROR(CheckSize(dp + ".auth.username", d.auth().username(), 1024));
  ORCH_RETURN_IF_ERROR(CheckSize(dp + ".auth.password", d.auth().password(), 4096));
  ORCH_RETURN_IF_ERROR(CheckSize(dp + ".auth.server_address", d.auth().server_address(), 1024));
  return Status::Ok();
}

Status ValidateMounts(const std::string& path, const v1::Task& t, const v1::TaskGroup& g) {
  ORCH_RETURN_IF_ERROR(
      CheckCount(path + ".volume_mounts", t.volume_mounts_size(), L::kMaxVolumes, "volume mounts"));
  std::set<std::string> seen;
  for (int i = 0; i < t.volume_mounts_size(); ++i) {
    const auto& m = t.volume_mounts(i);
    std::string mp = path + ".volume_mounts[" + std::to_string(i) + "]";
    if (!g.volumes().contains(m.volume())) {
      return Status::InvalidArgument(mp + ".volume: \"" + m.volume().substr(0, 60) +
                                     "\" is not one of the group's volumes");
    }
    ORCH_RETURN_IF_ERROR(CheckMountPath(mp + ".destination", m.destination()));
    if (!seen.insert(m.destination()).second) {
      return Status::InvalidArgument(mp + ".destination: \"" + m.destination() +
                                     "\" is mounted twice");
    }
  }
  if (t.has_dispatch_payload()) {
    const std::string& f = t.dispatch_payload().file();
    if (f.empty() || f.size() > 255 || f.find('/') != std::string::npos || f == "." || f == ".." ||
        f.find('\0') != std::string::npos) {
      return Status::InvalidArgument(path + ".dispatch_payload.file: must be a file name (no '/')");
    }
  }
  return Status::Ok();
}

// A meta key: it becomes ORCH_META_<key>.
bool IsMetaKey(const std::string& k) {
  return !k.empty() && k.size() <= 128 &&
         std::all_of(k.begin(), k.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

// periodic, parameterized and meta.
Status ValidateLaunching(v1::Job* job) {
  job->clear_parent_id();
  job->clear_payload();
  ORCH_RETURN_IF_ERROR(CheckCount("meta", job->meta_size(), L::kMaxMeta, "meta entries"));
  for (const auto& [k, v] : job->meta()) {
    std::string mp = "meta[\"" + k.substr(0, 60) + "\"]";
    if (!IsMetaKey(k)) {
      return Status::InvalidArgument(
          mp + ": a key is 1-128 letters, digits or '_' (it becomes ORCH_META_<key>)");
    }
    ORCH_RETURN_IF_ERROR(CheckSize(mp, v, 4096));
  }
  const bool periodic = job->has_periodic(), parameterized = job->has_parameterized();
  if (!periodic && !parameterized) return Status::Ok();
  if (periodic && parameterized) {
    return Status::InvalidArgument("periodic: a job is periodic or parameterized, not both");
  }
  const char* what = periodic ? "periodic" : "parameterized";
  if (job->type() != v1::Job::BATCH) {
    return Status::InvalidArgument(std::string(what) + ": only batch jobs may be " + what);
  }
  for (const auto& g : job->groups()) {
    for (const auto& t : g.tasks()) {
      if (t.has_service()) {
        return Status::InvalidArgument(std::string(what) + ": task \"" + t.name() +
                                       "\" has a service, which every child would claim");
      }
    }
  }
  if (periodic) {
    auto cron = CronSchedule::Parse(job->periodic().cron());
    if (!cron.ok()) return Status::InvalidArgument("periodic.cron: " + cron.status().message());
    auto tz = TimeZone::Load(job->periodic().time_zone());
    if (!tz.ok()) return Status::InvalidArgument("periodic.time_zone: " + tz.status().message());
    // No year field: a day that exists comes round within five years of any start.
    if (!cron->Next(0, *tz)) {
      return Status::InvalidArgument("periodic.cron: \"" + job->periodic().cron() +
                                     "\" names no time that exists");
    }
  } else {
    const auto& p = job->parameterized();
    const std::string& pl = p.payload();
    if (!pl.empty() && pl != "optional" && pl != "required" && pl != "forbidden") {
      return Status::InvalidArgument("parameterized.payload: \"" + pl.substr(0, 40) +
                                     "\" is not optional, required or forbidden");
    }
    ORCH_RETURN_IF_ERROR(
        CheckCount("parameterized.meta_required", p.meta_required_size(), L::kMaxMeta, "keys"));
    ORCH_RETURN_IF_ERROR(
        CheckCount("parameterized.meta_optional", p.meta_optional_size(), L::kMaxMeta, "keys"));
    for (const auto* keys : {&p.meta_required(), &p.meta_optional()}) {
      for (const auto& k : *keys) {
        if (!IsMetaKey(k)) {
          return Status::InvalidArgument("parameterized: meta key \"" + k.substr(0, 60) +
                                         "\" is not 1-128 letters, digits or '_'");
        }
      }
    }
  }
  return Status::Ok();
}

Status ValidateGroup(const std::string& path, const v1::TaskGroup& g) {
  ORCH_RETURN_IF_ERROR(CheckName(path + ".name", g.name()));
  if (g.count() < 0) return Status::InvalidArgument(path + ".count: must not be negative");
  if (g.count() > L::kMaxCount) {
    return Status::InvalidArgument(path + ".count: " + std::to_string(g.count()) + " is more than the limit of " +
                                   std::to_string(L::kMaxCount) + " allocations per group");
  }
  if (g.tasks_size() == 0) return Status::InvalidArgument(path + ".tasks: at least one task is required");
  ORCH_RETURN_IF_ERROR(CheckCount(path + ".tasks", g.tasks_size(), L::kMaxTasks, "tasks"));
  ORCH_RETURN_IF_ERROR(CheckCount(path + ".network.ports", g.network().ports_size(), L::kMaxPorts, "ports"));
  ORCH_RETURN_IF_ERROR(CheckCount(path + ".constraints", g.constraints_size(), L::kMaxConstraints, "constraints"));
  ORCH_RETURN_IF_ERROR(CheckCount(path + ".spread", g.spread_size(), L::kMaxSpreads, "spreads"));
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
    if (!p.protocol().empty() && p.protocol() != "tcp" && p.protocol() != "udp") {
      return Status::InvalidArgument(pp + ".protocol: \"" + p.protocol().substr(0, 20) +
                                     "\" is not tcp or udp");
    }
  }
  ORCH_RETURN_IF_ERROR(ValidateVolumes(path, g));
  ORCH_RETURN_IF_ERROR(ValidateRestart(path + ".restart", g));
  ORCH_RETURN_IF_ERROR(ValidateUpdate(path + ".update", g));
  ORCH_RETURN_IF_ERROR(ValidateReschedule(path + ".reschedule", g));
  std::set<std::string> names;
  for (int i = 0; i < g.tasks_size(); ++i) {
    std::string tp = path + ".tasks[" + std::to_string(i) + "]";
    ORCH_RETURN_IF_ERROR(ValidateTask(tp, g.tasks(i), g));
    ORCH_RETURN_IF_ERROR(ValidateMounts(tp, g.tasks(i), g));
    ORCH_RETURN_IF_ERROR(ValidateDocker(tp, g.tasks(i)));
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
  ORCH_RETURN_IF_ERROR(CheckCount("groups", job->groups_size(), L::kMaxGroups, "groups"));
  ORCH_RETURN_IF_ERROR(CheckCount("constraints", job->constraints_size(), L::kMaxConstraints, "constraints"));
  // Fields the masters own are not the user's to set.
  job->clear_version();
  job->clear_status();
  job->clear_stop();
  job->clear_create_index();
  job->clear_modify_index();
  job->clear_submit_time_ms();
  // A check without a port probes the task's service port, as a check
  // inside a Nomad service block does.
  for (auto& g : *job->mutable_groups()) {
    for (auto& t : *g.mutable_tasks()) {
      if (!t.has_check() || !t.has_service() || !t.check().port().empty()) continue;
      auto type = t.check().type();
      if (type == v1::HealthCheck::HTTP || type == v1::HealthCheck::TCP) t.mutable_check()->set_port(t.service().port());
    }
  }
  std::set<std::string> names;
  for (int i = 0; i < job->groups_size(); ++i) {
    std::string gp = "groups[" + std::to_string(i) + "]";
    ORCH_RETURN_IF_ERROR(ValidateGroup(gp, job->groups(i)));
    if (!names.insert(job->groups(i).name()).second) {
      return Status::InvalidArgument(gp + ".name: \"" + job->groups(i).name() + "\" appears twice");
    }
  }
  int64_t total = 0;
  for (const auto& g : job->groups()) total += g.count() > 0 ? g.count() : 0;
  if (total > L::kMaxTotalCount) {
    return Status::InvalidArgument("groups: the counts add up to " + std::to_string(total) +
                                   " allocations, more than the limit of " + std::to_string(L::kMaxTotalCount) +
                                   " per job");
  }
  ORCH_RETURN_IF_ERROR(sched::ValidateSchedulingFields(*job));
  ORCH_RETURN_IF_ERROR(ValidateLaunching(job));
  std::size_t bytes = job->ByteSizeLong();
  if (bytes > L::kMaxJobBytes) {
    return Status::InvalidArgument("job: " + std::to_string(bytes) + " bytes once encoded, more than the limit of " +
                                   std::to_string(L::kMaxJobBytes));
  }
  return Status::Ok();
}

Status ValidateNodeFields(const v1::Node& node) {
  using N = NodeLimits;
  if (node.name().empty()) return Status::InvalidArgument("node.name: is required");
  ORCH_RETURN_IF_ERROR(CheckSize("node.id", node.id(), N::kMaxFieldBytes));
  ORCH_RETURN_IF_ERROR(CheckSize("node.name", node.name(), N::kMaxFieldBytes));
  ORCH_RETURN_IF_ERROR(CheckSize("node.address", node.address(), N::kMaxFieldBytes));
  if (node.capacity().cpu() <= 0 || node.capacity().memory() <= 0) {
    return Status::InvalidArgument("node.capacity: cpu and memory must be positive");
  }
  // A node may be big, but not so big that sums over it overflow.
  if (node.capacity().cpu() > (int64_t{1} << 40) || node.capacity().memory() > (int64_t{1} << 40) ||
      node.capacity().disk() > (int64_t{1} << 40)) {
    return Status::InvalidArgument("node.capacity: cpu, memory or disk is implausibly large");
  }
  if (node.capacity().disk() < 0)
    return Status::InvalidArgument("node.capacity.disk: must not be negative");
  const auto& at = node.attributes();
  for (const std::string* f : {&at.os(), &at.arch(), &at.kernel(), &at.docker_version(), &at.hostname()}) {
    ORCH_RETURN_IF_ERROR(CheckSize("node.attributes", *f, N::kMaxFieldBytes));
  }
  ORCH_RETURN_IF_ERROR(CheckCount("node.attributes.drivers", at.drivers_size(), N::kMaxDrivers, "drivers"));
  for (const auto& d : at.drivers()) ORCH_RETURN_IF_ERROR(CheckSize("node.attributes.drivers", d, 64));
  ORCH_RETURN_IF_ERROR(CheckCount("node.attributes.labels", at.labels_size(), N::kMaxLabels, "labels"));
  for (const auto& [k, v] : at.labels()) {
    std::string lp = "node.attributes.labels[\"" + k.substr(0, 60) + "\"]";
    ORCH_RETURN_IF_ERROR(CheckSize(lp + " (key)", k, N::kMaxLabelKeyBytes));
    ORCH_RETURN_IF_ERROR(CheckSize(lp, v, N::kMaxLabelValueBytes));
  }
  ORCH_RETURN_IF_ERROR(CheckCount("node.attributes.host_volumes", at.host_volumes_size(),
                                  N::kMaxHostVolumes, "host volumes"));
  for (const auto& [k, v] : at.host_volumes()) {
    std::string hp = "node.attributes.host_volumes[\"" + k.substr(0, 60) + "\"]";
    ORCH_RETURN_IF_ERROR(CheckName(hp + " (name)", k));
    ORCH_RETURN_IF_ERROR(CheckSize(hp + ".path", v.path(), 4096));
  }
  return Status::Ok();
}

Status CheckNodeOwner(const v1::Node& stored, const v1::Node& incoming) {
  if (stored.secret_hash().empty() || SameSecretHash(stored.secret_hash(), incoming.secret_hash())) {
    return Status::Ok();
  }
  return Status::PermissionDenied("node id " + stored.id() + " is registered to another agent (its node secret " +
                                  (incoming.secret_hash().empty() ? "was not presented" : "does not match") +
                                  "); an agent keeps its id and secret in node-id and node-secret in its data dir");
}

Status ValidateServiceClaims(const v1::Job& job, const std::vector<ServiceClaim>& others) {
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
  for (const auto& other : others) {
    if (other.job_id == job.id()) continue;  // a job replaces its own earlier version
    for (const auto& c : claims) {
      if (c.name == other.name) {
        return Status::AlreadyExists(c.path + ".name: service \"" + c.name + "\" is already served by job \"" +
                                     other.job_id + "\"");
      }
      if (c.listen > 0 && c.listen == other.port) {
        return Status::AlreadyExists(c.path + ".listen: port " + std::to_string(c.listen) +
                                     " is already used by service \"" + other.name + "\" of job \"" +
                                     other.job_id + "\"");
      }
    }
  }
  return Status::Ok();
}

}  // namespace orch::master
