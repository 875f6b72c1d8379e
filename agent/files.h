// Small file helpers for the agent's data dir.
// Thread safety: stateless functions; WriteFileAtomic is atomic per file
// (write to a temporary, fsync, rename), concurrent writers to one path race.
#pragma once

#include <cstddef>
#include <string>

#include "common/status.h"

namespace orch::agent {

Status MakeDirs(const std::string& path);
Status WriteFileAtomic(const std::string& path, const std::string& content);
// NotFound when the file does not exist.
Result<std::string> ReadFile(const std::string& path);
// The last `max_bytes` of the file.
Result<std::string> ReadFileTail(const std::string& path, std::size_t max_bytes);
// True for names safe as one path component: [A-Za-z0-9._-], not "." or "..".
bool IsSafePathComponent(const std::string& name);

}  // namespace orch::agent
