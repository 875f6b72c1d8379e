// Signal names an operator may send to a task (`orchctl alloc signal`):
// "SIGHUP" or "HUP" -> SIGHUP. Only signals a task may be asked to handle;
// nothing like SIGSEGV.
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace orch {

std::optional<int> SignalNumber(std::string_view name);
// The canonical name ("SIGHUP"); empty when not allowed.
std::string SignalName(std::string_view name);

}  // namespace orch
