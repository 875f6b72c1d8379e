#include "agent/alloc_runner.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "agent/files.h"
#include "agent/health/health_monitor.h"
#include "agent/restart_policy.h"
#include "agent/task_env.h"
#include "common/ids.h"
#include "common/signals.h"

namespace orch::agent {

namespace {

// `call()` timed into the driver-call histogram (when counted).
template <typename F>
auto TimedCall(const RunnerContext& ctx, const std::string& driver, const char* call, F f) {
  const auto started = std::chrono::steady_clock::now();
  auto out = f();
  if (ctx.metrics && ctx.metrics->driver_calls) {
    ctx.metrics->driver_calls->With({driver.empty() ? "exec" : driver, call})
        .Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  return out;
}

using v1::Allocation;
using v1::TaskState;

std::chrono::milliseconds KillTimeout(const v1::Task& task) {
  auto ms = task.kill_timeout().seconds() * 1000 + task.kill_timeout().nanos() / 1'000'000;
  return std::chrono::milliseconds(ms > 0 ? ms : 5000);
}

bool Terminal(Allocation::ClientStatus s) {
  return s == Allocation::COMPLETE || s == Allocation::FAILED || s == Allocation::LOST;
}

void MarkFailedToStart(pb::TaskRecord* t, const std::string& why, int64_t now_ms) {
  TaskState* s = t->mutable_state();
  s->set_state(TaskState::DEAD);
  s->set_failed(true);
  s->set_exit_code(-1);
  s->set_finished_at_ms(now_ms);
  s->set_message("failed to start: " + why);
}

}  // namespace

std::string AllocRunner::AllocDir(const std::string& data_dir, const std::string& alloc_id) {
  return data_dir + "/allocs/" + alloc_id;
}

void AllocRunner::SetAlloc(const v1::Allocation& alloc) {
  if (rec_.started()) {
    v1::TaskGroup started_group = rec_.alloc().task_group();
    *rec_.mutable_alloc() = alloc;
    *rec_.mutable_alloc()->mutable_task_group() = std::move(started_group);
  } else {
    *rec_.mutable_alloc() = alloc;
  }
}

const v1::Task* AllocRunner::FindTask(const std::string& name) const {
  for (const auto& t : rec_.alloc().task_group().tasks()) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

TaskDriver* AllocRunner::DriverFor(const v1::Task& task, RunnerContext& ctx) const {
  auto it = ctx.drivers.find(task.driver().empty() ? "exec" : task.driver());
  return it == ctx.drivers.end() ? nullptr : it->second;
}

// Called when task `t` has just exited (not on request): decides by the
// restart policy whether it runs again, and when.
void AllocRunner::OnTaskExit(pb::TaskRecord& t, int64_t now_ms) {
  TaskState* s = t.mutable_state();
  bool clean = !s->failed();
  RestartPolicy policy = ResolveRestartPolicy(rec_.alloc().task_group(), rec_.alloc().job_type());
  std::vector<int64_t> times(t.restart_times_ms().begin(), t.restart_times_ms().end());
  RestartDecision d = DecideRestart(policy, times, clean, now_ms);
  switch (d.kind) {
    case RestartDecision::Kind::kDone:
      return;
    case RestartDecision::Kind::kRestart:
      s->set_state(TaskState::PENDING);
      s->set_failed(false);
      t.set_restart_at_ms(d.at_ms);
      s->set_message(s->message() + "; " + d.note);
      spdlog::info("alloc {} task {}: {}", ShortId(id()), t.name(), s->message());
      return;
    case RestartDecision::Kind::kFail:
      s->set_failed(true);
      if (!d.note.empty()) s->set_message(s->message() + "; " + d.note);
      spdlog::warn("alloc {} task {}: failed for good: {}", ShortId(id()), t.name(), s->message());
      return;
  }
}

// Starts again the tasks whose restart is due; a stopping allocation drops
// its pending restarts instead.
void AllocRunner::RestartDue(Want want, RunnerContext& ctx) {
  int64_t now = ctx.clock->NowMs();
  for (auto& t : *rec_.mutable_tasks()) {
    if (t.restart_at_ms() == 0) continue;
    if (want == Want::kStop || rec_.client_status() == Allocation::FAILED) {
      t.set_restart_at_ms(0);
      TaskState* s = t.mutable_state();
      s->set_state(TaskState::DEAD);
      s->set_message(s->message() + "; restart cancelled, the allocation is stopping");
      continue;
    }
    if (want != Want::kRun || now < t.restart_at_ms()) continue;
    const v1::Task* spec = FindTask(t.name());
    t.set_restart_at_ms(0);
    if (spec == nullptr) continue;
    // An operator's restart does not count against the restart policy.
    if (!t.operator_restart()) t.add_restart_times_ms(now);
    t.set_operator_restart(false);
    // Only the latest `attempts` restarts matter to the policy: the record
    // stays small however long the task keeps failing.
    int keep = std::max(1, ResolveRestartPolicy(rec_.alloc().task_group(), rec_.alloc().job_type()).attempts);
    auto* times = t.mutable_restart_times_ms();
    if (times->size() > keep) times->erase(times->begin(), times->begin() + (times->size() - keep));
    TaskState* s = t.mutable_state();
    s->set_restarts(s->restarts() + 1);
    if (ctx.metrics && ctx.metrics->restarts) ctx.metrics->restarts->Inc();
    std::string last_exit = s->message().substr(0, s->message().find("; "));
    spdlog::info("alloc {} task {}: restarting (restart {})", ShortId(id()), t.name(), s->restarts());
    StartTask(*spec, &t, ctx);
    if (s->state() == TaskState::RUNNING) {
      s->set_message("restarted " + std::to_string(s->restarts()) + "x; last: " + last_exit);
    }
  }
}

// Health of every task (from the monitor for tasks with a check) and the
// checks the monitor should run.
void AllocRunner::ApplyHealth(RunnerContext& ctx) {
  for (auto& t : *rec_.mutable_tasks()) {
    TaskState* s = t.mutable_state();
    const v1::Task* spec = FindTask(t.name());
    std::string key = TaskId(id(), t.name());
    bool running = s->state() == TaskState::RUNNING;
    bool has_check = spec != nullptr && spec->has_check() &&
                     spec->check().type() != v1::HealthCheck::TYPE_UNSPECIFIED;
    if (!has_check || ctx.health == nullptr) {
      s->set_healthy(running);
      continue;
    }
    if (!running) {
      ctx.health->Remove(key);
      s->set_healthy(false);
      if (!s->health_message().empty()) s->set_health_message("not running");
      continue;
    }
    health::CheckTarget target;
    target.check = spec->check();
    for (const auto& p : rec_.ports()) {
      if (p.name() == spec->check().port()) target.port = p.value();
    }
    target.generation = t.handle().started_at_ms() * 1000003LL + t.handle().pid();
    // After an agent restart the monitor is new: start from the recorded
    // verdict (StartTask clears it for a task that starts anew).
    target.initially_healthy = s->healthy();
    target.initial_message = s->health_message();
    target.cwd = AllocDir(ctx.data_dir, id()) + "/" + t.name();
    if (spec->check().type() == v1::HealthCheck::COMMAND) {
      std::vector<v1::Port> ports(rec_.ports().begin(), rec_.ports().end());
      TaskEnvInput in{id(),
                      rec_.alloc().job_id(),
                      rec_.alloc().group(),
                      AllocDir(ctx.data_dir, id()),
                      ports,
                      ctx.task_path,
                      {rec_.alloc().job_meta().begin(), rec_.alloc().job_meta().end()},
                      rec_.alloc().parent_job_id(),
                      {}};
      auto env = BuildTaskEnv(in, *spec);
      target.env.assign(env.begin(), env.end());
      target.task_pid = t.handle().pid();
    }
    ctx.health->Ensure(key, target);
    health::CheckStatus cs = ctx.health->Status(key);
    s->set_healthy(cs.known && cs.healthy);
    s->set_health_message(cs.message);
  }
}

bool AllocRunner::Healthy() const {
  if (rec_.client_status() != Allocation::RUNNING) return false;
  for (const auto& t : rec_.tasks()) {
    // A task that finished successfully does not make its allocation unhealthy.
    if (t.state().state() == TaskState::DEAD && !t.state().failed()) continue;
    if (t.state().state() != TaskState::RUNNING || !t.state().healthy()) return false;
  }
  return true;
}

void AllocRunner::Step(Want want, RunnerContext& ctx) {
  Refresh(ctx);
  if (want == Want::kRun && !rec_.started() && !Terminal(rec_.client_status())) {
    // A sticky ephemeral disk is taken over once its allocation stopped.
    if (WaitsForPrevious(ctx)) {
      waiting_for_ = "waiting for allocation " + ShortId(rec_.alloc().previous_allocation()) +
                     " to stop, to take over its ephemeral disk";
    } else if (std::string m = MigratesDisk(ctx); !m.empty()) {
      waiting_for_ = std::move(m);
    } else {
      waiting_for_.clear();
      StartTasks(ctx);
    }
  }
  if (want == Want::kRun && rec_.started()) {
    SignalRequested(ctx);
    RestartRequested(ctx);
  }
  if (want == Want::kStop || rec_.client_status() == Allocation::FAILED) {
    StopTasks(ctx, want == Want::kStop && rec_.client_status() != Allocation::FAILED);
  }
  RestartDue(want, ctx);
  ComputeStatus(want);
  // A task that failed in this very step leaves its siblings running: stop
  // them now rather than on the next pass.
  if (rec_.client_status() == Allocation::FAILED) {
    StopTasks(ctx, false);
    RestartDue(want, ctx);
  }
  ApplyHealth(ctx);
}

void AllocRunner::Refresh(RunnerContext& ctx) {
  for (auto& t : *rec_.mutable_tasks()) {
    if (t.state().state() != TaskState::RUNNING) continue;
    const v1::Task* spec = FindTask(t.name());
    TaskDriver* driver = spec ? DriverFor(*spec, ctx) : nullptr;
    if (driver == nullptr) continue;
    auto st = driver->Inspect(TaskId(id(), t.name()));
    TaskState* s = t.mutable_state();
    if (!st.ok()) {
      // The driver lost it (e.g. its handle could not be recovered).
      s->set_state(TaskState::DEAD);
      s->set_failed(!t.stop_requested());
      s->set_exit_code(-1);
      s->set_finished_at_ms(ctx.clock->NowMs());
      s->set_message("the driver no longer knows the task: " + st.status().message());
      continue;
    }
    if (st->running()) continue;
    s->set_state(TaskState::DEAD);
    s->set_exit_code(st->exit_code);
    s->set_signal(st->signal);
    s->set_finished_at_ms(st->finished_at_ms);
    bool clean = st->exit_known && st->exit_code == 0 && st->signal == 0;
    if (t.operator_restart()) {
      // Stopped to be restarted: no failure, and up again at once.
      s->set_failed(false);
      s->set_state(TaskState::PENDING);
      s->set_message("restarting at an operator's request");
      t.set_restart_at_ms(ctx.clock->NowMs());
      spdlog::info("alloc {} task {}: stopped for an operator's restart", ShortId(id()), t.name());
      continue;
    }
    s->set_failed(!t.stop_requested() && !clean);
    if (!st->exit_known) {
      s->set_message(st->message);
    } else if (st->signal != 0) {
      s->set_message(t.stop_requested() ? "stopped (" + st->message + ")" : st->message);
    } else {
      s->set_message("exited with code " + std::to_string(st->exit_code));
    }
    s->set_oom_killed(st->oom_killed);
    if (st->oom_killed) s->set_message(st->message);  // "OOM killed: exceeded memory limit of N MiB"
    if (st->oom_killed && ctx.metrics && ctx.metrics->oom_kills) ctx.metrics->oom_kills->Inc();
    if (s->failed()) {
      spdlog::warn("alloc {} task {}: {}", ShortId(id()), t.name(), s->message());
    } else {
      spdlog::info("alloc {} task {}: {}", ShortId(id()), t.name(), s->message());
    }
    if (!t.stop_requested()) OnTaskExit(t, ctx.clock->NowMs());
  }
}

namespace {

Status WritePayload(const std::string& task_dir, const std::string& file,
                    const std::string& payload) {
  std::string dir = task_dir + "/local";
  ORCH_RETURN_IF_ERROR(MakeDirs(dir));
  if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..") {
    return Status::InvalidArgument("dispatch_payload.file \"" + file + "\" is not a file name");
  }
  // Written atomically (a symlink planted there is replaced, not followed),
  // then readable by the task's user.
  std::string path = dir + "/" + file;
  ORCH_RETURN_IF_ERROR(WriteFileAtomic(path, payload));
  if (chmod(path.c_str(), 0644) != 0) {
    return Status::Internal("cannot make the dispatch payload " + path + " readable: " + strerror(errno));
  }
  return Status::Ok();
}

// A sticky ephemeral disk: the shared directory of the allocation replaced
// (when it was on this node) becomes this one's. Moved, not copied: the
// previous allocation has stopped.
void TakeOverSharedDir(const std::string& data_dir, const std::string& previous,
                       const std::string& alloc_id) {
  std::string from = AllocRunner::AllocDir(data_dir, previous) + "/_shared";
  std::string to = AllocRunner::AllocDir(data_dir, alloc_id) + "/_shared";
  struct stat st;
  if (!IsSafePathComponent(previous) || lstat(from.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return;
  if (Status s = MakeDirs(AllocRunner::AllocDir(data_dir, alloc_id)); !s.ok()) return;
  if (rename(from.c_str(), to.c_str()) != 0) {
    spdlog::warn("alloc {}: cannot take over the data of {}: {}", ShortId(alloc_id),
                 ShortId(previous), strerror(errno));
    return;
  }
  spdlog::info("alloc {}: took over the ephemeral disk of {}", ShortId(alloc_id),
               ShortId(previous));
}

// The group's ports with the values the masters assigned (Allocation.ports)
// pinned as static, so the agent uses them as is; a port the masters left
// at 0 is still picked here.
v1::Network MasterAssignedPorts(const v1::Network& net, const v1::Allocation& alloc) {
  v1::Network out = net;
  for (auto& p : *out.mutable_ports()) {
    for (const auto& a : alloc.ports()) {
      if (a.name() == p.name() && a.value() > 0) p.set_static_(a.value());
    }
  }
  return out;
}

}  // namespace

bool AllocRunner::WaitsForPrevious(const RunnerContext& ctx) const {
  const auto& alloc = rec_.alloc();
  return !alloc.previous_allocation().empty() && KeepsDisk(alloc.task_group()) &&
         ctx.alloc_running && ctx.alloc_running(alloc.previous_allocation());
}

std::string AllocRunner::MigratesDisk(RunnerContext& ctx) {
  const auto& alloc = rec_.alloc();
  const std::string& prev = alloc.previous_allocation();
  if (prev.empty() || !alloc.task_group().ephemeral_disk().migrate() || !ctx.migrate_disk ||
      !IsSafePathComponent(prev)) {
    return "";
  }
  // Its previous allocation ran here: taken over at start, nothing to fetch.
  struct stat st;
  if (lstat((AllocDir(ctx.data_dir, prev) + "/_shared").c_str(), &st) == 0) return "";
  MigrationPoll p = ctx.migrate_disk(alloc);
  if (!p.done) return p.message;
  if (!p.migrated) rec_.set_disk_note(p.message);
  return "";
}

void AllocRunner::StartTasks(RunnerContext& ctx) {
  const auto& alloc = rec_.alloc();
  const auto& group = alloc.task_group();
  if (!alloc.previous_allocation().empty() && KeepsDisk(group)) {
    TakeOverSharedDir(ctx.data_dir, alloc.previous_allocation(), id());
  }
  rec_.set_started(true);
  // A restart asked for before the start is done by the start itself.
  rec_.set_restart_index_done(alloc.restart_index());
  rec_.set_signal_index_done(alloc.signal_index());
  int64_t now = ctx.clock->NowMs();

  // Ports first: every task of the group sees the same PORT_* values.
  std::string setup_error;
  if (!IsSafePathComponent(id())) {
    setup_error = "allocation id is not usable as a directory name";
  } else if (auto ports = AssignPorts(MasterAssignedPorts(group.network(), alloc), ctx.used_ports);
             !ports.ok()) {
    setup_error = ports.status().message();
  } else {
    rec_.clear_ports();
    for (int i = 0; i < static_cast<int>(ports->size()); ++i) {
      v1::Port p = (*ports)[static_cast<size_t>(i)];
      if (i < group.network().ports_size()) p.set_static_(group.network().ports(i).static_());
      *rec_.add_ports() = p;
      ctx.used_ports.push_back(p.value());
    }
  }
  if (group.tasks().empty()) setup_error = "the task group has no tasks";

  for (const auto& task : group.tasks()) {
    pb::TaskRecord* t = rec_.add_tasks();
    t->set_name(task.name());
    t->mutable_state()->set_name(task.name());
    t->mutable_state()->set_state(TaskState::PENDING);
    if (!setup_error.empty()) {
      MarkFailedToStart(t, setup_error, now);
      continue;
    }
    StartTask(task, t, ctx);
  }
}

// Starts (or restarts) one task of the group; a failure to start marks the
// task failed with the cause.
void AllocRunner::StartTask(const v1::Task& task, pb::TaskRecord* t, RunnerContext& ctx) {
  const auto& alloc = rec_.alloc();
  int64_t now = ctx.clock->NowMs();
  std::string alloc_dir = AllocDir(ctx.data_dir, id());
  std::vector<v1::Port> ports(rec_.ports().begin(), rec_.ports().end());
  {
    TaskDriver* driver = DriverFor(task, ctx);
    if (driver == nullptr) {
      MarkFailedToStart(t, "driver \"" + task.driver() + "\" is not enabled on this node", now);
      return;
    }
    if (!IsSafePathComponent(task.name())) {
      MarkFailedToStart(t, "task name \"" + task.name() + "\" is not usable as a file name", now);
      return;
    }
    // Inside a container PORT_<name> is the port the task listens on there.
    std::vector<v1::Port> env_ports = ports;
    if (task.driver() == "docker") {
      for (auto& p : env_ports) {
        if (p.to() > 0) p.set_value(p.to());
      }
    }
    TaskEnvInput in{id(),
                    alloc.job_id(),
                    alloc.group(),
                    alloc_dir,
                    env_ports,
                    ctx.task_path,
                    {alloc.job_meta().begin(), alloc.job_meta().end()},
                    alloc.parent_job_id(),
                    {}};
    // The group's volumes this task mounts, as this node's directories.
    std::vector<TaskSpec::Mount> mounts;
    for (const auto& m : task.volume_mounts()) {
      auto gv = alloc.task_group().volumes().find(m.volume());
      if (gv == alloc.task_group().volumes().end()) {
        MarkFailedToStart(t, "volume \"" + m.volume() + "\" is not one of the group's", now);
        return;
      }
      auto hv = ctx.host_volumes.find(gv->second.source());
      if (hv == ctx.host_volumes.end()) {
        MarkFailedToStart(t, "host volume \"" + gv->second.source() + "\" is not on this node",
                          now);
        return;
      }
      TaskSpec::Mount mount{hv->second.path(), m.destination(),
                            m.read_only() || gv->second.read_only() || hv->second.read_only()};
      in.volumes[m.volume()] = driver->VolumePath(mount);
      mounts.push_back(std::move(mount));
    }
    auto env = BuildTaskEnv(in, task);
    TaskSpec spec;
    spec.mounts = std::move(mounts);
    spec.alloc_id = id();
    spec.task = task.name();
    spec.command = ExpandVars(task.command(), env);
    spec.args = ExpandArgs(task, env);
    spec.env.assign(env.begin(), env.end());
    spec.task_dir = alloc_dir + "/" + task.name();
    spec.stdout_path = spec.task_dir + ".stdout";
    spec.stderr_path = spec.task_dir + ".stderr";
    spec.cpu_millicores = task.resources().cpu();
    spec.memory_mib = task.resources().memory();
    spec.user = task.user();
    spec.cap_add.assign(task.cap_add().begin(), task.cap_add().end());
    spec.docker = task.docker();
    spec.pids_limit = task.pids_limit();
    spec.image = task.image();
    spec.job_id = alloc.job_id();
    spec.group = alloc.group();
    for (const auto& p : ports) {
      spec.ports.push_back({p.name(), p.value(), p.to() > 0 ? p.to() : p.value(),
                            p.protocol() == "udp" ? "udp" : "tcp"});
    }
    if (Status st = MakeDirs(spec.task_dir); !st.ok()) {
      MarkFailedToStart(t, st.message(), now);
      return;
    }
    if (task.has_dispatch_payload() && !alloc.payload().empty()) {
      // <task dir>/local/<file>, readable by the task's user.
      if (Status st = WritePayload(spec.task_dir, task.dispatch_payload().file(), alloc.payload());
          !st.ok()) {
        MarkFailedToStart(t, st.message(), now);
        return;
      }
    }
    // $ORCH_ALLOC_DIR: every task of the allocation, whatever its user, may
    // add files there and remove only its own.
    std::string shared = alloc_dir + "/_shared";
    if (Status st = MakeDirs(shared); !st.ok() || chmod(shared.c_str(), 01777) != 0) {
      MarkFailedToStart(t, "cannot make the allocation's shared directory " + shared, now);
      return;
    }
    // What a slow start is doing (an image pull) shows in the task's
    // message while it runs; the message before it comes back after.
    const std::string message_before = t->state().message();
    if (ctx.report_now) {
      spec.progress = [this, t, &ctx](const std::string& what) {
        t->mutable_state()->set_message(what);
        ctx.report_now(Update());
      };
    }
    auto handle = TimedCall(ctx, task.driver(), "start", [&] { return driver->Start(spec); });
    t->mutable_state()->set_message(message_before);
    if (!handle.ok()) {
      MarkFailedToStart(t, handle.status().message(), now);
      spdlog::warn("alloc {} task {}: {}", ShortId(id()), task.name(), t->state().message());
      return;
    }
    *t->mutable_handle() = *handle;
    TaskState* s = t->mutable_state();
    s->set_state(TaskState::RUNNING);
    s->set_failed(false);
    s->set_pid(handle->pid());
    s->set_started_at_ms(handle->started_at_ms());
    s->set_healthy(false);
    s->clear_health_message();
  }
}

void AllocRunner::RestartRequested(RunnerContext& ctx) {
  const v1::Allocation& a = rec_.alloc();
  if (a.restart_index() == 0 || a.restart_index() <= rec_.restart_index_done()) return;
  rec_.set_restart_index_done(a.restart_index());
  for (auto& t : *rec_.mutable_tasks()) {
    if (!a.restart_task().empty() && t.name() != a.restart_task()) continue;
    if (t.state().state() != TaskState::RUNNING || t.stop_requested() || t.operator_restart()) continue;
    const v1::Task* spec = FindTask(t.name());
    TaskDriver* driver = spec ? DriverFor(*spec, ctx) : nullptr;
    if (driver == nullptr) continue;
    t.set_operator_restart(true);
    spdlog::info("alloc {} task {}: restarting at an operator's request", ShortId(id()), t.name());
    Status st = TimedCall(ctx, spec->driver(), "stop",
                          [&] { return driver->Stop(TaskId(id(), t.name()), KillTimeout(*spec)); });
    if (!st.ok()) spdlog::warn("alloc {} task {}: stop for restart: {}", ShortId(id()), t.name(), st.ToString());
  }
}

void AllocRunner::SignalRequested(RunnerContext& ctx) {
  const v1::Allocation& a = rec_.alloc();
  if (a.signal_index() == 0 || a.signal_index() <= rec_.signal_index_done()) return;
  rec_.set_signal_index_done(a.signal_index());
  auto sig = SignalNumber(a.signal());
  if (!sig) {
    spdlog::warn("alloc {}: cannot send unknown signal {}", ShortId(id()), a.signal().substr(0, 32));
    return;
  }
  for (auto& t : *rec_.mutable_tasks()) {
    if (!a.signal_task().empty() && t.name() != a.signal_task()) continue;
    if (t.state().state() != TaskState::RUNNING || t.stop_requested()) continue;
    const v1::Task* spec = FindTask(t.name());
    TaskDriver* driver = spec ? DriverFor(*spec, ctx) : nullptr;
    if (driver == nullptr) continue;
    Status st = driver->Signal(TaskId(id(), t.name()), *sig);
    if (st.ok()) {
      spdlog::info("alloc {} task {}: sent {} at an operator's request", ShortId(id()), t.name(), a.signal());
    } else {
      spdlog::warn("alloc {} task {}: {}: {}", ShortId(id()), t.name(), a.signal(), st.ToString());
    }
  }
}

void AllocRunner::StopTasks(RunnerContext& ctx, bool graceful) {
  const int64_t now = ctx.clock->NowMs();
  if (graceful && stop_wanted_ms_ == 0) stop_wanted_ms_ = now;
  for (auto& t : *rec_.mutable_tasks()) {
    if (t.stop_requested()) continue;
    if (t.state().state() != TaskState::RUNNING) continue;
    const v1::Task* spec = FindTask(t.name());
    TaskDriver* driver = spec ? DriverFor(*spec, ctx) : nullptr;
    if (driver == nullptr) continue;
    const int64_t delay = spec->shutdown_delay().seconds() * 1000 + spec->shutdown_delay().nanos() / 1'000'000;
    if (graceful && delay > 0 && now < stop_wanted_ms_ + delay) continue;  // still draining
    t.set_stop_requested(true);
    spdlog::info("alloc {} task {}: stopping ({})", ShortId(id()), t.name(),
                 rec_.client_status() == Allocation::FAILED ? "a sibling task failed"
                                                            : "desired status is stop");
    Status st = TimedCall(ctx, spec->driver(), "stop",
                          [&] { return driver->Stop(TaskId(id(), t.name()), KillTimeout(*spec)); });
    if (!st.ok())
      spdlog::warn("alloc {} task {}: stop: {}", ShortId(id()), t.name(), st.ToString());
  }
}

void AllocRunner::ComputeStatus(Want want) {
  if (Terminal(rec_.client_status()) &&
      (rec_.client_status() != Allocation::COMPLETE || !rec_.started())) {
    return;
  }
  const auto& tasks = rec_.tasks();
  Allocation::ClientStatus status = Allocation::PENDING;
  std::string desc = "starting";
  int running = 0, dead_ok = 0, restarting = 0;
  const pb::TaskRecord* failed = nullptr;
  bool stopped = false;
  for (const auto& t : tasks) {
    if (t.state().failed() && failed == nullptr) failed = &t;
    if (t.state().state() == TaskState::RUNNING) ++running;
    if (t.restart_at_ms() != 0) ++restarting;
    if (t.state().state() == TaskState::DEAD && !t.state().failed()) ++dead_ok;
    stopped = stopped || t.stop_requested();
  }
  int n = tasks.size();
  if (failed != nullptr) {
    status = Allocation::FAILED;
    desc = "task " + failed->name() + ": " + failed->state().message();
  } else if (!rec_.started()) {
    if (want == Want::kStop) {
      status = Allocation::COMPLETE;
      desc = "stopped before it started";
    } else if (!waiting_for_.empty()) {
      desc = waiting_for_;
    }
  } else if (n > 0 && dead_ok == n) {
    status = Allocation::COMPLETE;
    desc = stopped ? "stopped as requested" : "all tasks exited successfully";
  } else if (n > 0 && running + dead_ok == n && running > 0) {
    status = Allocation::RUNNING;
    desc = want == Want::kStop ? "stopping" : running == n ? "all tasks running" : "tasks running";
  } else if (n > 0 && restarting > 0 && running + dead_ok + restarting == n) {
    // Waiting out a restart delay: still this allocation's work, running.
    status = Allocation::RUNNING;
    desc = "restarting " + std::to_string(restarting) + " task" + (restarting == 1 ? "" : "s");
  }
  if (!rec_.disk_note().empty() &&
      (status == Allocation::PENDING || status == Allocation::RUNNING)) {
    desc += "; " + rec_.disk_note();
  }
  if (status != rec_.client_status()) {
    spdlog::info("alloc {}: {} ({})", ShortId(id()), Allocation::ClientStatus_Name(status), desc);
  }
  rec_.set_client_status(status);
  rec_.set_client_description(desc);
}

v1::AllocationUpdate AllocRunner::Update() const {
  v1::AllocationUpdate u;
  u.set_id(id());
  u.set_client_status(rec_.client_status());
  u.set_client_description(rec_.client_description());
  for (const auto& t : rec_.tasks()) *u.add_task_states() = t.state();
  for (const auto& p : rec_.ports()) *u.add_ports() = p;
  u.set_healthy(Healthy());
  return u;
}

pb::TaskRecord* AllocRunner::MutableTask(const std::string& name) {
  for (auto& t : *rec_.mutable_tasks()) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

void AllocRunner::AdoptTask(const pb::TaskHandle& handle) {
  pb::TaskRecord* t = MutableTask(handle.task());
  if (t == nullptr) {
    t = rec_.add_tasks();
    t->set_name(handle.task());
    t->mutable_state()->set_name(handle.task());
  }
  *t->mutable_handle() = handle;
  t->set_stop_requested(false);
  t->set_restart_at_ms(0);
  TaskState* s = t->mutable_state();
  s->set_state(TaskState::RUNNING);
  s->set_failed(false);
  s->set_pid(handle.pid());
  s->set_started_at_ms(handle.started_at_ms());
  s->set_message("adopted: found running with no record");
  rec_.set_started(true);
}

bool AllocRunner::AllTasksDead() const {
  for (const auto& t : rec_.tasks()) {
    if (t.state().state() == TaskState::RUNNING) return false;
  }
  return true;
}

}  // namespace orch::agent
