// What the container drivers (docker, containerd) share about the tasks
// they track: a map from task id to a record holding a TaskStatus
// (`.status`), guarded by the driver's mutex, whose changes are announced
// on its condition variable.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "agent/drivers/driver.h"

namespace orch::agent {

// TaskDriver::Wait over such a map: the task's status once it exits (or the
// driver stops), else as it stands when `timeout` passes. `lk` holds the
// map's mutex.
template <typename Map>
Result<TaskStatus> WaitForExit(std::unique_lock<std::mutex>& lk, std::condition_variable& cv,
                               const Map& tasks, const std::string& task_id,
                               std::chrono::milliseconds timeout, const std::atomic<bool>& stopping,
                               const std::string& driver) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto it = tasks.find(task_id);
    if (it == tasks.end()) return Status::NotFound(driver + " driver: no task " + task_id);
    if (!it->second.status.running() || stopping) return it->second.status;
    if (cv.wait_until(lk, deadline) == std::cv_status::timeout) {
      it = tasks.find(task_id);
      if (it == tasks.end()) return Status::NotFound(driver + " driver: no task " + task_id);
      return it->second.status;
    }
  }
}

// A container runtime's name for a task: "orch-<alloc_id>-<task>", the
// characters docker and containerd refuse in names replaced by '_'.
inline std::string ContainerNameFor(const std::string& alloc_id, const std::string& task) {
  std::string name = "orch-" + alloc_id + "-" + task;
  for (char& c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) c = '_';
  }
  return name;
}

// How an exited task ended, in words for the log.
inline std::string DescribeExit(const TaskStatus& s) {
  if (!s.message.empty()) return s.message;
  return "exited with code " + std::to_string(s.exit_code);
}

// TaskDriver::List over such a map (the caller holds its mutex).
template <typename Map>
std::vector<std::string> TaskIds(const Map& tasks) {
  std::vector<std::string> out;
  out.reserve(tasks.size());
  for (const auto& [id, t] : tasks) out.push_back(id);
  return out;
}

}  // namespace orch::agent
