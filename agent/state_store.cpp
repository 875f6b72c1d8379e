#include "agent/state_store.h"

#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "agent/files.h"
#include "common/json.h"

namespace orch::agent {

namespace fs = std::filesystem;

StateStore::StateStore(std::string data_dir) : dir_(std::move(data_dir) + "/state") {}

Status StateStore::Init() {
  ORCH_RETURN_IF_ERROR(MakeDirs(dir_));
  // The records hold the tasks' secrets: the agent's alone.
  if (chmod(dir_.c_str(), 0700) != 0)
    return Status::Internal("chmod 0700 " + dir_ + ": " + strerror(errno));
  return Status::Ok();
}

std::string StateStore::Path(const std::string& alloc_id) const {
  return dir_ + "/" + alloc_id + ".json";
}

Status StateStore::Save(const pb::AllocRecord& record) {
  if (!IsSafePathComponent(record.alloc().id())) {
    return Status::InvalidArgument("allocation id \"" + record.alloc().id() +
                                   "\" is not usable as a file name");
  }
  return WriteFileAtomic(Path(record.alloc().id()), ToJson(record));
}

Status StateStore::Remove(const std::string& alloc_id) {
  if (!IsSafePathComponent(alloc_id)) return Status::Ok();
  if (unlink(Path(alloc_id).c_str()) != 0 && errno != ENOENT) {
    return Status::Internal("cannot remove " + Path(alloc_id));
  }
  return Status::Ok();
}

Result<std::vector<pb::AllocRecord>> StateStore::LoadAll() {
  std::vector<pb::AllocRecord> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().extension() != ".json") continue;
    auto text = ReadFile(entry.path().string());
    pb::AllocRecord rec;
    Status st = text.ok() ? FromJson(*text, &rec) : text.status();
    if (!st.ok()) {
      spdlog::warn("state {}: skipped: {}", entry.path().string(), st.ToString());
      continue;
    }
    out.push_back(std::move(rec));
  }
  if (ec) return Status::Internal("cannot list " + dir_ + ": " + ec.message());
  return out;
}

}  // namespace orch::agent
