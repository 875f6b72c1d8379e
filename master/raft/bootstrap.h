// Bootstrap: the initial log of a brand-new cluster. Membership lives in
// the log from index 1 (one ADD_NODE per founding voter, all committed at
// term 1), so any node that later replays or receives the log from the
// start, including one added much later, learns the full membership
// history instead of relying on out-of-band peer lists.
// Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <vector>

#include "master/raft/storage.h"

namespace orch::raft {

struct BootstrapState {
  std::vector<Entry> entries;  // to append to an empty storage
  HardState hard_state;        // to persist with them
};

// REQUIRES: voters non-empty, no duplicates.
BootstrapState MakeBootstrapState(const std::vector<uint64_t>& voters);

}  // namespace orch::raft
