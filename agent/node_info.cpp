#include "agent/node_info.h"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/files.h"
#include "common/ids.h"

namespace orch::agent {

Result<std::string> LoadOrCreateNodeId(const std::string& data_dir) {
  std::string path = data_dir + "/node-id";
  auto text = ReadFile(path);
  if (text.ok()) {
    std::string id = *text;
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    if (id.empty())
      return Status::FailedPrecondition(path + " is empty; remove it to get a new identity");
    return id;
  }
  ORCH_RETURN_IF_ERROR(MakeDirs(data_dir));
  std::string id = NewUuid();
  ORCH_RETURN_IF_ERROR(WriteFileAtomic(path, id + "\n"));
  return id;
}

Result<std::string> LoadOrCreateNodeSecret(const std::string& data_dir) {
  std::string path = data_dir + "/node-secret";
  auto text = ReadFile(path);
  if (text.ok()) {
    std::string s = *text;
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    if (s.empty()) return Status::FailedPrecondition(path + " is empty; remove it and node-id to get a new identity");
    return s;
  }
  ORCH_RETURN_IF_ERROR(MakeDirs(data_dir));
  // Created 0600 from the start: never readable by others, even briefly.
  std::string s = NewSecret();
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Internal("cannot create " + tmp + ": " + std::strerror(errno));
  std::string line = s + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) return Status::Internal("cannot write " + path);
  return s;
}

v1::Resources DetectCapacity() {
  v1::Resources r;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  r.set_cpu((cpus > 0 ? cpus : 1) * 1000);
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemTotal:", 0) == 0) {
      std::istringstream s(line.substr(9));
      int64_t kb = 0;
      s >> kb;
      r.set_memory(kb / 1024);
      break;
    }
  }
  return r;
}

int64_t DetectCpuMhz() {
  // The rated maximum where cpufreq says it (kHz), else the current clock
  // /proc/cpuinfo shows (virtual machines have no cpufreq).
  std::ifstream freq("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq");
  int64_t khz = 0;
  if (freq >> khz && khz > 0) return khz / 1000;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("cpu MHz", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        try {
          return static_cast<int64_t>(std::stod(line.substr(colon + 1)));
        } catch (...) {
          return 0;
        }
      }
    }
  }
  return 0;
}

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

int64_t FreeDiskMiB(const std::string& dir) {
  struct statvfs fs;
  if (dir.empty() || statvfs(dir.c_str(), &fs) != 0) return 0;
  return static_cast<int64_t>(static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize >> 20);
}

v1::Node DescribeNode(const AgentConfig& cfg, const std::string& node_id,
                      const std::string& address, const std::vector<std::string>& drivers) {
  v1::Node n;
  n.set_id(node_id);
  n.set_name(cfg.name.empty() ? Hostname() : cfg.name);
  n.set_address(address);
  auto* a = n.mutable_attributes();
  a->set_os("linux");
  struct utsname u;
  if (uname(&u) == 0) {
    a->set_arch(u.machine);
    a->set_kernel(u.release);
  }
  for (const auto& d : drivers) a->add_drivers(d);
  for (const auto& [k, v] : cfg.labels) (*a->mutable_labels())[k] = v;
  for (const auto& [name, v] : cfg.host_volumes) {
    v1::HostVolume& hv = (*a->mutable_host_volumes())[name];
    hv.set_path(v.path);
    hv.set_read_only(v.read_only);
  }
  v1::Resources detected = DetectCapacity();
  a->set_cpu_cores(static_cast<int32_t>(detected.cpu() / 1000));
  a->set_cpu_mhz(DetectCpuMhz());
  a->set_memory_mib(detected.memory());
  a->set_hostname(Hostname());
  n.mutable_capacity()->set_cpu(cfg.cpu > 0 ? cfg.cpu : detected.cpu());
  n.mutable_capacity()->set_memory(cfg.memory > 0 ? cfg.memory : detected.memory());
  n.mutable_capacity()->set_disk(cfg.disk > 0 ? cfg.disk : FreeDiskMiB(cfg.data_dir));
  n.set_status(v1::Node::READY);
  if (auto range = ParseDynamicPorts(cfg.dynamic_ports)) {
    n.set_port_range_min(range->first);
    n.set_port_range_max(range->second);
  }
  return n;
}

}  // namespace orch::agent
