// A Wing–Gong linearizability checker (with Lowe's memoization, as in
// Porcupine) for a key-value store of registers: each key is checked on
// its own, since registers compose. Operations that never returned are
// given an infinite return time, i.e. they may take effect at any point
// after their invocation, or (for a write) never visibly.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace orch::sim {

inline constexpr uint64_t kNeverReturned = UINT64_MAX;

struct Operation {
  uint64_t id = 0;
  bool is_write = false;
  std::string key;
  std::string value;  // written, or observed by a read ("" = never written)
  uint64_t call = 0;  // logical time of invocation (unique across events)
  uint64_t ret = kNeverReturned;
};

struct LinearizabilityResult {
  bool ok = true;
  bool gave_up = false;  // search budget exhausted: result unknown
  std::string bad_key;   // not linearizable, or (gave_up) the first key given up on
};

// Checks one register's history (all ops on one key). Reads must have
// returned. Returns false if no linearization exists.
bool CheckRegister(const std::vector<Operation>& ops, uint64_t budget, bool* gave_up);

// Checks every key of a KV history independently.
LinearizabilityResult CheckKvHistory(const std::vector<Operation>& ops,
                                     uint64_t budget_per_key = 5'000'000);

}  // namespace orch::sim
