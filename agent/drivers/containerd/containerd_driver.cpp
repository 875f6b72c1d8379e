#include "agent/drivers/containerd/containerd_driver.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/cgroups/cgroups.h"
#include "agent/drivers/containerd/containerd_client.h"
#include "agent/drivers/containerd/containerd_images.h"
#include "agent/drivers/containerd/oci_spec.h"
#include "agent/drivers/docker/docker_client.h"  // CredentialsFromDockerConfig
#include "agent/drivers/exec_logs.h"
#include "agent/drivers/task_table.h"
#include "agent/files.h"
#include "common/ids.h"
#include "github.com/containerd/containerd/api/events/task.pb.h"

namespace orch::agent {

namespace {

constexpr char kLabelAlloc[] = "orch.alloc";
constexpr char kLabelJob[] = "orch.job";
constexpr char kLabelGroup[] = "orch.group";
constexpr char kLabelTask[] = "orch.task";
constexpr char kLabelStdout[] = "orch.stdout";
constexpr char kLabelStderr[] = "orch.stderr";
constexpr char kLabelMemory[] = "orch.memory_mib";
constexpr char kSpecType[] = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

bool Running(::containerd::v1::types::Status s) {
  return s == ::containerd::v1::types::RUNNING || s == ::containerd::v1::types::CREATED ||
         s == ::containerd::v1::types::PAUSED || s == ::containerd::v1::types::PAUSING;
}

// Whether a user needs the image's /etc/passwd or /etc/group to resolve:
// any name, or a bare uid (its primary group is the passwd entry's).
bool NeedsPasswd(const std::string& user) {
  if (user.empty()) return false;
  auto colon = user.find(':');
  auto numeric = [](const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
  };
  if (colon == std::string::npos) return true;
  return !numeric(user.substr(0, colon)) || !numeric(user.substr(colon + 1));
}

// Reads /etc/passwd and /etc/group of a prepared snapshot by mounting it
// read-only for a moment under `scratch` (root only; "" when it cannot).
std::pair<std::string, std::string> ReadPasswd(
    const google::protobuf::RepeatedPtrField<ctrd::types::Mount>& mounts,
    const std::string& scratch) {
  std::pair<std::string, std::string> out;
  if (mounts.size() != 1) return out;
  const auto& m = mounts[0];
  std::error_code ec;
  std::filesystem::create_directories(scratch, ec);
  std::string options;
  unsigned long flags = MS_RDONLY;
  for (const auto& o : m.options()) {
    if (o == "ro" || o == "rw") continue;
    if (o == "bind" || o == "rbind") {
      flags |= MS_BIND | (o == "rbind" ? MS_REC : 0);
      continue;
    }
    if (!options.empty()) options += ",";
    options += o;
  }
  int rc;
  if (flags & MS_BIND) {
    rc = mount(m.source().c_str(), scratch.c_str(), nullptr, flags & ~MS_RDONLY, nullptr);
  } else {
    rc = mount(m.source().c_str(), scratch.c_str(), m.type().c_str(), flags, options.c_str());
  }
  if (rc != 0) {
    spdlog::debug("containerd: mount the image's root to read its users: {}", strerror(errno));
    return out;
  }
  auto read = [&](const char* rel) {
    // Bounded: a user database is small.
    auto text = ReadFileTail(scratch + rel, 1 << 20);
    return text.ok() ? *text : std::string();
  };
  out.first = read("/etc/passwd");
  out.second = read("/etc/group");
  umount2(scratch.c_str(), MNT_DETACH);
  std::filesystem::remove(scratch, ec);
  return out;
}

int64_t TimestampMs(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1'000'000;
}

}  // namespace

std::string ContainerdDriver::ContainerId(const std::string& alloc_id, const std::string& task) {
  std::string id = ContainerNameFor(alloc_id, task);
  if (id.size() > 76) {
    // containerd's identifiers are at most 76 characters.
    std::string h = oci::Sha256Digest(task).substr(7, 12);
    id = id.substr(0, 76 - 13) + "-" + h;
  }
  return id;
}

Result<std::unique_ptr<ContainerdDriver>> ContainerdDriver::Connect(
    ContainerdDriverOptions options) {
  if (options.fifo_dir.empty())
    return Status::InvalidArgument("containerd driver: no FIFO directory");
  std::error_code ec;
  std::filesystem::create_directories(options.fifo_dir, ec);
  if (ec)
    return Status::Internal("containerd driver: mkdir " + options.fifo_dir + ": " + ec.message());
  ContainerdClientOptions co;
  co.socket = options.socket;
  co.ns = options.ns;
  ORCH_ASSIGN_OR_RETURN(auto client, ContainerdClient::Connect(co));
  ORCH_ASSIGN_OR_RETURN(auto logs, FifoLogs::Start(options.logs));
  auto cgroups = Cgroups::Open(CgroupOptions{options.cgroup_parent, options.cgroup_mode});
  return std::unique_ptr<ContainerdDriver>(new ContainerdDriver(
      std::move(options), std::move(client), std::move(logs), std::move(cgroups)));
}

ContainerdDriver::ContainerdDriver(ContainerdDriverOptions options,
                                   std::unique_ptr<ContainerdClient> client,
                                   std::unique_ptr<FifoLogs> logs, std::unique_ptr<Cgroups> cgroups)
    : options_(std::move(options)),
      client_(std::move(client)),
      logs_(std::move(logs)),
      cgroups_(std::move(cgroups)) {
  spdlog::info("containerd driver: containerd {} at {}, namespace {}", client_->version(),
               options_.socket, options_.ns);
  monitor_ = std::thread([this] { MonitorLoop(); });
  events_ = std::thread([this] { EventsLoop(); });
}

ContainerdDriver::~ContainerdDriver() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
    if (events_ctx_ != nullptr) events_ctx_->TryCancel();
  }
  cv_.notify_all();
  monitor_.join();
  events_.join();
}

std::string ContainerdDriver::version() const { return client_->version(); }

Status ContainerdDriver::Kill(const std::string& cid, int signal, bool all) {
  ctrd::tasks::KillRequest req;
  req.set_container_id(cid);
  req.set_signal(static_cast<uint32_t>(signal));
  req.set_all(all);
  google::protobuf::Empty resp;
  auto ctx = client_->Context();
  return client_->FromGrpc(client_->tasks().Kill(ctx.get(), req, &resp),
                           "signal " + std::to_string(signal) + " to task " + cid);
}

void ContainerdDriver::RemoveContainer(const std::string& cid, const std::string& cgroup) {
  {
    ctrd::tasks::DeleteTaskRequest req;
    req.set_container_id(cid);
    ctrd::tasks::DeleteResponse resp;
    auto ctx = client_->Context();
    grpc::Status s = client_->tasks().Delete(ctx.get(), req, &resp);
    if (s.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
      // Still running: kill it first.
      (void)Kill(cid, SIGKILL, /*all=*/true);
      for (int i = 0; i < 50; ++i) {
        auto c2 = client_->Context();
        if (client_->tasks().Delete(c2.get(), req, &resp).error_code() !=
            grpc::StatusCode::FAILED_PRECONDITION)
          break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }
  {
    ctrd::containers::DeleteContainerRequest req;
    req.set_id(cid);
    google::protobuf::Empty resp;
    auto ctx = client_->Context();
    grpc::Status s = client_->containers().Delete(ctx.get(), req, &resp);
    if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) {
      spdlog::warn("containerd: delete container {}: {}", cid, s.error_message());
    }
  }
  {
    ctrd::snapshots::RemoveSnapshotRequest req;
    req.set_snapshotter(options_.snapshotter);
    req.set_key(cid);
    google::protobuf::Empty resp;
    auto ctx = client_->Context();
    grpc::Status s = client_->snapshots().Remove(ctx.get(), req, &resp);
    if (!s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND) {
      spdlog::warn("containerd: remove snapshot {}: {}", cid, s.error_message());
    }
  }
  logs_->Close(options_.fifo_dir + "/" + cid + ".stdout");
  logs_->Close(options_.fifo_dir + "/" + cid + ".stderr");
  // runc removes the task's cgroup, not the allocation's level above it.
  if (!cgroup.empty() && cgroups_->enabled()) {
    if (Status st = cgroups_->Destroy(cgroup); !st.ok()) {
      spdlog::warn("containerd: remove cgroup {}: {}", cgroup, st.ToString());
    }
  }
}

Result<pb::TaskHandle> ContainerdDriver::Start(const TaskSpec& spec) {
  const std::string id = TaskId(spec.alloc_id, spec.task);
  const std::string cid = ContainerId(spec.alloc_id, spec.task);
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(id);
    if (it != tasks_.end() && it->second.status.running()) {
      return Status::AlreadyExists("task " + id + " is already running (container " +
                                   it->second.handle.container_id() + ")");
    }
  }
  if (spec.image.empty()) {
    return Status::InvalidArgument("task " + spec.task +
                                   " uses the containerd driver but names no image");
  }
  // A container of this name is this task's: a running one an earlier
  // agent started is adopted, anything else removed.
  {
    ctrd::containers::GetContainerRequest req;
    req.set_id(cid);
    ctrd::containers::GetContainerResponse resp;
    auto ctx = client_->Context();
    Status st =
        client_->FromGrpc(client_->containers().Get(ctx.get(), req, &resp), "container " + cid);
    if (st.ok()) {
      ctrd::tasks::GetRequest treq;
      treq.set_container_id(cid);
      ctrd::tasks::GetResponse tresp;
      auto tctx = client_->Context();
      bool running =
          client_->tasks().Get(tctx.get(), treq, &tresp).ok() && Running(tresp.process().status());
      const auto& labels = resp.container().labels();
      auto alloc = labels.find(kLabelAlloc);
      if (running && alloc != labels.end() && alloc->second == spec.alloc_id) {
        spdlog::info("alloc {} task {}: adopting running container {} instead of starting another",
                     ShortId(spec.alloc_id), spec.task, cid);
        pb::TaskHandle h;
        h.set_driver(name());
        h.set_alloc_id(spec.alloc_id);
        h.set_task(spec.task);
        h.set_container_id(cid);
        h.set_pid(static_cast<int32_t>(tresp.process().pid()));
        h.set_started_at_ms(options_.clock->NowMs());
        h.set_stdout_path(spec.stdout_path);
        ORCH_RETURN_IF_ERROR(Recover(h));
        return h;
      }
      RemoveContainer(cid, cgroups_->TaskCgroup(spec.alloc_id, spec.task));
    } else if (st.code() != StatusCode::kNotFound) {
      return st;
    }
  }
  // A restart: the previous run's record goes (its output is in the files).
  {
    std::lock_guard lk(mu_);
    tasks_.erase(id);
  }
  auto h = StartNew(spec, cid);
  if (!h.ok()) RemoveContainer(cid, cgroups_->TaskCgroup(spec.alloc_id, spec.task));
  return h;
}

Result<pb::TaskHandle> ContainerdDriver::StartNew(const TaskSpec& spec, const std::string& cid) {
  const auto t0 = std::chrono::steady_clock::now();
  LocalImage image;
  {
    std::shared_ptr<std::mutex> image_mu;
    {
      std::lock_guard lk(pulls_mu_);
      auto& m = pulls_[spec.image];
      if (!m) m = std::make_shared<std::mutex>();
      image_mu = m;
    }
    std::lock_guard pull(*image_mu);
    ImagePullOptions po;
    po.snapshotter = options_.snapshotter;
    po.registry = options_.registry;
    po.progress = spec.progress;
    if (auto c = CredentialsFromDockerConfig(options_.auth_config_json, spec.image)) {
      po.credentials = {c->username, c->password};
    }
    ORCH_ASSIGN_OR_RETURN(image, EnsureImage(*client_, spec.image, po));
    if (image.pulled) {
      spdlog::info("alloc {} task {}: pulled image {} ({}) into containerd{}",
                   ShortId(spec.alloc_id), spec.task, image.name, image.manifest,
                   po.credentials.username.empty() ? "" : " as " + po.credentials.username);
    }
  }
  const auto t_image = std::chrono::steady_clock::now();

  // The container's writable root on the image's top layer, made under a
  // lease until the container that holds it exists.
  ContainerdLease lease(*client_);
  ORCH_RETURN_IF_ERROR(lease.Create("create"));
  ctrd::snapshots::PrepareSnapshotRequest prep;
  prep.set_snapshotter(options_.snapshotter);
  prep.set_key(cid);
  prep.set_parent(image.chain_id);
  ctrd::snapshots::PrepareSnapshotResponse rootfs;
  {
    auto ctx = client_->Context(lease.id());
    ORCH_RETURN_IF_ERROR(client_->FromGrpc(client_->snapshots().Prepare(ctx.get(), prep, &rootfs),
                                           "prepare the root of container " + cid));
  }

  // Who the task runs as: the task's user, else the image's, else root.
  const std::string& user = !spec.user.empty() ? spec.user : image.config.user;
  std::string passwd, group;
  if (NeedsPasswd(user)) {
    std::tie(passwd, group) = ReadPasswd(rootfs.mounts(), options_.fifo_dir + "/." + cid + ".root");
  }
  ORCH_ASSIGN_OR_RETURN(OciUser who, ResolveOciUser(user, passwd, group));

  std::string cgroup = cgroups_->enabled()
                           ? cgroups_->TaskCgroup(spec.alloc_id, spec.task)
                           : options_.cgroup_parent + "/" + spec.alloc_id + "/" + spec.task;
  OciSpecOptions so;
  so.cgroups_path = "/" + cgroup;
  so.host_network = true;
  ORCH_ASSIGN_OR_RETURN(std::string spec_json, BuildOciSpec(spec, image.config, who, so));

  ctrd::containers::CreateContainerRequest create;
  auto* c = create.mutable_container();
  c->set_id(cid);
  c->set_image(image.name);
  c->mutable_runtime()->set_name(options_.runtime);
  c->mutable_spec()->set_type_url(kSpecType);
  c->mutable_spec()->set_value(spec_json);
  c->set_snapshotter(options_.snapshotter);
  c->set_snapshot_key(cid);
  auto& labels = *c->mutable_labels();
  labels[kLabelAlloc] = spec.alloc_id;
  labels[kLabelJob] = spec.job_id;
  labels[kLabelGroup] = spec.group;
  labels[kLabelTask] = spec.task;
  labels[kLabelStdout] = spec.stdout_path;
  labels[kLabelStderr] = spec.stderr_path;
  labels[kLabelMemory] = std::to_string(spec.memory_mib);
  {
    ctrd::containers::CreateContainerResponse resp;
    auto ctx = client_->Context(lease.id());
    ORCH_RETURN_IF_ERROR(client_->FromGrpc(client_->containers().Create(ctx.get(), create, &resp),
                                           "create container " + cid));
  }

  Task t;
  t.stdout_path = spec.stdout_path;
  t.stderr_path = spec.stderr_path;
  t.stdout_fifo = options_.fifo_dir + "/" + cid + ".stdout";
  t.stderr_fifo = options_.fifo_dir + "/" + cid + ".stderr";
  t.cgroup = cgroup;
  t.memory_mib = spec.memory_mib;
  ORCH_RETURN_IF_ERROR(logs_->Add(t.stdout_fifo, t.stdout_path));
  ORCH_RETURN_IF_ERROR(logs_->Add(t.stderr_fifo, t.stderr_path));

  ctrd::tasks::CreateTaskRequest tc;
  tc.set_container_id(cid);
  *tc.mutable_rootfs() = rootfs.mounts();
  tc.set_stdout(t.stdout_fifo);
  tc.set_stderr(t.stderr_fifo);
  ctrd::tasks::CreateTaskResponse created;
  {
    auto ctx = client_->Context();
    ORCH_RETURN_IF_ERROR(
        client_->FromGrpc(client_->tasks().Create(ctx.get(), tc, &created), "create task " + cid));
  }
  ctrd::tasks::StartRequest sr;
  sr.set_container_id(cid);
  ctrd::tasks::StartResponse started;
  {
    auto ctx = client_->Context();
    ORCH_RETURN_IF_ERROR(
        client_->FromGrpc(client_->tasks().Start(ctx.get(), sr, &started), "start task " + cid));
  }
  const auto t_started = std::chrono::steady_clock::now();

  pb::TaskHandle h;
  h.set_driver(name());
  h.set_alloc_id(spec.alloc_id);
  h.set_task(spec.task);
  h.set_container_id(cid);
  h.set_pid(static_cast<int32_t>(started.pid()));
  h.set_started_at_ms(options_.clock->NowMs());
  h.set_stdout_path(spec.stdout_path);
  h.set_cgroup(cgroup);
  t.handle = h;
  t.status.pid = h.pid();
  t.status.started_at_ms = h.started_at_ms();
  {
    std::lock_guard lk(mu_);
    tasks_[TaskId(spec.alloc_id, spec.task)] = std::move(t);
  }
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  spdlog::info("alloc {} task {}: started container {} ({}, pid {}; image {} ms, start {} ms)",
               ShortId(spec.alloc_id), spec.task, cid, image.name, h.pid(), ms(t_image - t0),
               ms(t_started - t_image));
  cv_.notify_all();
  return h;
}

Status ContainerdDriver::Signal(const std::string& task_id, int signal) {
  std::string cid;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) return Status::NotFound("containerd driver: no task " + task_id);
    if (!it->second.status.running())
      return Status::FailedPrecondition("containerd driver: task " + task_id + " is not running");
    cid = it->second.handle.container_id();
  }
  return Kill(cid, signal, /*all=*/false);
}

Status ContainerdDriver::Stop(const std::string& task_id, std::chrono::milliseconds kill_timeout) {
  std::string cid;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) return Status::NotFound("containerd driver: no task " + task_id);
    Task& t = it->second;
    if (!t.status.running() || t.status.stop_requested) return Status::Ok();
    t.status.stop_requested = true;
    t.kill_at = std::chrono::steady_clock::now() + kill_timeout;
    cid = t.handle.container_id();
    spdlog::info("alloc {} task {}: stopping container {} (grace {} ms)",
                 ShortId(t.handle.alloc_id()), t.handle.task(), cid, kill_timeout.count());
  }
  Status st =
      Kill(cid, kill_timeout.count() <= 0 ? SIGKILL : SIGTERM, /*all=*/kill_timeout.count() <= 0);
  cv_.notify_all();  // the monitor keeps the SIGKILL's time
  if (st.code() == StatusCode::kNotFound) return Status::Ok();  // gone already: the monitor sees it
  return st;
}

Result<TaskStatus> ContainerdDriver::Inspect(const std::string& task_id) {
  std::lock_guard lk(mu_);
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return Status::NotFound("containerd driver: no task " + task_id);
  return it->second.status;
}

Status ContainerdDriver::Recover(const pb::TaskHandle& h) {
  if (h.container_id().empty())
    return Status::InvalidArgument("task handle without a container id");
  const std::string id = TaskId(h.alloc_id(), h.task());
  const std::string& cid = h.container_id();
  Task t;
  t.handle = h;
  t.status.pid = h.pid();
  t.status.started_at_ms = h.started_at_ms();
  t.stdout_fifo = options_.fifo_dir + "/" + cid + ".stdout";
  t.stderr_fifo = options_.fifo_dir + "/" + cid + ".stderr";
  t.cgroup = !h.cgroup().empty() ? h.cgroup() : cgroups_->TaskCgroup(h.alloc_id(), h.task());

  ctrd::containers::GetContainerRequest req;
  req.set_id(cid);
  ctrd::containers::GetContainerResponse resp;
  Status st;
  {
    auto ctx = client_->Context();
    st = client_->FromGrpc(client_->containers().Get(ctx.get(), req, &resp), "container " + cid);
  }
  if (st.code() == StatusCode::kNotFound) {
    t.collected = t.removed = true;
    t.status.state = TaskStatus::State::kExited;
    t.status.exit_known = false;
    t.status.exit_code = -1;
    t.status.finished_at_ms = options_.clock->NowMs();
    t.status.message = "container " + cid +
                       " no longer exists (removed while the agent was away); exit status unknown";
    spdlog::warn("alloc {} task {}: {}", ShortId(h.alloc_id()), h.task(), t.status.message);
  } else if (!st.ok()) {
    // containerd does not answer now: keep the task as running; the monitor
    // finds out once it does.
    spdlog::warn("alloc {} task {}: cannot look at container {} yet: {}", ShortId(h.alloc_id()),
                 h.task(), cid, st.ToString());
    std::lock_guard lk(mu_);
    full_look_ = true;
    tasks_[id] = std::move(t);
    return Status::Ok();
  } else {
    const auto& labels = resp.container().labels();
    auto label = [&](const char* k) {
      auto it = labels.find(k);
      return it == labels.end() ? std::string() : it->second;
    };
    t.stdout_path = label(kLabelStdout);
    t.stderr_path = label(kLabelStderr);
    t.memory_mib = std::atoll(label(kLabelMemory).c_str());
    // Its output again into the files, running or not (what the FIFOs hold
    // is the end of it).
    if (!t.stdout_path.empty()) (void)logs_->Add(t.stdout_fifo, t.stdout_path);
    if (!t.stderr_path.empty()) (void)logs_->Add(t.stderr_fifo, t.stderr_path);
    spdlog::info("alloc {} task {}: adopted container {}", ShortId(h.alloc_id()), h.task(), cid);
  }
  std::lock_guard lk(mu_);
  // Running or not, the monitor's next look says (a stopped one is collected).
  full_look_ = true;
  wake_ = true;
  tasks_[id] = std::move(t);
  cv_.notify_all();
  return Status::Ok();
}

Result<TaskStatus> ContainerdDriver::Wait(const std::string& task_id,
                                          std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  return WaitForExit(lk, cv_, tasks_, task_id, timeout, stopping_, "containerd");
}

std::vector<std::string> ContainerdDriver::List() {
  std::lock_guard lk(mu_);
  return TaskIds(tasks_);
}

std::vector<pb::TaskHandle> ContainerdDriver::Discover() {
  std::vector<pb::TaskHandle> out;
  ctrd::containers::ListContainersRequest req;
  req.add_filters(std::string("labels.\"") + kLabelAlloc + "\"");
  ctrd::containers::ListContainersResponse resp;
  auto ctx = client_->Context();
  Status st =
      client_->FromGrpc(client_->containers().List(ctx.get(), req, &resp), "list containers");
  if (!st.ok()) {
    spdlog::warn("containerd driver: cannot list orch's containers: {}", st.ToString());
    return out;
  }
  for (const auto& c : resp.containers()) {
    auto alloc = c.labels().find(kLabelAlloc);
    auto task = c.labels().find(kLabelTask);
    if (alloc == c.labels().end() || task == c.labels().end()) continue;
    pb::TaskHandle h;
    h.set_driver(name());
    h.set_alloc_id(alloc->second);
    h.set_task(task->second);
    h.set_container_id(c.id());
    auto out_path = c.labels().find(kLabelStdout);
    if (out_path != c.labels().end()) h.set_stdout_path(out_path->second);
    out.push_back(std::move(h));
  }
  return out;
}

Status ContainerdDriver::Logs(const std::string& task_id, const LogOptions& opts,
                              const LogSink& sink) {
  TaskLogFiles files;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) return Status::NotFound("containerd driver: no task " + task_id);
    files.stdout_path = it->second.stdout_path;
    files.stderr_path = it->second.stderr_path;
  }
  files.max_files = options_.logs.max_files;
  return StreamTaskLogs(files, opts, sink, [this, task_id] {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(task_id);
    // Following ends once the task's last output is in the files.
    return it != tasks_.end() && !it->second.collected && !stopping_;
  });
}

Result<TaskUsage> ContainerdDriver::Stats(const std::string& task_id) {
  std::string cgroup;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) return Status::NotFound("containerd driver: no task " + task_id);
    if (!it->second.status.running())
      return Status::FailedPrecondition("task " + task_id + " is not running");
    cgroup = it->second.cgroup;
  }
  if (!cgroups_->enabled()) {
    return Status::FailedPrecondition("containerd driver: no cgroups to read usage from (" +
                                      cgroups_->disabled_reason() + ")");
  }
  ORCH_ASSIGN_OR_RETURN(CgroupUsage u, cgroups_->Usage(cgroup));
  TaskUsage out;
  out.cpu_time = u.cpu_time;
  out.memory_bytes = u.memory_bytes;
  return out;
}

void ContainerdDriver::Forget(const std::string& task_id) {
  std::string cid, cgroup;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end() || it->second.status.running()) return;
    if (!it->second.removed) cid = it->second.handle.container_id();
    cgroup = it->second.cgroup;
  }
  if (!cid.empty()) RemoveContainer(cid, cgroup);
  std::lock_guard lk(mu_);
  auto it = tasks_.find(task_id);
  if (it != tasks_.end() && !it->second.status.running()) tasks_.erase(it);
}

void ContainerdDriver::SetEventCallback(std::function<void()> cb) {
  std::lock_guard lk(mu_);
  on_event_ = std::move(cb);
}

void ContainerdDriver::Collect(const std::string& task_id) {
  std::string cid, cgroup;
  bool oom_event = false;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end() || it->second.collected) return;
    cid = it->second.handle.container_id();
    cgroup = it->second.cgroup;
    oom_event = oom_.erase(cid) > 0;
  }
  // The kernel's count of OOM kills, before the cgroup goes with the task.
  bool oom = oom_event;
  if (!oom && cgroups_->enabled()) {
    auto u = cgroups_->Usage(cgroup);
    oom = u.ok() && u->oom_kills > 0;
  }
  ctrd::tasks::DeleteTaskRequest req;
  req.set_container_id(cid);
  ctrd::tasks::DeleteResponse resp;
  Status st;
  {
    auto ctx = client_->Context();
    st = client_->FromGrpc(client_->tasks().Delete(ctx.get(), req, &resp), "delete task " + cid);
  }
  if (!st.ok() && st.code() != StatusCode::kNotFound) {
    spdlog::warn("containerd driver: {}", st.ToString());
    return;  // tried again on the next look
  }
  // The shim flushed the output before the delete returned: what is in the
  // FIFOs is the end of it.
  std::string out_fifo, err_fifo;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end() || it->second.handle.container_id() != cid) return;
    out_fifo = it->second.stdout_fifo;
    err_fifo = it->second.stderr_fifo;
  }
  logs_->Close(out_fifo);
  logs_->Close(err_fifo);
  std::lock_guard lk(mu_);
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.handle.container_id() != cid) return;
  Task& t = it->second;
  TaskStatus& s = t.status;
  s.state = TaskStatus::State::kExited;
  t.collected = true;
  if (!st.ok()) {
    s.exit_known = false;
    s.exit_code = -1;
    s.finished_at_ms = options_.clock->NowMs();
    s.message =
        "the task of container " + cid + " was deleted by someone else; exit status unknown";
  } else {
    const int code = static_cast<int>(resp.exit_status());
    s.exit_known = true;
    s.exit_code = code;
    s.finished_at_ms = resp.has_exited_at() && resp.exited_at().seconds() > 0
                           ? TimestampMs(resp.exited_at())
                           : options_.clock->NowMs();
    if (oom) {
      s.oom_killed = true;
      s.signal = SIGKILL;
      s.exit_code = -1;
      s.message = "out of memory: killed for exceeding its memory limit";
      if (t.memory_mib > 0) s.message += " of " + std::to_string(t.memory_mib) + " MiB";
    } else if (s.stop_requested && code > 128 && code < 128 + 65) {
      s.signal = code - 128;
      s.exit_code = -1;
      s.message = std::string("killed by signal ") + strsignal(s.signal);
    }
  }
  auto level = s.stop_requested || (s.exit_known && s.exit_code == 0) ? spdlog::level::info
                                                                      : spdlog::level::warn;
  spdlog::log(level, "alloc {} task {}: container {} {}", ShortId(t.handle.alloc_id()),
              t.handle.task(), cid, DescribeExit(s));
}

bool ContainerdDriver::PollOnce(bool full, std::vector<std::string>* to_remove) {
  std::map<std::string, std::string> running;  // task id -> container id
  std::set<std::string> exited;
  std::vector<std::pair<std::string, std::string>> kill;  // due SIGKILLs
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lk(mu_);
    exited.swap(exited_);
    for (auto& [id, t] : tasks_) {
      if (t.status.running()) {
        running[id] = t.handle.container_id();
        if (t.status.stop_requested && t.kill_at != std::chrono::steady_clock::time_point{} &&
            now >= t.kill_at) {
          kill.emplace_back(id, t.handle.container_id());
          t.kill_at = {};
        }
      } else if (!t.removed) {
        to_remove->push_back(id);
      }
    }
  }
  for (const auto& [id, cid] : kill) {
    spdlog::info("task {}: the stop grace passed; SIGKILL", id);
    Status st = Kill(cid, SIGKILL, /*all=*/true);
    if (!st.ok() && st.code() != StatusCode::kNotFound)
      spdlog::warn("task {}: {}", id, st.ToString());
  }
  bool changed = false;
  for (const auto& [id, cid] : running) {
    if (!full && !exited.count(cid)) continue;
    ctrd::tasks::GetRequest req;
    req.set_container_id(cid);
    ctrd::tasks::GetResponse resp;
    auto ctx = client_->Context();
    Status st = client_->FromGrpc(client_->tasks().Get(ctx.get(), req, &resp), "task " + cid);
    if (st.ok() && Running(resp.process().status())) continue;
    if (!st.ok() && st.code() != StatusCode::kNotFound) continue;  // containerd away: later
    Collect(id);
    std::lock_guard lk(mu_);
    auto it = tasks_.find(id);
    if (it != tasks_.end() && !it->second.status.running()) {
      changed = true;
      to_remove->push_back(id);
    }
  }
  return changed;
}

void ContainerdDriver::MonitorLoop() {
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    bool full;
    {
      std::lock_guard lk(mu_);
      full = !events_connected_ || full_look_ || now - last_full_ >= options_.resync_interval;
      full_look_ = false;
    }
    if (full) last_full_ = now;
    std::vector<std::string> to_remove;
    bool changed = PollOnce(full, &to_remove);
    std::function<void()> cb;
    {
      std::lock_guard lk(mu_);
      cb = on_event_;
    }
    if (changed) {
      cv_.notify_all();  // Wait()ers
      if (cb) cb();
    }
    // After the news: the container and its snapshot go (the output is in
    // the files).
    for (const auto& id : to_remove) {
      std::string cid, cgroup;
      {
        std::lock_guard lk(mu_);
        auto it = tasks_.find(id);
        if (it == tasks_.end() || it->second.removed || it->second.status.running()) continue;
        cid = it->second.handle.container_id();
        cgroup = it->second.cgroup;
      }
      RemoveContainer(cid, cgroup);
      std::lock_guard lk(mu_);
      auto it = tasks_.find(id);
      if (it != tasks_.end() && it->second.handle.container_id() == cid) it->second.removed = true;
    }
    std::unique_lock lk(mu_);
    if (stopping_) break;
    auto interval = events_connected_ ? options_.resync_interval : options_.poll_interval;
    auto until = std::chrono::steady_clock::now() + interval;
    for (const auto& [id, t] : tasks_) {
      if (t.status.running() && t.kill_at != std::chrono::steady_clock::time_point{})
        until = std::min(until, t.kill_at);
    }
    cv_.wait_until(lk, until, [&] { return wake_ || stopping_.load(); });
    wake_ = false;
  }
}

void ContainerdDriver::EventsLoop() {
  while (!stopping_) {
    ctrd::events::SubscribeRequest req;
    const std::string ns = "namespace==\"" + options_.ns + "\"";
    req.add_filters(ns + ",topic==\"/tasks/exit\"");
    req.add_filters(ns + ",topic==\"/tasks/oom\"");
    auto ctx = client_->Context(std::chrono::milliseconds(0));
    {
      std::lock_guard lk(mu_);
      if (stopping_) break;
      events_ctx_ = ctx.get();
    }
    auto reader = client_->events().Subscribe(ctx.get(), req);
    // What happened before the subscription is found by a look at every
    // task (containerd sends no headers before the first event to wait for).
    if (!stopping_) {
      events_connected_ = true;
      std::lock_guard lk(mu_);
      full_look_ = wake_ = true;
      cv_.notify_all();
    }
    ctrd::events::Envelope env;
    while (reader->Read(&env)) {
      const std::string& type = env.event().type_url();
      std::string cid;
      bool oom = false;
      if (type.size() >= 8 && type.compare(type.size() - 8, 8, "TaskExit") == 0) {
        ::containerd::events::TaskExit e;
        // Only the task's own process (not an exec'd one).
        if (e.ParseFromString(env.event().value()) && e.id() == e.container_id())
          cid = e.container_id();
      } else if (type.size() >= 7 && type.compare(type.size() - 7, 7, "TaskOOM") == 0) {
        ::containerd::events::TaskOOM e;
        if (e.ParseFromString(env.event().value())) {
          cid = e.container_id();
          oom = true;
        }
      }
      if (cid.empty()) continue;
      std::lock_guard lk(mu_);
      (oom ? oom_ : exited_).insert(cid);
      wake_ = true;
      cv_.notify_all();
    }
    grpc::Status s = reader->Finish();
    events_connected_ = false;
    {
      std::lock_guard lk(mu_);
      events_ctx_ = nullptr;
      full_look_ = wake_ = true;
      cv_.notify_all();
    }
    if (stopping_) break;
    spdlog::warn("containerd driver: event stream: {}; looking every {} ms until it is back",
                 s.error_message(), options_.poll_interval.count());
    for (int i = 0; i < 10 && !stopping_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace orch::agent
