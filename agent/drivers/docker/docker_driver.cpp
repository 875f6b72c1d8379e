#include "agent/drivers/docker/docker_driver.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <string.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "agent/drivers/task_table.h"
#include "agent/files.h"
#include "common/capabilities.h"
#include "common/ids.h"
#include "common/saturating.h"

namespace orch::agent {

namespace {

// Inspects a container; when it died by SIGKILL (137) without the OOM flag,
// looks again a few times: the engine sets OOMKilled from a separate event
// that can land after the exit, and an OOM kill must not read as a plain
// kill.
Result<ContainerInfo> InspectSettled(DockerClient& client, const std::string& cid) {
  auto info = client.InspectContainer(cid);
  for (int i = 0; i < 5 && info.ok() && !info->running && info->exit_code == 137 && !info->oom_killed;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    info = client.InspectContainer(cid);
  }
  return info;
}

using nlohmann::json;

constexpr char kLabelAlloc[] = "orch.alloc";
constexpr char kLabelJob[] = "orch.job";
constexpr char kLabelGroup[] = "orch.group";
constexpr char kLabelTask[] = "orch.task";
constexpr char kLabelStdout[] = "orch.stdout";
constexpr char kLabelStderr[] = "orch.stderr";

bool StillRunning(const std::string& state) {
  return state == "running" || state == "paused" || state == "restarting";
}

std::string Short(const std::string& container_id) { return container_id.substr(0, 12); }

std::string CreateBody(const TaskSpec& spec, const std::string& bind_ip) {
  json cfg;
  const v1::DockerConfig& dc = spec.docker;
  cfg["Image"] = spec.image;
  if (dc.entrypoint_size() > 0) {
    // The entrypoint given; command and args its arguments.
    cfg["Entrypoint"] = std::vector<std::string>(dc.entrypoint().begin(), dc.entrypoint().end());
    std::vector<std::string> cmd;
    if (!spec.command.empty()) cmd.push_back(spec.command);
    cmd.insert(cmd.end(), spec.args.begin(), spec.args.end());
    cfg["Cmd"] = cmd;
  } else if (!spec.command.empty()) {
    cfg["Entrypoint"] = json::array({spec.command});
    cfg["Cmd"] = spec.args;
  } else if (!spec.args.empty()) {
    cfg["Cmd"] = spec.args;  // the image's entrypoint, these arguments
  }
  if (!dc.work_dir().empty()) cfg["WorkingDir"] = dc.work_dir();
  json env = json::array();
  for (const auto& [k, v] : spec.env) {
    if (k == "PATH") continue;  // the image knows where its programs are
    env.push_back(k + "=" + v);
  }
  cfg["Env"] = env;
  if (!spec.user.empty()) cfg["User"] = spec.user;  // else the image's
  json labels = json::object();
  for (const auto& [k, v] : dc.labels()) {
    if (k.rfind("orch.", 0) != 0) labels[k] = v;  // orch.* are ours
  }
  for (const auto& [k, v] : std::map<std::string, std::string>{{kLabelAlloc, spec.alloc_id},
                                                               {kLabelJob, spec.job_id},
                                                               {kLabelGroup, spec.group},
                                                               {kLabelTask, spec.task},
                                                               {kLabelStdout, spec.stdout_path},
                                                               {kLabelStderr, spec.stderr_path}}) {
    labels[k] = v;
  }
  cfg["Labels"] = labels;
  const std::string network = dc.network_mode().empty() ? "bridge" : dc.network_mode();
  json exposed = json::object();
  json bindings = json::object();
  if (network == "bridge") {
    for (const auto& p : spec.ports) {
      int inside = p.container > 0 ? p.container : p.host;
      std::string key = std::to_string(inside) + "/" + (p.protocol == "udp" ? "udp" : "tcp");
      exposed[key] = json::object();
      bindings[key].push_back({{"HostIp", bind_ip}, {"HostPort", std::to_string(p.host)}});
    }
  }
  cfg["ExposedPorts"] = exposed;
  json host;
  host["NetworkMode"] = network;
  if (!spec.cap_add.empty()) host["CapAdd"] = spec.cap_add;
  if (dc.cap_drop_size() > 0)
    host["CapDrop"] = std::vector<std::string>(dc.cap_drop().begin(), dc.cap_drop().end());
  if (dc.privileged()) host["Privileged"] = true;
  if (dc.extra_hosts_size() > 0) {
    host["ExtraHosts"] = std::vector<std::string>(dc.extra_hosts().begin(), dc.extra_hosts().end());
  }
  if (dc.shm_size_mib() > 0) host["ShmSize"] = SatMul(dc.shm_size_mib(), 1024 * 1024);
  if (dc.ulimits_size() > 0) {
    json ulimits = json::array();
    for (const auto& u : dc.ulimits())
      ulimits.push_back({{"Name", u.name()}, {"Soft", u.soft()}, {"Hard", u.hard()}});
    host["Ulimits"] = ulimits;
  }
  // Saturating: a value past int64 would wrap to a negative (no) limit.
  if (spec.cpu_millicores > 0) host["NanoCpus"] = SatMul(spec.cpu_millicores, 1'000'000);
  if (spec.memory_mib > 0) {
    host["Memory"] = SatMul(spec.memory_mib, 1024 * 1024);
    host["MemorySwap"] = SatMul(spec.memory_mib, 1024 * 1024);  // no swap: over the limit is an OOM kill
  }
  if (spec.pids_limit > 0) host["PidsLimit"] = spec.pids_limit;
  host["PortBindings"] = bindings;
  if (!spec.mounts.empty()) {
    // Host volumes as bind mounts (Mounts, unlike Binds, refuses a source
    // that does not exist instead of creating it).
    json mounts = json::array();
    for (const auto& m : spec.mounts) {
      mounts.push_back({{"Type", "bind"},
                        {"Source", m.source},
                        {"Target", m.destination},
                        {"ReadOnly", m.read_only}});
    }
    host["Mounts"] = mounts;
  }
  host["RestartPolicy"] = {{"Name", "no"}};  // the agent decides about restarts
  const int log_mib = dc.log_max_size_mib() > 0 ? dc.log_max_size_mib() : 10;
  const int log_files = dc.log_max_files() > 0 ? dc.log_max_files() : 3;
  host["LogConfig"] = {
      {"Type", "json-file"},
      {"Config",
       {{"max-size", std::to_string(log_mib) + "m"}, {"max-file", std::to_string(log_files)}}}};
  cfg["HostConfig"] = host;
  return cfg.dump();
}

}  // namespace

Status DockerDriver::Allowed(const TaskSpec& spec) const {
  const auto& dc = spec.docker;
  const std::string& net = dc.network_mode();
  if (!net.empty() && net != "bridge" && net != "host" && net != "none") {
    return Status::InvalidArgument("docker: network_mode \"" + net +
                                   "\" is not bridge, host or none");
  }
  if (dc.privileged() && !options_.allow_privileged) {
    return Status::PermissionDenied(
        "docker: privileged containers are not allowed on this node (orch-agent "
        "--docker-allow-privileged)");
  }
  const std::vector<std::string>& allowed =
      options_.allowed_caps.empty() ? DefaultCapabilities() : options_.allowed_caps;
  for (const auto& c : spec.cap_add) {
    std::string name = c;
    for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (name.rfind("CAP_", 0) == 0) name = name.substr(4);
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return Status::PermissionDenied(
          "docker: capability " + c +
          " is not allowed on this node (orch-agent --docker-allowed-caps)");
    }
  }
  return Status::Ok();
}

namespace {


}  // namespace

std::string DockerDriver::ContainerName(const std::string& alloc_id, const std::string& task) {
  return ContainerNameFor(alloc_id, task);
}

Result<std::unique_ptr<DockerDriver>> DockerDriver::Connect(DockerDriverOptions options) {
  DockerClientOptions co;
  co.socket = options.socket;
  ORCH_ASSIGN_OR_RETURN(auto client, DockerClient::Connect(co));
  return std::unique_ptr<DockerDriver>(new DockerDriver(std::move(options), std::move(client)));
}

DockerDriver::DockerDriver(DockerDriverOptions options, std::unique_ptr<DockerClient> client)
    : options_(std::move(options)), client_(std::move(client)) {
  spdlog::info("docker driver: engine {} at {}, API v{}", client_->engine_version(),
               options_.socket, client_->api_version());
  monitor_ = std::thread([this] { MonitorLoop(); });
  events_ = std::thread([this] { EventsLoop(); });
}

DockerDriver::~DockerDriver() {
  stopping_ = true;
  cv_.notify_all();
  monitor_.join();
  events_.join();
  ReapStoppers(/*all=*/true);
}

void DockerDriver::ApplyInfo(Task& t, const ContainerInfo& info) {
  t.status.pid = info.pid != 0 ? info.pid : t.status.pid;
  if (info.started_at_ms != 0) t.status.started_at_ms = info.started_at_ms;
  if (info.running || StillRunning(info.status) || info.status == "created") {
    t.status.state = TaskStatus::State::kRunning;
    return;
  }
  TaskStatus& s = t.status;
  s.state = TaskStatus::State::kExited;
  s.exit_known = true;
  s.exit_code = info.exit_code;
  s.finished_at_ms = info.finished_at_ms != 0 ? info.finished_at_ms : options_.clock->NowMs();
  s.oom_killed = info.oom_killed;
  if (info.oom_killed) {
    s.signal = SIGKILL;
    s.exit_code = -1;
    s.message = "out of memory: killed for exceeding its memory limit";
    if (t.memory_mib > 0) s.message += " of " + std::to_string(t.memory_mib) + " MiB";
  } else if (s.stop_requested && info.exit_code > 128 && info.exit_code < 128 + 65) {
    // What the engine's stop sent (its exit code says 128 + signal).
    s.signal = info.exit_code - 128;
    s.exit_code = -1;
    s.message = std::string("killed by signal ") + strsignal(s.signal);
  } else if (!info.error.empty()) {
    s.message = info.error;
  }
}

Result<pb::TaskHandle> DockerDriver::Adopt(const TaskSpec& spec, const std::string& name) {
  ORCH_ASSIGN_OR_RETURN(ContainerInfo info, client_->InspectContainer(name));
  pb::TaskHandle h;
  h.set_driver(this->name());
  h.set_alloc_id(spec.alloc_id);
  h.set_task(spec.task);
  h.set_container_id(info.id);
  h.set_pid(info.pid);
  h.set_started_at_ms(info.started_at_ms != 0 ? info.started_at_ms : options_.clock->NowMs());
  Task t;
  t.handle = h;
  t.stdout_path = spec.stdout_path;
  t.stderr_path = spec.stderr_path;
  t.memory_mib = spec.memory_mib;
  {
    std::lock_guard lk(mu_);
    ApplyInfo(t, info);
    tasks_[TaskId(spec.alloc_id, spec.task)] = std::move(t);
  }
  return h;
}

Result<pb::TaskHandle> DockerDriver::Start(const TaskSpec& spec) {
  const std::string id = TaskId(spec.alloc_id, spec.task);
  bool previous_run = false;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(id);
    if (it != tasks_.end() && it->second.status.running()) {
      return Status::AlreadyExists("task " + id + " is already running (container " +
                                   Short(it->second.handle.container_id()) + ")");
    }
    previous_run = it != tasks_.end() && !it->second.removed;
  }
  // A restart: keep the previous run's output before its container goes.
  if (previous_run) Cleanup(id);
  if (spec.image.empty()) {
    return Status::InvalidArgument("task " + spec.task + " uses the docker driver but names no image");
  }
  const std::string name = ContainerName(spec.alloc_id, spec.task);

  // A container of this name is this task's: one an earlier agent started
  // (and crashed before recording) is adopted, a stopped one replaced.
  auto existing = client_->InspectContainer(name);
  if (existing.ok()) {
    if ((existing->running || StillRunning(existing->status)) &&
        existing->labels[kLabelAlloc] == spec.alloc_id) {
      spdlog::info("alloc {} task {}: adopting running container {} instead of starting another",
                   ShortId(spec.alloc_id), spec.task, Short(existing->id));
      return Adopt(spec, name);
    }
    ORCH_RETURN_IF_ERROR(client_->RemoveContainer(existing->id, /*force=*/true));
  } else if (existing.status().code() != StatusCode::kNotFound) {
    return existing.status();
  }

  ORCH_RETURN_IF_ERROR(Allowed(spec));
  ORCH_ASSIGN_OR_RETURN(bool have_image, client_->ImageExists(spec.image));
  if (!have_image) {
    // The task's own credentials, else the agent's config.json's for the
    // image's registry.
    std::string auth, who = "anonymously";
    const auto& a = spec.docker.auth();
    if (!a.username().empty()) {
      auth = RegistryAuthHeader(
          a.username(), a.password(),
          a.server_address().empty() ? RegistryOf(spec.image) : a.server_address());
      who = "as " + a.username() + " (the task's credentials)";
    } else if (auto c = CredentialsFromDockerConfig(options_.auth_config_json, spec.image)) {
      auth = RegistryAuthHeader(c->username, c->password, c->server);
      who = "as " + c->username + " (the agent's registry credentials)";
    }
    spdlog::info("alloc {} task {}: pulling image {} {}", ShortId(spec.alloc_id), spec.task,
                 spec.image, who);
    if (spec.progress) spec.progress("pulling image " + spec.image + " " + who);
    ORCH_RETURN_IF_ERROR(
        client_->PullImage(spec.image, options_.pull_timeout, auth, spec.progress));
  }

  ORCH_ASSIGN_OR_RETURN(std::string cid,
                        client_->CreateContainer(name, CreateBody(spec, options_.port_bind_ip)));
  if (Status st = client_->StartContainer(cid); !st.ok()) {
    (void)client_->RemoveContainer(cid, /*force=*/true);
    return st;
  }
  auto info = InspectSettled(*client_, cid);
  pb::TaskHandle h;
  h.set_driver(this->name());
  h.set_alloc_id(spec.alloc_id);
  h.set_task(spec.task);
  h.set_container_id(cid);
  h.set_pid(info.ok() ? info->pid : 0);
  h.set_started_at_ms(info.ok() && info->started_at_ms != 0 ? info->started_at_ms
                                                             : options_.clock->NowMs());
  Task t;
  t.handle = h;
  t.stdout_path = spec.stdout_path;
  t.stderr_path = spec.stderr_path;
  t.memory_mib = spec.memory_mib;
  t.status.pid = h.pid();
  t.status.started_at_ms = h.started_at_ms();
  {
    std::lock_guard lk(mu_);
    if (info.ok()) ApplyInfo(t, *info);
    tasks_[id] = std::move(t);
  }
  spdlog::info("alloc {} task {}: started container {} ({}, pid {})", ShortId(spec.alloc_id),
               spec.task, Short(cid), spec.image, h.pid());
  cv_.notify_all();
  return h;
}

Status DockerDriver::Signal(const std::string& task_id, int signal) {
  std::string cid;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) return Status::NotFound("docker driver: no task " + task_id);
    if (!it->second.status.running()) return Status::FailedPrecondition("docker driver: task " + task_id + " is not running");
    cid = it->second.handle.container_id();
  }
  // The engine takes a number as well as a name.
  return client_->KillContainer(cid, std::to_string(signal));
}

Status DockerDriver::Stop(const std::string& task_id, std::chrono::milliseconds kill_timeout) {
  std::lock_guard lk(mu_);
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return Status::NotFound("docker driver: no task " + task_id);
  Task& t = it->second;
  if (!t.status.running() || t.status.stop_requested) return Status::Ok();
  t.status.stop_requested = true;
  std::string cid = t.handle.container_id();
  // The engine counts in whole seconds: round up, never shorten the grace.
  auto grace = std::chrono::seconds((kill_timeout.count() + 999) / 1000);
  spdlog::info("alloc {} task {}: stopping container {} (grace {}s)", ShortId(t.handle.alloc_id()),
               t.handle.task(), Short(cid), grace.count());
  auto done = std::make_shared<std::atomic<bool>>(false);
  Stopper s;
  s.done = done;
  s.thread = std::thread([this, cid, grace, done, task_id] {
    Status st = grace.count() <= 0 ? client_->KillContainer(cid) : client_->StopContainer(cid, grace);
    if (!st.ok() && st.code() != StatusCode::kNotFound) {
      spdlog::warn("task {}: stop container {}: {}", task_id, Short(cid), st.ToString());
    }
    done->store(true);
    cv_.notify_all();  // the monitor looks at once
  });
  stoppers_.push_back(std::move(s));
  return Status::Ok();
}

Result<TaskStatus> DockerDriver::Inspect(const std::string& task_id) {
  std::lock_guard lk(mu_);
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return Status::NotFound("docker driver: no task " + task_id);
  return it->second.status;
}

Status DockerDriver::Recover(const pb::TaskHandle& h) {
  if (h.container_id().empty()) return Status::InvalidArgument("task handle without a container id");
  const std::string id = TaskId(h.alloc_id(), h.task());
  Task t;
  t.handle = h;
  t.status.pid = h.pid();
  t.status.started_at_ms = h.started_at_ms();
  auto info = client_->InspectContainer(h.container_id());
  std::lock_guard lk(mu_);
  if (info.ok()) {
    t.stdout_path = info->labels[kLabelStdout];
    t.stderr_path = info->labels[kLabelStderr];
    t.memory_mib = info->memory_bytes / (1024 * 1024);
    ApplyInfo(t, *info);
    if (t.status.running()) {
      spdlog::info("alloc {} task {}: adopted running container {}", ShortId(h.alloc_id()),
                   h.task(), Short(h.container_id()));
    } else {
      spdlog::info("alloc {} task {}: container {} {} while the agent was away",
                   ShortId(h.alloc_id()), h.task(), Short(h.container_id()),
                   DescribeExit(t.status));
    }
  } else if (info.status().code() == StatusCode::kNotFound) {
    t.removed = true;
    t.status.state = TaskStatus::State::kExited;
    t.status.exit_known = false;
    t.status.exit_code = -1;
    t.status.finished_at_ms = options_.clock->NowMs();
    t.status.message = "container " + Short(h.container_id()) +
                       " no longer exists (removed while the agent was away); exit status unknown";
    spdlog::warn("alloc {} task {}: {}", ShortId(h.alloc_id()), h.task(), t.status.message);
  } else {
    // The engine does not answer now: keep the task as running; the monitor
    // finds out once it does.
    spdlog::warn("alloc {} task {}: cannot inspect container {} yet: {}", ShortId(h.alloc_id()),
                 h.task(), Short(h.container_id()), info.status().ToString());
  }
  tasks_[id] = std::move(t);
  cv_.notify_all();
  return Status::Ok();
}

Result<TaskStatus> DockerDriver::Wait(const std::string& task_id, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return WaitForExit(lk, cv_, tasks_, task_id, timeout, stopping_, "docker");
}

std::vector<std::string> DockerDriver::List() {
  std::lock_guard lk(mu_);
  return TaskIds(tasks_);
}

std::vector<pb::TaskHandle> DockerDriver::Discover() {
  std::vector<pb::TaskHandle> out;
  auto list = client_->ListContainers(kLabelAlloc, /*all=*/true);
  if (!list.ok()) {
    spdlog::warn("docker driver: cannot list orch's containers: {}", list.status().ToString());
    return out;
  }
  for (auto& c : *list) {
    pb::TaskHandle h;
    h.set_driver(name());
    h.set_alloc_id(c.labels[kLabelAlloc]);
    h.set_task(c.labels[kLabelTask]);
    h.set_container_id(c.id);
    h.set_stdout_path(c.labels[kLabelStdout]);
    out.push_back(std::move(h));
  }
  return out;
}

Status DockerDriver::Logs(const std::string& task_id, const LogOptions& opts, const LogSink& sink) {
  std::string cid, out_path, err_path;
  bool removed = false;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) return Status::NotFound("docker driver: no task " + task_id);
    cid = it->second.handle.container_id();
    out_path = it->second.stdout_path;
    err_path = it->second.stderr_path;
    removed = it->second.removed;
  }
  if (!removed) {
    Status st = client_->Logs(cid, opts, sink, &stopping_);
    if (st.code() != StatusCode::kNotFound) return st;
    // Removed meanwhile: its output is in the files now.
  }
  std::size_t max = opts.tail_bytes >= 0 ? static_cast<std::size_t>(opts.tail_bytes) : (1u << 30);
  if (opts.stdout_stream && !out_path.empty()) {
    auto text = ReadFileTail(out_path, max);
    if (text.ok() && !text->empty() && !sink(LogStream::kStdout, *text)) return Status::Ok();
  }
  if (opts.stderr_stream && !err_path.empty()) {
    auto text = ReadFileTail(err_path, max);
    if (text.ok() && !text->empty()) sink(LogStream::kStderr, *text);
  }
  return Status::Ok();
}

Result<TaskUsage> DockerDriver::Stats(const std::string& task_id) {
  std::string cid;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) return Status::NotFound("docker driver: no task " + task_id);
    if (!it->second.status.running()) {
      return Status::FailedPrecondition("task " + task_id + " is not running");
    }
    cid = it->second.handle.container_id();
  }
  ORCH_ASSIGN_OR_RETURN(ContainerUsage u, client_->Stats(cid));
  TaskUsage out;
  out.cpu_time = std::chrono::nanoseconds(u.cpu_ns);
  out.memory_bytes = u.memory_bytes;
  return out;
}

void DockerDriver::Forget(const std::string& task_id) {
  bool cleanup = false;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end() || it->second.status.running()) return;
    cleanup = !it->second.removed;
  }
  if (cleanup) Cleanup(task_id);
  std::lock_guard lk(mu_);
  auto it = tasks_.find(task_id);
  if (it != tasks_.end() && !it->second.status.running()) tasks_.erase(it);
}

void DockerDriver::SetEventCallback(std::function<void()> cb) {
  std::lock_guard lk(mu_);
  on_event_ = std::move(cb);
}

void DockerDriver::Cleanup(const std::string& task_id) {
  std::string cid, out_path, err_path;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end() || it->second.removed || it->second.status.running()) return;
    cid = it->second.handle.container_id();
    out_path = it->second.stdout_path;
    err_path = it->second.stderr_path;
  }
  // Keep its output: the container and the engine's copy go away.
  if (!out_path.empty() && !err_path.empty()) {
    std::ofstream out(out_path, std::ios::app | std::ios::binary);
    std::ofstream err(err_path, std::ios::app | std::ios::binary);
    LogOptions opts;
    Status st = client_->Logs(cid, opts, [&](LogStream s, std::string_view d) {
      (s == LogStream::kStderr ? err : out).write(d.data(), static_cast<std::streamsize>(d.size()));
      return true;
    });
    if (!st.ok() && st.code() != StatusCode::kNotFound) {
      spdlog::warn("task {}: cannot keep the output of container {}: {}", task_id, Short(cid),
                   st.ToString());
    }
  }
  Status st = client_->RemoveContainer(cid, /*force=*/true);
  if (!st.ok()) {
    spdlog::warn("task {}: remove container {}: {}", task_id, Short(cid), st.ToString());
    return;  // tried again on the next pass
  }
  spdlog::debug("task {}: removed container {}", task_id, Short(cid));
  std::lock_guard lk(mu_);
  auto it = tasks_.find(task_id);
  if (it != tasks_.end() && it->second.handle.container_id() == cid) it->second.removed = true;
}

bool DockerDriver::PollOnce(std::vector<std::string>* cleanup, bool full) {
  std::map<std::string, std::string> running;  // task id -> container id
  std::vector<std::string>& to_clean = *cleanup;
  std::set<std::string> died;  // named by the engine's events since the last look
  std::map<std::string, EventExit> exits;
  {
    std::lock_guard lk(mu_);
    died.swap(died_);
    // An oom whose die has not come yet stays for the die.
    for (auto it = event_exits_.begin(); it != event_exits_.end();) {
      if (it->second.exit_code >= 0) {
        exits.insert(*it);
        it = event_exits_.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [id, t] : tasks_) {
      if (t.status.running()) {
        running[id] = t.handle.container_id();
      } else if (!t.removed) {
        to_clean.push_back(id);
      }
    }
  }
  bool changed = false;
  if (!full) {
    // Woken by events: only the containers they named.
    for (auto it = running.begin(); it != running.end();) {
      it = died.count(it->second) ? std::next(it) : running.erase(it);
    }
  }
  if (!running.empty()) {
    std::map<std::string, std::string> state;
    if (full) {
      auto list = client_->ListContainers(kLabelAlloc, /*all=*/true);
      if (!list.ok()) {
        spdlog::debug("docker driver: cannot list containers: {}", list.status().ToString());
        return false;
      }
      for (const auto& c : *list) state[c.id] = c.state;
    }
    for (const auto& [id, cid] : running) {
      auto s = state.find(cid);
      // The list can still say running when the die event is out: a
      // container the events named is inspected (until it shows the exit).
      const bool named = died.count(cid) > 0;
      if (!named && s != state.end() && StillRunning(s->second)) continue;
      // The die event's exit code is the engine's word: no inspect, which
      // dockerd answers only once its exit handling is done (~50 ms). Not
      // for 137 without an oom before it: SIGKILL or an OOM kill whose
      // event is late, which the inspect tells apart.
      Result<ContainerInfo> info = Status::NotFound("");
      auto ex = exits.find(cid);
      if (ex != exits.end() && (ex->second.exit_code != 137 || ex->second.oom)) {
        ContainerInfo c;
        c.id = cid;
        c.status = "exited";
        c.exit_code = ex->second.exit_code;
        c.oom_killed = ex->second.oom;
        c.finished_at_ms = ex->second.time_ms;
        info = c;
      } else {
        info = InspectSettled(*client_, cid);
      }
      for (int i = 0; named && i < 50 && info.ok() && info->running; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        info = InspectSettled(*client_, cid);
      }
      std::lock_guard lk(mu_);
      auto it = tasks_.find(id);
      if (it == tasks_.end() || it->second.handle.container_id() != cid) continue;
      Task& t = it->second;
      if (info.ok()) {
        ApplyInfo(t, *info);
      } else if (info.status().code() == StatusCode::kNotFound) {
        t.removed = true;
        t.status.state = TaskStatus::State::kExited;
        t.status.exit_known = false;
        t.status.exit_code = -1;
        t.status.finished_at_ms = options_.clock->NowMs();
        t.status.message = "container " + Short(cid) + " was removed by someone else";
      } else {
        continue;
      }
      if (t.status.running()) continue;
      changed = true;
      if (!t.removed) to_clean.push_back(id);
      auto log = t.status.stop_requested || (t.status.exit_known && t.status.exit_code == 0)
                     ? spdlog::level::info
                     : spdlog::level::warn;
      spdlog::log(log, "alloc {} task {}: container {} {}", ShortId(t.handle.alloc_id()),
                  t.handle.task(), Short(cid), DescribeExit(t.status));
    }
  }
  return changed;
}

void DockerDriver::ReapStoppers(bool all) {
  std::list<Stopper> finished;
  {
    std::lock_guard lk(mu_);
    for (auto it = stoppers_.begin(); it != stoppers_.end();) {
      if (all || it->done->load()) {
        finished.push_back(std::move(*it));
        it = stoppers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& s : finished) s.thread.join();
}

void DockerDriver::MonitorLoop() {
  while (!stopping_) {
    std::vector<std::string> to_clean;
    // A look at every container when the stream is down, after it
    // reconnected, and every resync interval; else only those the events
    // named.
    const auto now = std::chrono::steady_clock::now();
    bool full;
    {
      std::lock_guard lk(mu_);
      full = !events_connected_ || full_look_ || now - last_full_ >= options_.resync_interval;
      full_look_ = false;
    }
    if (full) last_full_ = now;
    bool changed = PollOnce(&to_clean, full);
    ReapStoppers(/*all=*/false);
    std::function<void()> cb;
    {
      std::unique_lock lk(mu_);
      cb = on_event_;
    }
    if (changed) {
      cv_.notify_all();  // Wait()ers
      if (cb) cb();
    }
    // After the news: copying the output and removing the container take a
    // while.
    for (const auto& id : to_clean) Cleanup(id);
    std::unique_lock lk(mu_);
    if (stopping_) break;
    // Woken by an event; else a look now and then (often while the event
    // stream is down).
    auto interval = events_connected_ ? options_.resync_interval : options_.poll_interval;
    cv_.wait_for(lk, interval, [&] { return wake_ || stopping_.load(); });
    wake_ = false;
  }
}

void DockerDriver::EventsLoop() {
  int64_t since = 0;
  // Wakes the monitor: for a look at every container, or at one the events
  // named.
  auto wake = [this](bool full, const DockerClient::ContainerEvent* e) {
    std::lock_guard lk(mu_);
    full_look_ = full_look_ || full;
    if (e != nullptr) {
      died_.insert(e->id);
      EventExit& x = event_exits_[e->id];
      if (e->action == "oom") x.oom = true;
      if (e->action == "die") {
        x.exit_code = e->exit_code;
        x.time_ms = e->time_ns / 1'000'000;
      }
      if (event_exits_.size() > 4096) event_exits_.clear();  // bounded; a look inspects instead
    }
    wake_ = true;
    cv_.notify_all();
  };
  while (!stopping_) {
    Status st = client_->FollowEvents(
        kLabelAlloc, since,
        [&](const DockerClient::ContainerEvent& e) {
          if (!events_connected_.exchange(true)) {
            spdlog::debug("docker driver: following the engine's events");
            wake(/*full=*/true, nullptr);  // what happened while not following
          }
          if (e.time_ns > 0) since = e.time_ns / 1'000'000'000;
          if (e.action == "die" || e.action == "oom") wake(/*full=*/false, &e);
          return !stopping_.load();
        },
        stopping_);
    events_connected_ = false;
    if (stopping_) break;
    spdlog::warn("docker driver: event stream: {}; looking every {} ms until it is back",
                 st.ToString(), options_.poll_interval.count());
    wake(/*full=*/true, nullptr);
    for (int i = 0; i < 10 && !stopping_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace orch::agent
