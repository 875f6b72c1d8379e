#include "agent/drivers/exec_driver.h"

#include <errno.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "agent/drivers/exec_chroot.h"
#include "agent/drivers/exec_launch.h"
#include "agent/drivers/procfs.h"
#include "common/ids.h"
#include "common/saturating.h"

namespace orch::agent {

namespace {

std::string PathFromEnv(const std::vector<std::pair<std::string, std::string>>& env) {
  for (const auto& [k, v] : env) {
    if (k == "PATH") return v;
  }
  return "/usr/local/bin:/usr/bin:/bin";
}

std::string Describe(const TaskStatus& s) {
  if (!s.exit_known) return "exit status unknown";
  if (s.signal != 0) return std::string("killed by signal ") + strsignal(s.signal);
  return "exited with code " + std::to_string(s.exit_code);
}

bool ValidName(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos;
}

// Wall-clock start of a process from its start time in ticks since boot.
int64_t StartedAtMs(uint64_t start_ticks) {
  std::ifstream in("/proc/stat");
  std::string key;
  int64_t btime = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> btime;
      break;
    }
  }
  return btime * 1000 + static_cast<int64_t>(start_ticks) * 1000 / ClockTicksPerSecond();
}

std::string ReadLink(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The chroot of a task (exec_chroot.h): the allowed host paths read-only,
// its directory and the allocation's shared one read-write, built in
// <task dir>.root (root's, beside the task's directory). The command must
// be inside, or the task could not start.
Status PlanChroot(const std::vector<std::string>& paths, const TaskSpec& spec,
                  const std::string& command, LaunchRequest* req) {
  req->chroot_root = spec.task_dir + ".root";
  req->chroot_read_only = paths;
  req->chroot_read_write = {spec.task_dir};
  for (const auto& [k, v] : spec.env) {
    if (k == "ORCH_ALLOC_DIR" && !v.empty()) req->chroot_read_write.push_back(v);
  }
  std::vector<std::string> all = req->chroot_read_write;
  all.push_back(req->chroot_root);
  for (const auto& p : all) {
    if (!shim::ChrootSpecPathsValid(p.c_str())) {
      return Status::InvalidArgument("task directory " + p +
                                     " cannot be part of a chroot (',' or '|' in it)");
    }
  }
  auto inside = [](const std::string& file, const std::string& dir) {
    return file.size() > dir.size() && file.compare(0, dir.size(), dir) == 0 &&
           file[dir.size()] == '/';
  };
  bool found = false;
  for (const auto& dir : paths) found |= inside(command, dir);
  for (const auto& dir : req->chroot_read_write) found |= inside(command, dir);
  if (!found) {
    std::string list;
    for (const auto& dir : paths) list += (list.empty() ? "" : ",") + dir;
    return Status::FailedPrecondition(
        "the command " + command +
        " is outside the task's chroot (orch-agent --exec-chroot-paths " + list +
        ", and the task's own directories)");
  }
  if (mkdir(req->chroot_root.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::Internal("cannot create " + req->chroot_root + ": " + strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

std::string ExecDriver::VolumePath(const TaskSpec::Mount& m) const {
  return options_.isolate && !options_.chroot_paths.empty() ? m.destination : m.source;
}

std::string FindExecShim() {
  if (const char* env = getenv("ORCH_EXEC_SHIM"); env != nullptr && env[0] != '\0') {
    return access(env, X_OK) == 0 ? env : "";
  }
  std::string self = ReadLink("/proc/self/exe");
  auto slash = self.rfind('/');
  if (slash == std::string::npos) return "";
  std::string p = self.substr(0, slash + 1) + "orch-exec-shim";
  return access(p.c_str(), X_OK) == 0 ? p : "";
}

ExecDriver::ExecDriver(ExecDriverOptions options)
    : options_(std::move(options)),
      cgroups_(Cgroups::Open(options_.cgroups)),
      shim_path_(options_.shim_path == "auto" ? FindExecShim() : options_.shim_path) {
  if (shim_path_.empty()) {
    spdlog::debug("exec driver: no orch-exec-shim, tasks are supervised by forks of this process");
  } else {
    spdlog::debug("exec driver: tasks are supervised by {}", shim_path_);
  }
  monitor_ = std::thread([this] { MonitorLoop(); });
}

ExecDriver::~ExecDriver() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  monitor_.join();
}

Result<pb::TaskHandle> ExecDriver::Start(const TaskSpec& spec) {
  std::string id = TaskId(spec.alloc_id, spec.task);
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(id);
    if (it != tasks_.end() && it->second.status.running()) {
      return Status::AlreadyExists("task " + id + " is already running (pid " +
                                   std::to_string(it->second.status.pid) + ")");
    }
  }
  if (!ValidName(spec.alloc_id) || !ValidName(spec.task)) {
    return Status::InvalidArgument("exec driver: bad task id \"" + id + "\"");
  }
  ORCH_ASSIGN_OR_RETURN(std::string path, ResolveCommand(spec.command, PathFromEnv(spec.env)));

  LaunchRequest req;
  req.path = path;
  req.argv.push_back(spec.command);
  req.argv.insert(req.argv.end(), spec.args.begin(), spec.args.end());
  for (const auto& [k, v] : spec.env) req.envp.push_back(k + "=" + v);
  req.cwd = spec.task_dir;
  req.stdout_path = spec.stdout_path;
  req.stderr_path = spec.stderr_path;
  // Next to the logs, outside the task's own directory.
  req.exit_file = spec.task_dir + ".exit";
  req.log_max_bytes = options_.log_max_bytes;
  req.log_max_files = options_.log_max_files;
  req.shim_path = shim_path_;
  if (!options_.isolate && !spec.user.empty()) {
    return Status::FailedPrecondition("task " + id + " asks for user \"" + spec.user +
                                      "\", but this agent does not isolate exec tasks "
                                      "(--exec-isolation=false): they run as the agent");
  }
  if (options_.isolate) {
    ORCH_ASSIGN_OR_RETURN(TaskIdentity who,
                          ResolveTaskIdentity(options_.users, spec.user, spec.cap_add));
    // Its directory is its own; the agent (root) keeps reading the logs
    // and exit record beside it.
    if (chown(spec.task_dir.c_str(), who.uid, who.gid) != 0 ||
        chmod(spec.task_dir.c_str(), 0700) != 0) {
      return Status::Internal("task " + id + ": cannot hand " + spec.task_dir + " to user " +
                              who.user + ": " + strerror(errno));
    }
    req.namespaces = true;
    req.set_identity = true;
    req.uid = who.uid;
    req.gid = who.gid;
    req.groups = who.groups;
    req.keep_caps = who.keep_caps;
    if (!options_.chroot_paths.empty())
      ORCH_RETURN_IF_ERROR(PlanChroot(options_.chroot_paths, spec, path, &req));
    // Volumes: at their destination in the chroot, else bound onto
    // themselves (read-only when asked) in the task's mount namespace.
    for (const auto& m : spec.mounts) {
      std::string dst = req.chroot_root.empty() ? m.source : m.destination;
      if (!shim::ChrootSpecPathsValid(m.source.c_str()) ||
          !shim::ChrootSpecPathsValid(dst.c_str())) {
        return Status::InvalidArgument(
            "task " + id + ": volume " + m.source + " -> " + dst +
            " cannot be mounted (',', '|' or '>' in it, or not absolute)");
      }
      req.volumes.push_back({m.source, dst, m.read_only});
    }
  }

  std::string cg;
  if (cgroups_->enabled()) {
    cg = cgroups_->TaskCgroup(spec.alloc_id, spec.task);
    // Never a second copy: processes in the group are a run this agent
    // lost track of (its records are gone): adopt it instead.
    if (auto pids = cgroups_->Pids(cg); pids.ok() && !pids->empty()) {
      if (auto found = DiscoverTask(spec.alloc_id, spec.task)) {
        ORCH_RETURN_IF_ERROR(Recover(*found));
        spdlog::info("alloc {} task {}: already running in cgroup {} (pid {}), adopted",
                     ShortId(spec.alloc_id), spec.task, cg, found->pid());
        return *found;
      }
      return Status::AlreadyExists("task " + id + " already runs in cgroup " + cg + " (pid " +
                                   std::to_string(pids->front()) + ")");
    }
    int64_t pids = options_.pids_limit;
    if (spec.pids_limit > 0 && (pids == 0 || spec.pids_limit < pids)) pids = spec.pids_limit;
    CgroupLimits limits{spec.cpu_millicores, SatMul(spec.memory_mib, 1024 * 1024), pids};
    if (Status st = cgroups_->Create(cg, limits); !st.ok()) {
      return st.WithContext("task " + id + ": cannot apply its limits");
    }
    req.cgroup_procs = cgroups_->ProcsFiles(cg);
  }
  auto launched_or = Launch(req);
  if (!launched_or.ok()) {
    if (!cg.empty()) (void)cgroups_->Destroy(cg);
    return launched_or.status();
  }
  LaunchResult launched = *launched_or;

  pb::TaskHandle h;
  h.set_driver(name());
  h.set_alloc_id(spec.alloc_id);
  h.set_task(spec.task);
  h.set_pid(launched.task_pid);
  h.set_shim_pid(launched.shim_pid);
  h.set_exit_file(req.exit_file);
  h.set_started_at_ms(options_.clock->NowMs());
  h.set_cgroup(cg);
  if (auto st = ReadProcStat(launched.task_pid); st.ok()) h.set_start_ticks(st->start_ticks);
  if (auto st = ReadProcStat(launched.shim_pid); st.ok()) h.set_shim_start_ticks(st->start_ticks);

  Task t;
  t.handle = h;
  t.shim_is_child = true;
  t.status.pid = launched.task_pid;
  t.status.started_at_ms = h.started_at_ms();
  t.logs = TaskLogFiles{spec.stdout_path, spec.stderr_path, options_.log_max_files};
  {
    std::lock_guard lk(mu_);
    tasks_[id] = std::move(t);
  }
  spdlog::info("alloc {} task {}: started pid {} ({}){}", ShortId(spec.alloc_id), spec.task,
               launched.task_pid, path, cg.empty() ? "" : " in cgroup " + cg);
  return h;
}

Status ExecDriver::Stop(const std::string& task_id, std::chrono::milliseconds kill_timeout) {
  std::lock_guard lk(mu_);
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return Status::NotFound("exec driver: no task " + task_id);
  Task& t = it->second;
  if (!t.status.running() || t.status.stop_requested) return Status::Ok();
  t.status.stop_requested = true;
  pid_t pid = t.handle.pid();
  // Signal only the process we started, never a recycled pid.
  if (!ProcessAlive(pid, t.handle.start_ticks())) return Status::Ok();
  int sig = kill_timeout.count() <= 0 ? SIGKILL : SIGTERM;
  if (kill(-pid, sig) != 0 && errno == ESRCH) kill(pid, sig);
  if (sig == SIGKILL) {
    t.killed = true;
  } else {
    t.kill_at = options_.clock->Steady() + kill_timeout;
  }
  spdlog::info("alloc {} task {}: sent {} to process group {}", ShortId(t.handle.alloc_id()),
               t.handle.task(), sig == SIGKILL ? "SIGKILL" : "SIGTERM", pid);
  cv_.notify_all();
  return Status::Ok();
}

Status ExecDriver::Signal(const std::string& task_id, int signal) {
  std::lock_guard lk(mu_);
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return Status::NotFound("exec driver: no task " + task_id);
  Task& t = it->second;
  pid_t pid = t.handle.pid();
  if (!t.status.running() || !ProcessAlive(pid, t.handle.start_ticks())) {
    return Status::FailedPrecondition("exec driver: task " + task_id + " is not running");
  }
  // The task's process group, as a terminal would (the task's own children too).
  if (kill(-pid, signal) != 0 && kill(pid, signal) != 0) {
    return Status::Internal("exec driver: signal " + std::to_string(signal) + " to " + std::to_string(pid) + ": " +
                            strerror(errno));
  }
  spdlog::info("alloc {} task {}: sent signal {} to process group {}", ShortId(t.handle.alloc_id()),
               t.handle.task(), signal, pid);
  return Status::Ok();
}

Result<TaskStatus> ExecDriver::Inspect(const std::string& task_id) {
  std::lock_guard lk(mu_);
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return Status::NotFound("exec driver: no task " + task_id);
  Poll(it->second);
  return it->second.status;
}

Status ExecDriver::Recover(const pb::TaskHandle& h) {
  if (h.pid() <= 0) return Status::InvalidArgument("task handle without a pid");
  std::string id = TaskId(h.alloc_id(), h.task());
  Task t;
  t.handle = h;
  t.status.pid = h.pid();
  t.status.started_at_ms = h.started_at_ms();
  t.logs = LogFilesFor(h.exit_file());
  // If this process started the shim (a driver restarted within the same
  // process), it is still our child and must be reaped by us.
  if (h.shim_pid() > 0) {
    int ws;
    pid_t r = waitpid(h.shim_pid(), &ws, WNOHANG);
    t.shim_is_child = r == 0;
  }
  std::lock_guard lk(mu_);
  tasks_[id] = std::move(t);
  Task& tr = tasks_[id];
  Poll(tr);
  if (tr.status.running()) {
    spdlog::info("alloc {} task {}: adopted running pid {}", ShortId(h.alloc_id()), h.task(),
                 h.pid());
  } else {
    spdlog::info("alloc {} task {}: {} while the agent was away", ShortId(h.alloc_id()), h.task(),
                 Describe(tr.status));
  }
  return Status::Ok();
}

Result<TaskStatus> ExecDriver::Wait(const std::string& task_id, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) return Status::NotFound("exec driver: no task " + task_id);
    Poll(it->second);
    if (!it->second.status.running() || stopping_) return it->second.status;
    if (cv_.wait_until(
            lk, std::min(deadline, std::chrono::steady_clock::now() + options_.poll_interval)) ==
            std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline)
      return tasks_.at(task_id).status;
  }
}

TaskLogFiles ExecDriver::LogFilesFor(const std::string& exit_file) const {
  // Start() puts the exit record at <task_dir>.exit next to the logs.
  std::string base = EndsWith(exit_file, ".exit") ? exit_file.substr(0, exit_file.size() - 5) : "";
  if (base.empty()) return {};
  return TaskLogFiles{base + ".stdout", base + ".stderr", options_.log_max_files};
}

std::optional<pb::TaskHandle> ExecDriver::DiscoverTask(const std::string& alloc,
                                                       const std::string& task) {
  std::string cg = cgroups_->TaskCgroup(alloc, task);
  auto pids = cgroups_->Pids(cg);
  if (!pids.ok() || pids->empty()) return std::nullopt;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(TaskId(alloc, task));
    if (it != tasks_.end() && it->second.status.running()) return it->second.handle;
  }
  // The task leads its own process group; its children share the group.
  pid_t leader = 0;
  for (pid_t p : *pids) {
    auto st = ReadProcStat(p);
    if (st.ok() && st->pgrp == p) {
      leader = p;
      break;
    }
  }
  if (leader == 0) leader = pids->front();
  auto st = ReadProcStat(leader);
  if (!st.ok()) return std::nullopt;
  pb::TaskHandle h;
  h.set_driver(name());
  h.set_alloc_id(alloc);
  h.set_task(task);
  h.set_pid(leader);
  h.set_start_ticks(st->start_ticks);
  h.set_started_at_ms(StartedAtMs(st->start_ticks));
  h.set_cgroup(cg);
  // Its parent (or, in its own namespaces, its init's parent) is the shim,
  // which holds the live stdout log open (fd 4); the exit record sits next
  // to it.
  pid_t parent = st->ppid;
  for (int hop = 0; hop < 2 && parent > 1; ++hop) {
    auto shim = ReadProcStat(parent);
    if (!shim.ok()) break;
    std::string log = ReadLink("/proc/" + std::to_string(parent) + "/fd/4");
    if (EndsWith(log, ".stdout")) {
      h.set_shim_pid(parent);
      h.set_shim_start_ticks(shim->start_ticks);
      h.set_exit_file(log.substr(0, log.size() - 7) + ".exit");
      h.set_stdout_path(log);
      break;
    }
    parent = shim->ppid;
  }
  return h;
}

std::vector<pb::TaskHandle> ExecDriver::Discover() {
  std::vector<pb::TaskHandle> out;
  if (!cgroups_->enabled()) return out;
  for (const auto& [alloc, task] : cgroups_->ListTasks()) {
    if (auto h = DiscoverTask(alloc, task)) out.push_back(std::move(*h));
  }
  return out;
}

Status ExecDriver::Logs(const std::string& task_id, const LogOptions& opts, const LogSink& sink) {
  TaskLogFiles files;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) return Status::NotFound("exec driver: no task " + task_id);
    files = it->second.logs;
  }
  if (files.stdout_path.empty()) {
    return Status::NotFound("exec driver: the log files of " + task_id + " are not known");
  }
  return StreamTaskLogs(files, opts, sink, [this, task_id] {
    auto st = Inspect(task_id);
    return st.ok() && st->running();
  });
}

std::vector<std::string> ExecDriver::List() {
  std::lock_guard lk(mu_);
  std::vector<std::string> out;
  for (const auto& [id, t] : tasks_) out.push_back(id);
  return out;
}

Result<TaskUsage> ExecDriver::Stats(const std::string& task_id) {
  pb::TaskHandle h;
  {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end()) return Status::NotFound("exec driver: no task " + task_id);
    if (!it->second.status.running()) {
      return Status::FailedPrecondition("task " + task_id + " is not running");
    }
    h = it->second.handle;
  }
  if (!h.cgroup().empty() && cgroups_->enabled()) {
    // The whole group: the task and every process it started.
    ORCH_ASSIGN_OR_RETURN(CgroupUsage cu, cgroups_->Usage(h.cgroup()));
    return TaskUsage{cu.cpu_time, cu.memory_bytes};
  }
  // The group leader only.
  ORCH_ASSIGN_OR_RETURN(ProcStat st, ReadProcStat(h.pid()));
  if (h.start_ticks() != 0 && st.start_ticks != h.start_ticks()) {
    return Status::NotFound("task " + task_id + " has exited");
  }
  TaskUsage u;
  int64_t ticks = static_cast<int64_t>(st.utime + st.stime);
  u.cpu_time = std::chrono::nanoseconds(ticks * 1'000'000'000 / ClockTicksPerSecond());
  auto rss = ReadRssBytes(h.pid());
  u.memory_bytes = rss.ok() ? *rss : 0;
  return u;
}

void ExecDriver::Forget(const std::string& task_id) {
  std::lock_guard lk(mu_);
  auto it = tasks_.find(task_id);
  if (it == tasks_.end() || it->second.status.running()) return;
  tasks_.erase(it);
}

void ExecDriver::SetEventCallback(std::function<void()> cb) {
  std::lock_guard lk(mu_);
  on_event_ = std::move(cb);
}

void ExecDriver::ReapShim(Task& t, bool block) {
  if (!t.shim_is_child) return;
  int ws;
  pid_t r;
  do {
    r = waitpid(t.handle.shim_pid(), &ws, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r != 0) t.shim_is_child = false;  // reaped, or not ours after all
}

bool ExecDriver::Poll(Task& t) {
  if (!t.status.running()) return false;
  auto record = ReadExitFile(t.handle.exit_file());
  bool exited = false;
  if (record.ok()) {
    exited = true;
    t.status.exit_known = true;
    t.status.exit_code = record->exit_code;
    t.status.signal = record->signal;
    t.status.finished_at_ms = record->finished_at_ms;
    ReapShim(t, /*block=*/true);  // it exits right after writing the record
  } else if (!ProcessAlive(t.handle.pid(), t.handle.start_ticks())) {
    // The task is gone. Its shim writes the record right after reaping it:
    // wait for the shim unless the shim is gone too.
    ReapShim(t, /*block=*/false);
    bool shim_alive =
        t.handle.shim_pid() > 0 && ProcessAlive(t.handle.shim_pid(), t.handle.shim_start_ticks());
    if (shim_alive) return false;
    record = ReadExitFile(t.handle.exit_file());  // it may have just been written
    exited = true;
    if (record.ok()) {
      t.status.exit_code = record->exit_code;
      t.status.signal = record->signal;
      t.status.finished_at_ms = record->finished_at_ms;
    } else {
      t.status.exit_known = false;
      t.status.exit_code = -1;
      t.status.finished_at_ms = options_.clock->NowMs();
      t.status.message =
          "the task exited while its supervisor was not running; exit status unknown";
    }
  } else {
    ReapShim(t, /*block=*/false);
    return false;
  }
  if (!exited) return false;
  t.status.state = TaskStatus::State::kExited;
  t.kill_at.reset();
  if (t.status.stop_requested) {
    // Leftovers of the task's process group (children that ignored TERM).
    kill(-t.handle.pid(), SIGKILL);
  }
  FinishCgroup(t);
  if (t.status.message.empty() && t.status.signal != 0) {
    t.status.message = std::string("killed by signal ") + strsignal(t.status.signal);
  }
  spdlog::debug("alloc {} task {}: pid {} {}", ShortId(t.handle.alloc_id()), t.handle.task(),
                t.handle.pid(), Describe(t.status));
  return true;
}

void ExecDriver::FinishCgroup(Task& t) {
  const std::string& cg = t.handle.cgroup();
  if (cg.empty() || !cgroups_->enabled()) return;
  auto usage = cgroups_->Usage(cg);
  bool clean = t.status.exit_known && t.status.exit_code == 0 && t.status.signal == 0;
  if (usage.ok() && usage->oom_kills > 0 && !clean) {
    t.status.oom_killed = true;
    auto limit = cgroups_->MemoryLimit(cg);
    t.status.message = "OOM killed: exceeded memory limit of " +
                       (limit.ok() && *limit > 0 ? std::to_string(*limit / (1024 * 1024)) : "?") +
                       " MiB";
    spdlog::warn("alloc {} task {}: {}", ShortId(t.handle.alloc_id()), t.handle.task(),
                 t.status.message);
  }
  if (Status st = cgroups_->Destroy(cg); !st.ok()) {
    spdlog::warn("alloc {} task {}: {}", ShortId(t.handle.alloc_id()), t.handle.task(),
                 st.ToString());
  }
}

void ExecDriver::MonitorLoop() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    bool changed = false;
    auto now = options_.clock->Steady();
    for (auto& [id, t] : tasks_) {
      if (Poll(t)) {
        changed = true;
        continue;
      }
      if (t.status.running() && t.kill_at && now >= *t.kill_at && !t.killed) {
        t.killed = true;
        if (ProcessAlive(t.handle.pid(), t.handle.start_ticks())) {
          spdlog::warn("alloc {} task {}: still running after the kill timeout, sending SIGKILL",
                       ShortId(t.handle.alloc_id()), t.handle.task());
          kill(-t.handle.pid(), SIGKILL);
        }
      }
    }
    if (changed && on_event_) {
      auto cb = on_event_;
      lk.unlock();
      cb();
      lk.lock();
      continue;
    }
    cv_.wait_for(lk, options_.poll_interval);
  }
}

}  // namespace orch::agent
