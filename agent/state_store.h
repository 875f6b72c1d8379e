// StateStore: the agent's memory across restarts, one JSON file per
// allocation under <data_dir>/state/<alloc_id>.json (an AllocRecord: the
// allocation, its task handles, ports and status). Each save replaces the
// file atomically, so a crash leaves the previous or the new record.
// Thread safety: not thread-safe; owned by the reconcile loop.
#pragma once

#include <string>
#include <vector>

#include "agent_state.pb.h"
#include "common/status.h"

namespace orch::agent {

class StateStore {
 public:
  explicit StateStore(std::string data_dir);
  Status Init();
  Status Save(const pb::AllocRecord& record);
  Status Remove(const std::string& alloc_id);
  // Every record; unreadable files are skipped with a warning.
  Result<std::vector<pb::AllocRecord>> LoadAll();

 private:
  std::string Path(const std::string& alloc_id) const;
  std::string dir_;
};

}  // namespace orch::agent
