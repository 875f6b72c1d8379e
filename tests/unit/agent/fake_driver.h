// FakeDriver: an in-memory TaskDriver for reconciler tests. Tasks "run"
// until the test makes them exit; Stop exits them by SIGTERM at once unless
// told otherwise.
#pragma once

#include <signal.h>

#include <map>
#include <mutex>

#include "agent/drivers/driver.h"

namespace orch::agent::testing {

class FakeDriver : public TaskDriver {
 public:
  std::string name() const override { return "exec"; }
  std::vector<std::string> progress;  // said through TaskSpec::progress by each Start

  Result<pb::TaskHandle> Start(const TaskSpec& spec) override {
    std::lock_guard lk(mu_);
    starts++;
    last_specs[spec.task] = spec;
    // What a slow start (an image pull) would say while it runs.
    if (spec.progress) {
      for (const auto& p : progress) spec.progress(p);
    }
    if (spec.command == "fail-to-start")
      return Status::NotFound("command fail-to-start: no such file");
    // Like the real drivers: a run that is already there (same container
    // name / cgroup) is adopted, not started twice.
    if (auto o = orphans_.find(TaskId(spec.alloc_id, spec.task)); o != orphans_.end()) {
      starts--;
      adoptions++;
      pb::TaskHandle h = o->second;
      TaskStatus st;
      st.pid = h.pid();
      st.started_at_ms = h.started_at_ms();
      tasks_[o->first] = st;
      orphans_.erase(o);
      return h;
    }
    TaskStatus st;
    st.pid = next_pid_++;
    st.started_at_ms = 1000;
    std::string id = TaskId(spec.alloc_id, spec.task);
    tasks_[id] = st;
    pb::TaskHandle h;
    h.set_driver("exec");
    h.set_alloc_id(spec.alloc_id);
    h.set_task(spec.task);
    h.set_pid(st.pid);
    h.set_started_at_ms(st.started_at_ms);
    return h;
  }
  Status Stop(const std::string& id, std::chrono::milliseconds) override {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return Status::NotFound(id);
    stops++;
    it->second.stop_requested = true;
    if (exit_on_stop && it->second.running()) Exit(it->second, -1, SIGTERM);
    return Status::Ok();
  }
  Result<TaskStatus> Inspect(const std::string& id) override {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return Status::NotFound(id);
    return it->second;
  }
  Status Recover(const pb::TaskHandle& h) override {
    std::lock_guard lk(mu_);
    recovers++;
    bool was_orphan = orphans_.erase(TaskId(h.alloc_id(), h.task())) > 0;
    TaskStatus st;
    st.pid = h.pid();
    st.started_at_ms = h.started_at_ms();
    if (was_orphan && exit_recovered_orphans) Exit(st, 0, 0);
    tasks_[TaskId(h.alloc_id(), h.task())] = st;
    return Status::Ok();
  }
  Result<TaskStatus> Wait(const std::string& id, std::chrono::milliseconds) override {
    return Inspect(id);
  }
  // The tracked tasks plus the orphans (AddOrphan), as a runtime lists them.
  std::vector<pb::TaskHandle> Discover() override {
    std::lock_guard lk(mu_);
    discovers++;
    std::vector<pb::TaskHandle> out;
    for (const auto& [id, t] : tasks_) {
      if (!t.running()) continue;
      pb::TaskHandle h;
      h.set_driver("exec");
      h.set_alloc_id(id.substr(0, id.find('/')));
      h.set_task(id.substr(id.find('/') + 1));
      h.set_pid(t.pid);
      out.push_back(h);
    }
    for (const auto& [id, h] : orphans_) out.push_back(h);
    return out;
  }
  Status Logs(const std::string&, const LogOptions&, const LogSink&) override {
    return Status::FailedPrecondition("fake driver has no logs");
  }
  std::vector<std::string> List() override {
    std::lock_guard lk(mu_);
    std::vector<std::string> out;
    for (auto& [id, t] : tasks_) out.push_back(id);
    return out;
  }
  Result<TaskUsage> Stats(const std::string&) override { return TaskUsage{}; }
  void Forget(const std::string& id) override {
    std::lock_guard lk(mu_);
    forgets++;
    tasks_.erase(id);
  }
  void SetEventCallback(std::function<void()>) override {}

  // Test controls.
  void ExitTask(const std::string& id, int code) {
    std::lock_guard lk(mu_);
    Exit(tasks_.at(id), code, 0);
  }
  // A task running in the runtime that this driver does not track (an
  // earlier agent started it and died before recording it).
  // `stdout_path` says whose it is (empty: unknown).
  void AddOrphan(const std::string& alloc_id, const std::string& task, int pid,
                 const std::string& stdout_path = "") {
    std::lock_guard lk(mu_);
    pb::TaskHandle h;
    h.set_driver("exec");
    h.set_alloc_id(alloc_id);
    h.set_task(task);
    h.set_pid(pid);
    h.set_started_at_ms(500);
    h.set_stdout_path(stdout_path);
    orphans_[TaskId(alloc_id, task)] = h;
  }
  bool Running(const std::string& id) {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(id);
    return it != tasks_.end() && it->second.running();
  }
  bool StopRequested(const std::string& id) {
    std::lock_guard lk(mu_);
    auto it = tasks_.find(id);
    return it != tasks_.end() && it->second.stop_requested;
  }

  int starts = 0, stops = 0, recovers = 0, forgets = 0, adoptions = 0, discovers = 0;
  bool exit_on_stop = true;
  bool exit_recovered_orphans = false;  // orphans found have already exited
  std::map<std::string, TaskSpec> last_specs;

 private:
  static void Exit(TaskStatus& t, int code, int sig) {
    t.state = TaskStatus::State::kExited;
    t.exit_code = code;
    t.signal = sig;
    t.finished_at_ms = 2000;
    if (sig != 0) t.message = "killed by signal " + std::to_string(sig);
  }
  std::mutex mu_;
  std::map<std::string, TaskStatus> tasks_;
  std::map<std::string, pb::TaskHandle> orphans_;  // task id -> handle
  int next_pid_ = 100;
};

}  // namespace orch::agent::testing
