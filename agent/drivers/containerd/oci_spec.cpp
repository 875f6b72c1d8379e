#include "agent/drivers/containerd/oci_spec.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/capabilities.h"
#include "common/saturating.h"

namespace orch::agent {

namespace {

using nlohmann::json;

constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::optional<uint32_t> Number(const std::string& s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > 0xFFFFFFFEu) return std::nullopt;
  return static_cast<uint32_t>(v);
}

// Lines of an /etc/passwd or /etc/group file, split at ':'.
std::vector<std::vector<std::string>> Records(const std::string& text) {
  std::vector<std::vector<std::string>> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (;;) {
      std::size_t colon = line.find(':', start);
      fields.push_back(line.substr(start, colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    out.push_back(std::move(fields));
  }
  return out;
}

json Mount(const std::string& dest, const std::string& type, const std::string& source,
           std::vector<std::string> options) {
  return {{"destination", dest}, {"type", type}, {"source", source}, {"options", options}};
}

}  // namespace

Result<OciUser> ResolveOciUser(const std::string& user, const std::string& passwd,
                               const std::string& group) {
  OciUser out;
  if (user.empty()) return out;
  std::string name = user, grp;
  if (auto colon = user.find(':'); colon != std::string::npos) {
    name = user.substr(0, colon);
    grp = user.substr(colon + 1);
  }
  const auto users = Records(passwd);
  const auto groups = Records(group);
  std::string user_name;
  if (auto n = Number(name)) {
    out.uid = *n;
    out.gid = 0;  // unless the image's passwd says otherwise (as Docker)
    for (const auto& r : users) {
      if (r.size() >= 4 && Number(r[2]) == *n) {
        user_name = r[0];
        if (auto g = Number(r[3])) out.gid = *g;
        break;
      }
    }
  } else {
    bool found = false;
    for (const auto& r : users) {
      if (r.size() >= 4 && r[0] == name) {
        auto u = Number(r[2]);
        auto g = Number(r[3]);
        if (!u || !g) break;
        out.uid = *u;
        out.gid = *g;
        user_name = name;
        found = true;
        break;
      }
    }
    if (!found) return Status::NotFound("user \"" + name + "\" is not in the image's /etc/passwd");
  }
  if (!grp.empty()) {
    if (auto g = Number(grp)) {
      out.gid = *g;
    } else {
      bool found = false;
      for (const auto& r : groups) {
        if (r.size() >= 3 && r[0] == grp) {
          if (auto g2 = Number(r[2])) {
            out.gid = *g2;
            found = true;
          }
          break;
        }
      }
      if (!found) return Status::NotFound("group \"" + grp + "\" is not in the image's /etc/group");
    }
  }
  // Supplementary groups: those listing the user as a member.
  if (!user_name.empty()) {
    for (const auto& r : groups) {
      if (r.size() < 4) continue;
      auto g = Number(r[2]);
      if (!g || *g == out.gid) continue;
      std::istringstream members(r[3]);
      std::string m;
      while (std::getline(members, m, ',')) {
        if (m == user_name) {
          out.additional_gids.push_back(*g);
          break;
        }
      }
    }
  }
  return out;
}

Result<std::vector<std::string>> ProcessArgs(const TaskSpec& spec, const ImageRunConfig& image) {
  std::vector<std::string> argv;
  if (!spec.command.empty()) {
    argv.push_back(spec.command);
    argv.insert(argv.end(), spec.args.begin(), spec.args.end());
  } else {
    argv = image.entrypoint;
    if (!spec.args.empty()) {
      argv.insert(argv.end(), spec.args.begin(), spec.args.end());
    } else {
      argv.insert(argv.end(), image.cmd.begin(), image.cmd.end());
    }
  }
  if (argv.empty()) {
    return Status::InvalidArgument("task " + spec.task + ": image " + spec.image +
                                   " has no entrypoint or cmd and the task gives no command");
  }
  return argv;
}

Result<std::string> BuildOciSpec(const TaskSpec& spec, const ImageRunConfig& image,
                                 const OciUser& user, const OciSpecOptions& options) {
  ORCH_ASSIGN_OR_RETURN(std::vector<std::string> args, ProcessArgs(spec, image));
  // Environment: the image's, then the task's (PATH stays the image's: it
  // knows where its programs are).
  std::vector<std::string> env;
  std::map<std::string, std::size_t> at;
  auto put = [&](const std::string& k, const std::string& v) {
    auto it = at.find(k);
    if (it != at.end()) {
      env[it->second] = k + "=" + v;
    } else {
      at[k] = env.size();
      env.push_back(k + "=" + v);
    }
  };
  for (const auto& kv : image.env) {
    auto eq = kv.find('=');
    if (eq != std::string::npos && eq > 0) put(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (!at.count("PATH")) put("PATH", kDefaultPath);
  for (const auto& [k, v] : spec.env) {
    if (k != "PATH") put(k, v);
  }

  std::vector<std::string> caps;
  for (const auto& c : DefaultCapabilities()) caps.push_back("CAP_" + c);
  json user_json = {{"uid", user.uid}, {"gid", user.gid}};
  if (!user.additional_gids.empty()) user_json["additionalGids"] = user.additional_gids;
  json process = {
      {"terminal", false},
      {"user", user_json},
      {"args", args},
      {"env", env},
      {"cwd", image.working_dir.empty() ? "/" : image.working_dir},
      {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
      {"rlimits", json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
      {"noNewPrivileges", true}};

  json mounts = json::array(
      {Mount("/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}),
       Mount("/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}),
       Mount("/dev/pts", "devpts", "devpts",
             {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}),
       Mount("/dev/shm", "tmpfs", "shm", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
       Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
       Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
       Mount("/sys/fs/cgroup", "cgroup", "cgroup",
             {"nosuid", "noexec", "nodev", "relatime", "ro"})});
  if (options.host_network) {
    // The host's names and resolvers, as with Docker's host network.
    mounts.push_back(Mount("/etc/hosts", "bind", "/etc/hosts", {"rbind", "ro"}));
    mounts.push_back(Mount("/etc/resolv.conf", "bind", "/etc/resolv.conf", {"rbind", "ro"}));
  }
  for (const auto& m : spec.mounts) {
    mounts.push_back(Mount(m.destination, "bind", m.source, {"rbind", m.read_only ? "ro" : "rw"}));
  }

  json resources = {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}};
  if (spec.memory_mib > 0) {
    const int64_t bytes = SatMul(spec.memory_mib, int64_t{1024} * 1024);
    resources["memory"] = {{"limit", bytes}, {"swap", bytes}};  // over the limit: an OOM kill
  }
  if (spec.cpu_millicores > 0) {
    // 1000 millicores = 1024 shares (as the exec driver), and a hard cap of
    // that many CPUs per 100 ms period.
    const int64_t shares = std::max<int64_t>(2, SatMul(spec.cpu_millicores, 1024) / 1000);
    resources["cpu"] = {
        {"shares", shares}, {"quota", SatMul(spec.cpu_millicores, 100)}, {"period", 100000}};
  }
  if (spec.pids_limit > 0) resources["pids"] = {{"limit", spec.pids_limit}};

  json namespaces = json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "mount"}}});
  if (!options.host_network) {
    namespaces.push_back({{"type", "network"}});
    namespaces.push_back({{"type", "uts"}});
  }
  json linux = {{"resources", resources},
                {"cgroupsPath", options.cgroups_path},
                {"namespaces", namespaces},
                {"maskedPaths",
                 {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                  "/proc/scsi"}},
                {"readonlyPaths",
                 {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}};
  json spec_json = {{"ociVersion", "1.0.2-dev"},
                    {"process", process},
                    {"root", {{"path", "rootfs"}}},
                    {"mounts", mounts},
                    {"linux", linux}};
  if (!options.host_network && !options.hostname.empty()) spec_json["hostname"] = options.hostname;
  return spec_json.dump();
}

}  // namespace orch::agent
