// Names the calling thread as `top -H`, `ps -L`, perf and gdb show it
// (Linux keeps at most 15 characters; longer names are cut), so an
// operator can tell a master's REST I/O threads from its Raft loop.
// Thread safety: affects the calling thread only.
#pragma once

#include <string_view>

namespace orch {

void NameThisThread(std::string_view name);

}  // namespace orch
