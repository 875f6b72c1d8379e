// A cluster's identity: a 64-bit id fixed when the cluster is founded and
// carried by every frame between its masters, so that a master drops frames
// of any other cluster (a stranger's, a stale member's of an older cluster on
// the same addresses, or founders that disagree on the membership). As in
// etcd, founders derive it independently from what they all agree on: the
// founding members (id and Raft address, in any order).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orch::raft {

// Never 0 (0 means "unknown"). Order-independent; a different member id or
// address gives a different cluster id.
uint64_t ClusterIdOf(std::vector<std::pair<std::string, std::string>> founders);

// 16 lowercase hex digits; "" for 0.
std::string FormatClusterId(uint64_t id);

// Inverse of FormatClusterId; false (and *id untouched) unless `text` is 16
// hex digits of a non-zero id.
bool ParseClusterId(std::string_view text, uint64_t* id);

}  // namespace orch::raft
