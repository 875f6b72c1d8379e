// SimDisk: an SQLite VFS that keeps files in memory and forgets, at a
// simulated crash, every byte not made durable by an fsync (xSync): what a
// machine that loses power keeps of raft.db and state.db. Installed as the
// process's default VFS, so the real SqliteStorage and a state machine's
// database run on it unchanged (tests/sim/driver_simulation.h).
// - Freeze(prefix) makes the files under `prefix` ignore writes, truncates,
//   syncs and deletes (a process being killed: what its connections do
//   while they close never reaches the disk); Crash(prefix) then rolls each
//   file back to its last synced content and unfreezes it.
// - SetFault(prefix, f) makes writes fail with SQLITE_FULL, or syncs with
//   SQLITE_IOERR_FSYNC (a full or failing disk), until cleared.
// - Creating and deleting a file is durable at once (no directory fsync is
//   modelled); the WAL index (shared memory) is volatile and lost at a crash.
// Not thread-safe beyond one connection per file on one thread at a time:
// a simulation is single-threaded.
#pragma once

#include <cstdint>
#include <string>

namespace orch::sim {

class SimDisk {
 public:
  // kFull: writes fail (SQLITE_FULL); kFsync: syncs fail; kLyingFsync:
  // syncs succeed without making anything durable (a disk that lies, to
  // show a simulation catches what that breaks).
  enum class Fault { kNone, kFull, kFsync, kLyingFsync };

  // Registers the VFS as the default (once per process) and returns it.
  static SimDisk& Install();

  void Freeze(const std::string& prefix);
  // Unfreezes keeping everything written (the process died, the machine
  // did not: the page cache reaches the disk).
  void Thaw(const std::string& prefix);
  void Crash(const std::string& prefix);
  void SetFault(const std::string& prefix, Fault fault);
  // Removes every file under `prefix` (between runs).
  void Wipe(const std::string& prefix);

  // Bytes rolled back by crashes so far (a simulation reports it, to show
  // that crashes did lose unsynced writes).
  uint64_t lost_bytes() const;
  uint64_t syncs() const;
};

}  // namespace orch::sim
