// ImageRead: a consistent read of the whole of state.db, serialized on
// another thread while applies go on (a Raft snapshot taken without
// stopping the Raft thread for the time it takes to read the state).
// It holds its own read-only connection in a read transaction begun when it
// was made: in WAL mode that transaction sees the database as of then, not
// the writes committed after.
// Thread-safety: made on one thread, then used (Serialize, destruction) by
// one other; never concurrently.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "master/replication/state_machine.h"

namespace orch::master {

class ImageRead : public replication::StateImage {
 public:
  // Opens `path` read-only and begins the read; `applied` is the index the
  // caller expects the state to be at (Internal if the read sees another).
  static Result<std::unique_ptr<ImageRead>> Begin(const std::string& path, uint64_t applied);
  ~ImageRead() override;
  ImageRead(const ImageRead&) = delete;
  ImageRead& operator=(const ImageRead&) = delete;

  // The database's image as of Begin (sqlite3_serialize).
  Result<std::string> Serialize() override;
  uint64_t applied() const override { return applied_; }

 private:
  ImageRead(sqlite3* db, std::string path, uint64_t applied)
      : db_(db), path_(std::move(path)), applied_(applied) {}
  sqlite3* db_;
  std::string path_;
  uint64_t applied_;
};

}  // namespace orch::master
