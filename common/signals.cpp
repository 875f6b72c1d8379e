#include "common/signals.h"

#include <signal.h>

#include <utility>

namespace orch {
namespace {

constexpr std::pair<const char*, int> kSignals[] = {
    {"SIGHUP", SIGHUP},   {"SIGINT", SIGINT},   {"SIGQUIT", SIGQUIT}, {"SIGUSR1", SIGUSR1},
    {"SIGUSR2", SIGUSR2}, {"SIGTERM", SIGTERM}, {"SIGKILL", SIGKILL}, {"SIGWINCH", SIGWINCH},
    {"SIGCONT", SIGCONT}, {"SIGSTOP", SIGSTOP}, {"SIGALRM", SIGALRM},
};

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  if (out.rfind("SIG", 0) != 0) out = "SIG" + out;
  return out;
}

}  // namespace

std::optional<int> SignalNumber(std::string_view name) {
  const std::string n = Upper(name);
  for (const auto& [s, v] : kSignals) {
    if (n == s) return v;
  }
  return std::nullopt;
}

std::string SignalName(std::string_view name) {
  const std::string n = Upper(name);
  for (const auto& [s, v] : kSignals) {
    if (n == s) return s;
  }
  return "";
}

}  // namespace orch
