// SqliteStorage: the durable Raft log of a master (DESIGN.md section 3).
// Entries, hard state and snapshot metadata live in `dir`/raft.db (SQLite,
// WAL, synchronous=FULL); the snapshot's state machine image lives in a
// file under `dir`/snap/ written atomically. The driver persists each Ready
// with one Save (one transaction) and the core reads through Storage.
//
// Reads are served from memory where it matters: the term of every entry
// (as runs of equal terms, a few bytes per term) and the recent tail of
// entries (bounded by bytes), so Term() never and Entries() rarely touch
// SQLite. The snapshot image is loaded once and kept until replaced.
//
// Crash safety: a snapshot file is written (tmp + fsync + rename + fsync
// dir) before the transaction that records its metadata, and the previous
// file is deleted only after that commit; Open removes tmp files and any
// snapshot file the committed metadata does not name.
//
// Thread-safety: none. One thread (the driver) owns it and makes every
// call, including the core's const reads; only the static
// WriteSnapshotFile (which touches nothing but its own file) may run
// elsewhere.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/sqlite.h"
#include "common/status.h"
#include "master/raft/storage.h"

namespace orch::replication {

using orch::v1::SnapshotMetadata;

class SqliteStorage : public raft::Storage {
 public:
  ~SqliteStorage() override;
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  // Opens or creates `dir`/raft.db and `dir`/snap/, then recovers: removes
  // leftover tmp and uncommitted snapshot files and checks that hard state,
  // entries and snapshot agree. Unavailable/ResourceExhausted on I/O
  // errors, Internal when the content is inconsistent.
  static orch::Result<std::unique_ptr<SqliteStorage>> Open(const std::string& dir);

  // Storage (the core's read side).
  raft::InitialState GetInitialState() const override;
  raft::Result<std::vector<raft::Entry>> Entries(uint64_t lo, uint64_t hi,
                                                 uint64_t max_bytes) const override;
  raft::Result<uint64_t> Term(uint64_t i) const override;
  uint64_t FirstIndex() const override;
  uint64_t LastIndex() const override;
  // kSnapshotTemporarilyUnavailable if the image cannot be read now.
  raft::Result<raft::Snapshot> GetSnapshot() const override;

  // True when nothing was ever persisted (a brand-new member).
  bool IsEmpty() const;

  // Persists one Ready in one transaction: snap (installs it: replaces the
  // whole log, raises the hard state's commit to its index; its image is
  // written to a file first), then entries (appended; a conflicting
  // existing suffix is deleted first; already compacted ones are skipped),
  // then hs. Any of them may be null/empty. sync=false (Ready::must_sync
  // false) commits with synchronous=NORMAL: the transaction may be lost on
  // power failure but never torn, and a later synced one makes it durable.
  // FailedPrecondition (nothing written) if snap is not newer than the
  // current snapshot or entries leave a gap after LastIndex().
  orch::Status Save(const raft::HardState* hs, const std::vector<raft::Entry>& entries,
                    const raft::Snapshot* snap, bool sync);

  // Records a snapshot of the application state as of applied index
  // `index`, with membership `cs` and state machine image `data`.
  // FailedPrecondition unless current snapshot index < index <= LastIndex()
  // and index >= FirstIndex()-1.
  orch::Status CreateSnapshot(uint64_t index, const raft::ConfState& cs, std::string data);

  // CreateSnapshot in three steps, so that writing and fsyncing the image
  // (the slow part: it grows with the state) runs off the driver's thread:
  // PrepareSnapshot checks as CreateSnapshot does and names the file;
  // WriteSnapshotFile, on any thread, writes it (atomically, fsynced) and
  // its checksum; CommitSnapshot records it, unless a newer snapshot was
  // installed or taken meanwhile (FailedPrecondition; the file is removed).
  struct PendingSnapshot {
    std::string dir;      // the snapshot directory
    std::string file;     // the file's name in it
    raft::Snapshot snap;  // metadata and image
    uint32_t crc = 0;     // set by WriteSnapshotFile
  };
  orch::Result<PendingSnapshot> PrepareSnapshot(uint64_t index, const raft::ConfState& cs,
                                                std::string data) const;
  static orch::Status WriteSnapshotFile(PendingSnapshot* p);
  orch::Status CommitSnapshot(PendingSnapshot p);

  // Deletes entries before compact_index (the snapshot covers them):
  // afterwards FirstIndex() == compact_index and Term(compact_index-1) still
  // answers. Note MemoryStorage::Compact(i) also drops entry i; this one
  // keeps it, so Compact(snapshot index + 1) is the usual call. A no-op when
  // they are already gone. FailedPrecondition if compact_index > snapshot
  // index + 1.
  orch::Status Compact(uint64_t compact_index);

  // The cluster this log belongs to (fixed at bootstrap or on joining;
  // 0 when unknown: a new member, or data from before cluster ids).
  uint64_t ClusterId() const { return cluster_id_; }
  // Records it, durably, once: FailedPrecondition if another is recorded.
  orch::Status SetClusterId(uint64_t id);

  // The persisted snapshot's metadata (index 0 when none). Cheap.
  SnapshotMetadata SnapshotMeta() const { return snap_meta_; }

  const raft::HardState& hard_state() const { return hard_state_; }

 private:
  struct Stmts;

  SqliteStorage(std::string dir, std::unique_ptr<sqlite::Db> db);
  orch::Status Init();
  orch::Status Load();
  orch::Status SetSynchronous(bool full);
  // SQL side of Save; in-memory state is changed only after COMMIT.
  orch::Status WriteSnapshotRows(const raft::Snapshot& snap, const std::string& file);
  // `last` is the log's last index once a snapshot in the same Save is in.
  orch::Status WriteEntryRows(const std::vector<raft::Entry>& entries, size_t skip, uint64_t last);
  orch::Status PutMeta(const char* key, const std::string& value);
  // In-memory mirrors of the committed changes.
  void ResetTo(uint64_t index, uint64_t term);
  void AppendInMemory(const std::vector<raft::Entry>& entries, size_t skip);
  void CompactInMemory(uint64_t compact_index);
  void CacheSnapshot(raft::Snapshot snap) const;
  // After a snapshot committed: removes the files it supersedes.
  void RemoveSupersededFiles(const std::string& old);
  orch::Status DbError(const orch::Status& st) const;

  const std::string dir_;
  const std::string snap_dir_;
  std::unique_ptr<sqlite::Db> db_;
  std::unique_ptr<Stmts> stmts_;
  bool synchronous_full_ = true;

  bool has_hard_state_ = false;
  raft::HardState hard_state_;
  SnapshotMetadata snap_meta_;
  std::string snap_file_;  // empty when there is no snapshot
  // Snapshot files whose metadata failed to commit. A failed COMMIT (an
  // fsync error) may still have reached the disk, so such a file may be the
  // one raft.db names after a restart: it is removed only once a newer
  // snapshot committed (or by Open, if raft.db does not name it).
  std::vector<std::string> doubtful_files_;
  // CRC-32 of the snapshot file, checked when it is read (absent for a
  // snapshot written before checksums were kept).
  std::optional<uint32_t> snap_crc_;
  uint64_t cluster_id_ = 0;

  // The log is (offset_, last_]; offset_ is the last compacted index whose
  // term is kept (etcd's dummy entry) so Term(FirstIndex()-1) works.
  uint64_t offset_ = 0;
  uint64_t last_ = 0;
  // Term of every index in [offset_, last_] as runs: {first index, term},
  // ascending. Raft terms only grow along the log, so runs are few.
  std::vector<std::pair<uint64_t, uint64_t>> term_runs_;
  // The newest entries, contiguous, ending at last_ (or empty).
  std::deque<raft::Entry> tail_;
  uint64_t tail_bytes_ = 0;

  // The loaded snapshot (metadata + image); mutable: filled on first read.
  mutable std::unique_ptr<raft::Snapshot> snap_cache_;
  std::string buf_;  // reused serialization buffer
};

}  // namespace orch::replication
