#include "common/capabilities.h"

#include <algorithm>
#include <cctype>

namespace orch {

namespace {

// Index = capability number (linux/capability.h).
constexpr std::string_view kNames[] = {"CHOWN",
                                       "DAC_OVERRIDE",
                                       "DAC_READ_SEARCH",
                                       "FOWNER",
                                       "FSETID",
                                       "KILL",
                                       "SETGID",
                                       "SETUID",
                                       "SETPCAP",
                                       "LINUX_IMMUTABLE",
                                       "NET_BIND_SERVICE",
                                       "NET_BROADCAST",
                                       "NET_ADMIN",
                                       "NET_RAW",
                                       "IPC_LOCK",
                                       "IPC_OWNER",
                                       "SYS_MODULE",
                                       "SYS_RAWIO",
                                       "SYS_CHROOT",
                                       "SYS_PTRACE",
                                       "SYS_PACCT",
                                       "SYS_ADMIN",
                                       "SYS_BOOT",
                                       "SYS_NICE",
                                       "SYS_RESOURCE",
                                       "SYS_TIME",
                                       "SYS_TTY_CONFIG",
                                       "MKNOD",
                                       "LEASE",
                                       "AUDIT_WRITE",
                                       "AUDIT_CONTROL",
                                       "SETFCAP",
                                       "MAC_OVERRIDE",
                                       "MAC_ADMIN",
                                       "SYSLOG",
                                       "WAKE_ALARM",
                                       "BLOCK_SUSPEND",
                                       "AUDIT_READ",
                                       "PERFMON",
                                       "BPF",
                                       "CHECKPOINT_RESTORE"};

}  // namespace

std::optional<int> CapabilityNumber(std::string_view name) {
  std::string up;
  up.reserve(name.size());
  for (char c : name) up.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  std::string_view n = up;
  if (n.substr(0, 4) == "CAP_") n.remove_prefix(4);
  for (int i = 0; i < CapabilityCount(); ++i) {
    if (kNames[i] == n) return i;
  }
  return std::nullopt;
}

std::string CapabilityName(int number) {
  return number >= 0 && number < CapabilityCount() ? std::string(kNames[number]) : "";
}

int CapabilityCount() { return static_cast<int>(std::size(kNames)); }

const std::vector<std::string>& DefaultCapabilities() {
  static const std::vector<std::string> kDefault = {
      "AUDIT_WRITE",      "CHOWN",   "DAC_OVERRIDE", "FOWNER", "FSETID",  "KILL",   "MKNOD",
      "NET_BIND_SERVICE", "NET_RAW", "SETFCAP",      "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"};
  return kDefault;
}

CapabilityMask CapabilitiesToMask(const std::vector<std::string>& names) {
  CapabilityMask out;
  for (const auto& n : names) {
    auto c = CapabilityNumber(n);
    if (!c) {
      out.unknown = n;
      return out;
    }
    out.mask |= uint64_t{1} << *c;
  }
  return out;
}

}  // namespace orch
