// Snapshot files of the durable Raft log: the state machine image lives in
// its own file under `dir`/snap/ (several MiB: keeping it out of raft.db
// keeps the log's WAL small), written atomically so a crash leaves either
// the old file set or the new one, never a torn file.
// Thread-safety: stateless functions; callers serialize access to a dir.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace orch::replication::snapfile {

// "<16 hex term>-<16 hex index>.snap": unique per snapshot, sortable.
std::string FileName(uint64_t term, uint64_t index);

// Writes `data` to dir/name via dir/name.tmp: write, fsync, rename, fsync
// dir. On failure nothing named `name` is left behind. ResourceExhausted
// when the disk is full, Unavailable on other I/O errors; both name the file.
orch::Status WriteAtomic(const std::string& dir, const std::string& name, const std::string& data);

// CRC-32 (zlib's) of a snapshot image, kept with its metadata and checked
// when the file is read back.
uint32_t Crc32(std::string_view data);

// Reads the whole file dir/name.
orch::Result<std::string> Read(const std::string& dir, const std::string& name);

// Creates dir (and fsyncs its parent) when missing.
orch::Status EnsureDir(const std::string& dir);

// Removes every file in dir except `keep` (leftover *.tmp files and
// snapshots whose metadata never committed, or old ones), then fsyncs dir.
// Returns the names removed.
orch::Result<std::vector<std::string>> RemoveAllBut(const std::string& dir,
                                                    const std::string& keep);

// Removes dir/name if present (best effort is not enough: errors returned).
orch::Status Remove(const std::string& dir, const std::string& name);

}  // namespace orch::replication::snapfile
