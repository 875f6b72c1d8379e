// Random identifiers (UUID v4 from OpenSSL's CSPRNG). Thread-safe.
#pragma once

#include <string>

namespace orch {

std::string NewUuid();

// The first 8 characters, for tables and log lines.
inline std::string ShortId(const std::string& id) { return id.substr(0, 8); }

}  // namespace orch
