#include "agent/cgroups/cgroups.h"

#include <errno.h>
#include <libcgroup.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/saturating.h"

namespace orch::agent {

namespace {

constexpr long kCgroupV1Magic = 0x27e0eb;
constexpr long kCgroupV2Magic = 0x63677270;
constexpr int64_t kCfsPeriodUs = 100'000;

bool IsFsType(const std::string& path, long magic) {
  struct statfs fs;
  return statfs(path.c_str(), &fs) == 0 && static_cast<long>(fs.f_type) == magic;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

Result<std::string> ReadSmall(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path + ": " + strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Status WriteSmall(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  if (out) out << value;
  if (out) out.flush();
  if (!out) return Status::Internal("cannot write \"" + value + "\" to " + path);
  return Status::Ok();
}

// The value after `key` in a "key value" per line file (cpu.stat,
// memory.events, memory.oom_control); 0 when absent.
int64_t KeyedValue(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  int64_t v;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return 0;
}

std::string LibcgroupError(int rc) {
  std::string s = cgroup_strerror(rc);
  if (rc == ECGOTHER) s += std::string(": ") + strerror(cgroup_get_last_errno());
  return s;
}

std::string MountPoint(const char* controller) {
  char* mp = nullptr;
  if (cgroup_get_subsys_mount_point(controller, &mp) != 0 || mp == nullptr) return "";
  std::string s = mp;
  free(mp);
  return s;
}

std::atomic<bool> g_warned{false};

void WarnOnce(const std::string& why) {
  if (!g_warned.exchange(true)) {
    spdlog::warn("cgroups unavailable ({}): exec tasks run without cpu or memory limits", why);
  }
}

struct CgroupFree {
  void operator()(cgroup* cg) const { cgroup_free(&cg); }
};

}  // namespace

const char* CgroupModeName(CgroupMode m) {
  switch (m) {
    case CgroupMode::kV1:
      return "v1";
    case CgroupMode::kV2:
      return "v2";
    default:
      return "none";
  }
}

std::unique_ptr<Cgroups> Cgroups::Open(const CgroupOptions& options) {
  std::unique_ptr<Cgroups> cg(new Cgroups());
  std::string parent = options.parent;
  while (!parent.empty() && parent.front() == '/') parent.erase(parent.begin());
  while (!parent.empty() && parent.back() == '/') parent.pop_back();
  cg->parent_ = parent.empty() ? "orch" : parent;
  auto disable = [&](const std::string& why, bool warn = true) {
    cg->mode_ = CgroupMode::kNone;
    cg->disabled_reason_ = why;
    if (warn) WarnOnce(why);
    return std::move(cg);
  };
  const std::string& want = options.mode;
  if (want == "none") return disable("disabled by configuration", false);
  if (want != "auto" && want != "v1" && want != "v2") {
    return disable("unknown cgroup mode \"" + want + "\" (auto, v1, v2 or none)");
  }
  if (geteuid() != 0) return disable("the agent does not run as root");

  static std::once_flag init_once;
  static int init_rc = 0;
  std::call_once(init_once, [] { init_rc = cgroup_init(); });
  if (init_rc != 0) return disable("libcgroup: " + LibcgroupError(init_rc));

  std::string memory = MountPoint("memory");
  std::string cpu = MountPoint("cpu");
  if (memory.empty()) return disable("the memory controller is not mounted");
  if (cpu.empty()) return disable("the cpu controller is not mounted");
  CgroupMode detected = IsFsType(memory, kCgroupV2Magic)   ? CgroupMode::kV2
                        : IsFsType(memory, kCgroupV1Magic) ? CgroupMode::kV1
                                                           : CgroupMode::kNone;
  if (detected == CgroupMode::kNone) return disable(memory + " is not a cgroup file system");
  if (want == "v1" && detected != CgroupMode::kV1) {
    return disable("the memory controller is not on a cgroup v1 hierarchy");
  }
  if (want == "v2" && detected != CgroupMode::kV2) {
    return disable("the unified (v2) hierarchy does not hold the cpu and memory controllers");
  }
  if (detected == CgroupMode::kV1) {
    std::string cpuacct = MountPoint("cpuacct");
    if (cpuacct.empty()) return disable("the cpuacct controller is not mounted");
    if (!IsFsType(cpu, kCgroupV1Magic))
      return disable("cpu and memory are on different hierarchy versions");
    cg->cpuacct_mount_ = cpuacct;
    cg->memsw_ = FileExists(memory + "/memory.memsw.limit_in_bytes");
  } else {
    if (cpu != memory) return disable("cpu and memory are on different hierarchies");
    cg->cpuacct_mount_ = cpu;
  }
  cg->cpu_mount_ = cpu;
  cg->memory_mount_ = memory;
  cg->mode_ = detected;
  // Optional: without it tasks run without a pids limit.
  std::string pids = MountPoint("pids");
  if (!pids.empty() &&
      IsFsType(pids, detected == CgroupMode::kV1 ? kCgroupV1Magic : kCgroupV2Magic) &&
      (detected == CgroupMode::kV1 || pids == memory)) {
    cg->pids_mount_ = pids;
  }
  // The parent must be creatable (a read-only /sys/fs/cgroup in a container
  // is not).
  for (const auto& m : cg->Mounts()) {
    std::string p = m + "/" + cg->parent_;
    if (mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) {
      return disable("cannot create " + p + ": " + strerror(errno));
    }
    if (detected == CgroupMode::kV2) {
      (void)WriteSmall(m + "/cgroup.subtree_control", cg->SubtreeControl());
      (void)WriteSmall(p + "/cgroup.subtree_control", cg->SubtreeControl());
    }
  }
  spdlog::info("cgroups {}: tasks under {}/{} (cpu {}, memory {}, pids {})",
               CgroupModeName(detected), cg->memory_mount_, cg->parent_, cg->cpu_mount_,
               cg->memory_mount_, cg->pids_mount_.empty() ? "not available" : cg->pids_mount_);
  return cg;
}

std::string Cgroups::TaskCgroup(const std::string& alloc_id, const std::string& task) const {
  return parent_ + "/" + alloc_id + "/" + task;
}

std::string Cgroups::MountFor(const std::string& controller) const {
  if (controller == "memory") return memory_mount_;
  if (controller == "cpu") return cpu_mount_;
  if (controller == "cpuacct") return cpuacct_mount_;
  if (controller == "pids") return pids_mount_;
  return "";
}

std::string Cgroups::SubtreeControl() const {
  return pids_mount_.empty() ? "+cpu +memory" : "+cpu +memory +pids";
}

std::vector<std::string> Cgroups::Mounts() const {
  std::vector<std::string> out;
  for (const auto* m : {&cpu_mount_, &cpuacct_mount_, &memory_mount_, &pids_mount_}) {
    if (!m->empty() && std::find(out.begin(), out.end(), *m) == out.end()) out.push_back(*m);
  }
  return out;
}

std::string Cgroups::FilePath(const std::string& name, const std::string& controller,
                              const std::string& file) const {
  std::string m = MountFor(controller);
  return m.empty() ? "" : m + "/" + name + "/" + file;
}

Status Cgroups::Create(const std::string& name, const CgroupLimits& limits) {
  if (!enabled()) return Status::FailedPrecondition("cgroups are disabled: " + disabled_reason_);
  if (mode_ == CgroupMode::kV2) {
    // Each level must hand cpu and memory down to its children.
    const std::string& parts = name;
    size_t pos = 0;
    while ((pos = parts.find('/', pos + 1)) != std::string::npos) {
      std::string dir = memory_mount_ + "/" + parts.substr(0, pos);
      if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        return Status::Internal("cannot create " + dir + ": " + strerror(errno));
      }
      ORCH_RETURN_IF_ERROR(WriteSmall(dir + "/cgroup.subtree_control", SubtreeControl()));
    }
  }
  std::unique_ptr<cgroup, CgroupFree> cg(cgroup_new_cgroup(name.c_str()));
  if (!cg) return Status::Internal("libcgroup: cannot allocate cgroup " + name);
  cgroup_controller* cpu = cgroup_add_controller(cg.get(), "cpu");
  cgroup_controller* mem = cgroup_add_controller(cg.get(), "memory");
  if (cpu == nullptr || mem == nullptr)
    return Status::Internal("libcgroup: cannot add controllers");
  int64_t mc = limits.cpu_millicores;
  int64_t quota = mc > 0 ? std::max<int64_t>(1000, SatMul(mc, kCfsPeriodUs) / 1000) : -1;
  if (mode_ == CgroupMode::kV1) {
    if (cgroup_add_controller(cg.get(), "cpuacct") == nullptr && cpuacct_mount_ != cpu_mount_) {
      return Status::Internal("libcgroup: cannot add the cpuacct controller");
    }
    // The kernel caps shares at 262144.
    int64_t shares = mc > 0 ? std::clamp<int64_t>(SatMul(mc, 1024) / 1000, 2, 262144) : 1024;
    cgroup_add_value_string(cpu, "cpu.shares", std::to_string(shares).c_str());
    cgroup_add_value_string(cpu, "cpu.cfs_period_us", std::to_string(kCfsPeriodUs).c_str());
    cgroup_add_value_string(cpu, "cpu.cfs_quota_us", std::to_string(quota).c_str());
    std::string mem_limit = limits.memory_bytes > 0 ? std::to_string(limits.memory_bytes) : "-1";
    cgroup_add_value_string(mem, "memory.limit_in_bytes", mem_limit.c_str());
    // No swapping past the limit where swap is accounted.
    if (memsw_) cgroup_add_value_string(mem, "memory.memsw.limit_in_bytes", mem_limit.c_str());
  } else {
    // cpu.weight from the v1 shares, as runc and systemd map them.
    int64_t shares = mc > 0 ? std::clamp<int64_t>(SatMul(mc, 1024) / 1000, 2, 262144) : 1024;
    int64_t weight = std::clamp<int64_t>(1 + ((shares - 2) * 9999) / 262142, 1, 10000);
    std::string max =
        (quota > 0 ? std::to_string(quota) : "max") + " " + std::to_string(kCfsPeriodUs);
    cgroup_add_value_string(cpu, "cpu.weight", std::to_string(weight).c_str());
    cgroup_add_value_string(cpu, "cpu.max", max.c_str());
    std::string mem_limit = limits.memory_bytes > 0 ? std::to_string(limits.memory_bytes) : "max";
    cgroup_add_value_string(mem, "memory.max", mem_limit.c_str());
  }
  if (!pids_mount_.empty()) {
    cgroup_controller* pids = cgroup_add_controller(cg.get(), "pids");
    if (pids == nullptr) return Status::Internal("libcgroup: cannot add the pids controller");
    std::string max = limits.pids_max > 0 ? std::to_string(limits.pids_max) : "max";
    cgroup_add_value_string(pids, "pids.max", max.c_str());
  }
  // The allocation's group may vanish under us while its last other task's
  // group is removed (Destroy): try again.
  int rc = 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    rc = cgroup_create_cgroup(cg.get(), 0);
    if (rc == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (rc != 0) return Status::Internal("libcgroup: create " + name + ": " + LibcgroupError(rc));
  if (mode_ == CgroupMode::kV2 && limits.memory_bytes > 0) {
    std::string swap = FilePath(name, "memory", "memory.swap.max");
    if (FileExists(swap)) (void)WriteSmall(swap, "0");
  }
  return Status::Ok();
}

std::vector<std::string> Cgroups::ProcsFiles(const std::string& name) const {
  std::vector<std::string> out;
  if (!enabled()) return out;
  for (const auto& m : Mounts()) out.push_back(m + "/" + name + "/cgroup.procs");
  return out;
}

bool Cgroups::Exists(const std::string& name) const {
  return enabled() && FileExists(memory_mount_ + "/" + name);
}

Result<CgroupUsage> Cgroups::Usage(const std::string& name) const {
  if (!enabled()) return Status::FailedPrecondition("cgroups are disabled: " + disabled_reason_);
  CgroupUsage u;
  if (mode_ == CgroupMode::kV1) {
    ORCH_ASSIGN_OR_RETURN(std::string cpu, ReadSmall(FilePath(name, "cpuacct", "cpuacct.usage")));
    u.cpu_time = std::chrono::nanoseconds(std::stoll(cpu));
    ORCH_ASSIGN_OR_RETURN(std::string mem,
                          ReadSmall(FilePath(name, "memory", "memory.usage_in_bytes")));
    u.memory_bytes = std::stoll(mem);
    auto oom = ReadSmall(FilePath(name, "memory", "memory.oom_control"));
    if (oom.ok()) u.oom_kills = KeyedValue(*oom, "oom_kill");
  } else {
    ORCH_ASSIGN_OR_RETURN(std::string cpu, ReadSmall(FilePath(name, "cpu", "cpu.stat")));
    u.cpu_time = std::chrono::microseconds(KeyedValue(cpu, "usage_usec"));
    ORCH_ASSIGN_OR_RETURN(std::string mem, ReadSmall(FilePath(name, "memory", "memory.current")));
    u.memory_bytes = std::stoll(mem);
    auto ev = ReadSmall(FilePath(name, "memory", "memory.events"));
    if (ev.ok()) u.oom_kills = KeyedValue(*ev, "oom_kill");
  }
  return u;
}

Result<int64_t> Cgroups::MemoryLimit(const std::string& name) const {
  if (!enabled()) return Status::FailedPrecondition("cgroups are disabled: " + disabled_reason_);
  bool v1 = mode_ == CgroupMode::kV1;
  ORCH_ASSIGN_OR_RETURN(
      std::string text,
      ReadSmall(FilePath(name, "memory", v1 ? "memory.limit_in_bytes" : "memory.max")));
  if (text.rfind("max", 0) == 0) return int64_t{0};
  int64_t v = std::stoll(text);
  // v1 reports "no limit" as a huge page-aligned number.
  return v >= (int64_t{1} << 62) ? 0 : v;
}

Result<std::vector<pid_t>> Cgroups::Pids(const std::string& name) const {
  if (!enabled()) return Status::FailedPrecondition("cgroups are disabled: " + disabled_reason_);
  ORCH_ASSIGN_OR_RETURN(std::string text, ReadSmall(FilePath(name, "memory", "cgroup.procs")));
  std::vector<pid_t> out;
  std::istringstream in(text);
  pid_t p;
  while (in >> p) out.push_back(p);
  return out;
}

Status Cgroups::Destroy(const std::string& name) {
  if (!enabled()) return Status::Ok();
  std::vector<std::string> dirs;
  for (const auto& m : Mounts()) dirs.push_back(m + "/" + name);
  // The kernel refuses to remove a group while processes are in it: kill
  // the leftovers (children the task left behind) and retry for a while.
  for (int attempt = 0;; ++attempt) {
    bool busy = false;
    for (const auto& m : Mounts()) {
      auto text = ReadSmall(m + "/" + name + "/cgroup.procs");
      if (!text.ok()) continue;
      std::istringstream in(*text);
      pid_t p;
      while (in >> p) {
        kill(p, SIGKILL);
        busy = true;
      }
    }
    std::string err;
    for (const auto& d : dirs) {
      if (rmdir(d.c_str()) != 0 && errno != ENOENT) {
        busy = true;
        err = d + ": " + strerror(errno);
      }
    }
    if (!busy) break;
    if (attempt >= 100) return Status::Internal("cannot remove cgroup " + err);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // The allocation's group goes with its last task.
  auto slash = name.rfind('/');
  if (slash != std::string::npos && name.substr(0, slash) != parent_) {
    for (const auto& m : Mounts()) rmdir((m + "/" + name.substr(0, slash)).c_str());
  }
  return Status::Ok();
}

std::vector<std::pair<std::string, std::string>> Cgroups::ListTasks() const {
  std::vector<std::pair<std::string, std::string>> out;
  if (!enabled()) return out;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path root = fs::path(memory_mount_) / parent_;
  for (const auto& alloc : fs::directory_iterator(root, ec)) {
    if (!alloc.is_directory(ec)) continue;
    std::error_code ec2;
    for (const auto& task : fs::directory_iterator(alloc.path(), ec2)) {
      if (!task.is_directory(ec2)) continue;
      out.emplace_back(alloc.path().filename().string(), task.path().filename().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace orch::agent
