#include "master/raft/cluster_id.h"

#include <algorithm>
#include <cstdio>

namespace orch::raft {

uint64_t ClusterIdOf(std::vector<std::pair<std::string, std::string>> founders) {
  std::sort(founders.begin(), founders.end());
  // FNV-1a over "id=address\n" per member: stable across builds and hosts.
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  for (const auto& [id, address] : founders) {
    mix(id);
    mix("=");
    mix(address);
    mix("\n");
  }
  return h == 0 ? 1 : h;
}

std::string FormatClusterId(uint64_t id) {
  if (id == 0) return "";
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

bool ParseClusterId(std::string_view text, uint64_t* id) {
  if (text.size() != 16) return false;
  uint64_t v = 0;
  for (char c : text) {
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d < 0) return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  if (v == 0) return false;
  *id = v;
  return true;
}

}  // namespace orch::raft
