// Linux capability names ("NET_BIND_SERVICE", with or without the "CAP_"
// prefix, any case) and the sets orch uses: masters validate a task's
// `cap_add` with it, the exec driver turns names into the bit mask a task
// keeps.
// Thread safety: stateless functions over constant tables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orch {

// The capability's number, or nullopt for a name Linux does not have.
std::optional<int> CapabilityNumber(std::string_view name);
// "NET_BIND_SERVICE" for 10; "" past the table.
std::string CapabilityName(int number);
// One past the highest capability number in the table.
int CapabilityCount();

// The set Docker (and Nomad's exec driver) leave a container by default:
// what a root task keeps, and the agent's default allow-list.
const std::vector<std::string>& DefaultCapabilities();

// Names to a bit mask; the first unknown name is the error.
struct CapabilityMask {
  uint64_t mask = 0;
  std::string unknown;  // non-empty: this name is not a capability
};
CapabilityMask CapabilitiesToMask(const std::vector<std::string>& names);

}  // namespace orch
