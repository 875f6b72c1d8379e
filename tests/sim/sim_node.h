// One simulated machine: its "disk" (a MemoryStorage that survives
// crashes), the Raft node and state machine that a crash wipes, and the
// client requests waiting on it. Internal to the simulator.
// Thread-safety: none.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "master/raft/memory_storage.h"
#include "master/raft/raw_node.h"
#include "tests/sim/kv_state_machine.h"
#include "tests/sim/simulation.h"

namespace orch::sim {

using orch::raft::ConfState;
using orch::raft::MemoryStorage;
using orch::raft::RawNode;

struct Simulation::Node {
  uint64_t id = 0;
  std::unique_ptr<MemoryStorage> storage;  // "the disk": survives crashes
  std::unique_ptr<RawNode> raw;            // null while crashed
  KvStateMachine kv;
  ConfState conf;
  uint64_t applied = 0;
  uint64_t restart_at = 0;
  uint64_t seen_commit = 0;
  std::map<std::string, uint64_t> read_ctx;                  // awaiting a ReadState
  std::vector<std::pair<uint64_t, uint64_t>> waiting_reads;  // (index, op)
  std::set<uint64_t> writes;                                 // ops submitted here, awaiting apply
  bool snapshot_now = false;
  bool crash_after_vote = false;  // fault injection, see InjectFaults
};

}  // namespace orch::sim
