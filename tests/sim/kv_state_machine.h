// The simulator's replicated state machine: a map of registers, with the
// ids of applied writes remembered so a command that reaches the log twice
// (a duplicated forwarded proposal) takes effect once, as client sessions
// would ensure in a real service.
// Thread-safety: none; one per simulated node.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace orch::sim {

struct KvCommand {
  uint64_t op_id = 0;
  std::string key;
  std::string value;

  std::string Encode() const;
  static std::optional<KvCommand> Decode(const std::string& data);
};

class KvStateMachine {
 public:
  // Returns true if the command took effect (false: duplicate).
  bool Apply(const KvCommand& cmd);
  std::string Get(const std::string& key) const;
  bool Applied(uint64_t op_id) const { return applied_ops_.count(op_id) != 0; }

  std::string Serialize() const;
  static std::optional<KvStateMachine> Deserialize(const std::string& data);
  bool operator==(const KvStateMachine&) const = default;

 private:
  std::map<std::string, std::string> kv_;
  std::set<uint64_t> applied_ops_;
};

}  // namespace orch::sim
