// A SQLite VFS over the default one that gathers a transaction's WAL writes
// into one system call.
//
// SQLite writes each WAL frame with two pwrite calls (a 24-byte header, then
// the page), so a commit that dirtied 400 pages cost 800 system calls, at
// ~3.5 us each on this project's 2-core VM (measured with both cores busy). This VFS keeps the
// writes that extend the WAL file contiguously in a buffer (up to 128 KiB) and writes them with one
// call when the transaction's commit frame arrives, or earlier when anything else touches the file
// (a read, a sync, a truncate, its size, a write elsewhere, close) or when the connection publishes
// the WAL index (xShmBarrier on its database file). What a reader, a checkpoint or a crash sees is
// what plain pwrites would have left: a commit's frames are in the kernel before the commit is
// acknowledged or made visible, and an error writing them fails that commit's xWrite. Every other
// file passes through.
#pragma once

namespace orch::sqlite {

// The name of the VFS over the current default one (registered, not as
// the default, the first time that default is seen). Thread-safe.
const char* WalGatheringVfs();

// How many write calls the VFS has made to WAL files, and how many writes
// SQLite asked of it (for tests and profiles).
struct WalGatheringCounts {
  unsigned long long asked = 0;
  unsigned long long written = 0;
};
WalGatheringCounts WalGatheringCounters();

}  // namespace orch::sqlite
