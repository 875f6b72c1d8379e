#include "common/sqlite_wal_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace orch::sqlite {

namespace {

constexpr int kFrameHeaderBytes = 24;  // SQLite's WAL frame header
// The default VFS writes at most 128 KiB - 1 per call (it masks the length
// with 0x1ffff), so that bounds what is gathered.
constexpr int kMaxGathered = 0x1ffff;

std::atomic<unsigned long long> g_asked{0};
std::atomic<unsigned long long> g_written{0};

// One open file: ours first, the default VFS's file right after it.
struct GatherFile {
  sqlite3_file base;
  sqlite3_file* real = nullptr;
  bool wal = false;
  GatherFile* wal_file = nullptr;  // on a database file: its connection's WAL
  GatherFile* db_file = nullptr;   // on a WAL file: its database file
  std::vector<char> gathered;      // bytes for [start, start + size)
  sqlite3_int64 start = 0;
  // The last write was the header of a commit frame ending at `body_at`:
  // its page, written next, completes the transaction.
  bool commit_header = false;
  sqlite3_int64 body_at = 0;
};

constexpr std::size_t RealOffset() {
  return (sizeof(GatherFile) + alignof(std::max_align_t) - 1) & ~(alignof(std::max_align_t) - 1);
}

GatherFile* Of(sqlite3_file* f) { return reinterpret_cast<GatherFile*>(f); }
sqlite3_vfs* RealVfs(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

int Flush(GatherFile* f) {
  if (f->gathered.empty()) return SQLITE_OK;
  int rc = f->real->pMethods->xWrite(f->real, f->gathered.data(),
                                     static_cast<int>(f->gathered.size()), f->start);
  g_written.fetch_add(1, std::memory_order_relaxed);
  // Written or failed, SQLite has been (or is now) told: a failed commit
  // rolls back and rewrites its frames.
  f->gathered.clear();
  f->commit_header = false;
  return rc;
}

// A database file's hooks flush its connection's WAL first.
void FlushWalOf(GatherFile* f) {
  if (f->wal_file) (void)Flush(f->wal_file);
}

uint32_t BigEndian32(const void* p) {
  const auto* b = static_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
}

int Close(sqlite3_file* file) {
  GatherFile* f = Of(file);
  int rc = f->wal ? Flush(f) : SQLITE_OK;
  if (f->db_file) f->db_file->wal_file = nullptr;
  if (f->wal_file) f->wal_file->db_file = nullptr;
  int rc2 = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
  f->~GatherFile();
  return rc != SQLITE_OK ? rc : rc2;
}

// The default file's method, after the gathered writes (none on a database
// file) are in the file.
template <auto Method, typename... Args>
int Flushed(sqlite3_file* file, Args... args) {
  GatherFile* f = Of(file);
  if (int rc = Flush(f); rc != SQLITE_OK) return rc;
  return (f->real->pMethods->*Method)(f->real, args...);
}

// The default file's method, as it is.
template <auto Method, typename... Args>
int Passed(sqlite3_file* file, Args... args) {
  GatherFile* f = Of(file);
  return (f->real->pMethods->*Method)(f->real, args...);
}

int Write(sqlite3_file* file, const void* buf, int amt, sqlite3_int64 ofs) {
  GatherFile* f = Of(file);
  if (!f->wal) return f->real->pMethods->xWrite(f->real, buf, amt, ofs);
  g_asked.fetch_add(1, std::memory_order_relaxed);
  const bool extends = !f->gathered.empty() &&
                       ofs == f->start + static_cast<sqlite3_int64>(f->gathered.size()) &&
                       f->gathered.size() + static_cast<std::size_t>(amt) <= kMaxGathered;
  const bool completes_commit = f->commit_header && ofs == f->body_at;
  if (!extends) {
    if (int rc = Flush(f); rc != SQLITE_OK) return rc;
    if (amt > kMaxGathered) {
      g_written.fetch_add(1, std::memory_order_relaxed);
      return f->real->pMethods->xWrite(f->real, buf, amt, ofs);
    }
    f->start = ofs;
  }
  const char* bytes = static_cast<const char*>(buf);
  f->gathered.insert(f->gathered.end(), bytes, bytes + amt);
  if (completes_commit) return Flush(f);
  // A frame header whose "database size after commit" is set begins the
  // transaction's last frame.
  f->commit_header = amt == kFrameHeaderBytes && BigEndian32(bytes + 4) != 0;
  f->body_at = ofs + amt;
  return SQLITE_OK;
}

int ShmLock(sqlite3_file* file, int offset, int n, int flags) {
  GatherFile* f = Of(file);
  FlushWalOf(f);
  return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

// Called between writing a WAL index header's copy and publishing it.
void ShmBarrier(sqlite3_file* file) {
  GatherFile* f = Of(file);
  FlushWalOf(f);
  f->real->pMethods->xShmBarrier(f->real);
}

int ShmUnmap(sqlite3_file* file, int remove) {
  GatherFile* f = Of(file);
  FlushWalOf(f);
  return f->real->pMethods->xShmUnmap(f->real, remove);
}

int Fetch(sqlite3_file* file, sqlite3_int64 ofs, int amt, void** out) {
  GatherFile* f = Of(file);
  if (f->real->pMethods->iVersion < 3) {
    *out = nullptr;
    return SQLITE_OK;
  }
  return f->real->pMethods->xFetch(f->real, ofs, amt, out);
}

int Unfetch(sqlite3_file* file, sqlite3_int64 ofs, void* p) {
  GatherFile* f = Of(file);
  if (f->real->pMethods->iVersion < 3) return SQLITE_OK;
  return f->real->pMethods->xUnfetch(f->real, ofs, p);
}

using M = sqlite3_io_methods;
const sqlite3_io_methods kMethods = {
    3,
    Close,
    Flushed<&M::xRead>,  // a read may want what is gathered
    Write,
    Flushed<&M::xTruncate>,
    Flushed<&M::xSync>,
    Flushed<&M::xFileSize>,
    Passed<&M::xLock>,
    Passed<&M::xUnlock>,
    Passed<&M::xCheckReservedLock>,
    Flushed<&M::xFileControl>,
    Passed<&M::xSectorSize>,
    Passed<&M::xDeviceCharacteristics>,
    Passed<&M::xShmMap>,
    ShmLock,
    ShmBarrier,
    ShmUnmap,
    Fetch,
    Unfetch,
};

int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  auto* f = new (file) GatherFile();
  f->base.pMethods = nullptr;
  f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + RealOffset());
  f->real->pMethods = nullptr;
  sqlite3_vfs* real_vfs = RealVfs(vfs);
  int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
  if (f->real->pMethods == nullptr) {
    f->~GatherFile();
    file->pMethods = nullptr;
    return rc;
  }
  // From here SQLite calls xClose even if the open failed.
  f->base.pMethods = &kMethods;
  if (rc == SQLITE_OK && (flags & SQLITE_OPEN_WAL) && name != nullptr) {
    f->wal = true;
    sqlite3_file* db = sqlite3_database_file_object(name);
    if (db != nullptr && db->pMethods == &kMethods) {
      f->db_file = Of(db);
      f->db_file->wal_file = f;
    }
  }
  return rc;
}

int Delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return RealVfs(vfs)->xDelete(RealVfs(vfs), name, sync_dir);
}
int Access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return RealVfs(vfs)->xAccess(RealVfs(vfs), name, flags, out);
}
int FullPathname(sqlite3_vfs* vfs, const char* name, int n, char* out) {
  return RealVfs(vfs)->xFullPathname(RealVfs(vfs), name, n, out);
}
void* DlOpen(sqlite3_vfs* vfs, const char* name) {
  return RealVfs(vfs)->xDlOpen(RealVfs(vfs), name);
}
void DlError(sqlite3_vfs* vfs, int n, char* out) { RealVfs(vfs)->xDlError(RealVfs(vfs), n, out); }
void (*DlSym(sqlite3_vfs* vfs, void* lib, const char* sym))(void) {
  return RealVfs(vfs)->xDlSym(RealVfs(vfs), lib, sym);
}
void DlClose(sqlite3_vfs* vfs, void* lib) { RealVfs(vfs)->xDlClose(RealVfs(vfs), lib); }
int Randomness(sqlite3_vfs* vfs, int n, char* out) {
  return RealVfs(vfs)->xRandomness(RealVfs(vfs), n, out);
}
int Sleep(sqlite3_vfs* vfs, int us) { return RealVfs(vfs)->xSleep(RealVfs(vfs), us); }
int CurrentTime(sqlite3_vfs* vfs, double* out) {
  return RealVfs(vfs)->xCurrentTime(RealVfs(vfs), out);
}
int GetLastError(sqlite3_vfs* vfs, int n, char* out) {
  return RealVfs(vfs)->xGetLastError(RealVfs(vfs), n, out);
}
int CurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  sqlite3_vfs* real = RealVfs(vfs);
  if (real->iVersion >= 2 && real->xCurrentTimeInt64) return real->xCurrentTimeInt64(real, out);
  double days = 0;
  int rc = real->xCurrentTime(real, &days);
  *out = static_cast<sqlite3_int64>(days * 86400000.0);
  return rc;
}

struct Wrapper {
  std::string name;
  sqlite3_vfs vfs{};
};

}  // namespace

const char* WalGatheringVfs() {
  // One wrapper per default VFS seen: a test's simulated disk registers
  // itself as the default, and what it wraps must be that one.
  static std::mutex mu;
  static std::map<sqlite3_vfs*, std::unique_ptr<Wrapper>> wrappers;
  std::lock_guard lock(mu);
  sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
  auto& w = wrappers[real];
  if (!w) {
    w = std::make_unique<Wrapper>();
    w->name = std::string("orch-wal-gathering-") + (real->zName ? real->zName : "default");
    sqlite3_vfs& vfs = w->vfs;
    vfs.iVersion = 2;
    vfs.szOsFile = static_cast<int>(RealOffset()) + real->szOsFile;
    vfs.mxPathname = real->mxPathname;
    vfs.zName = w->name.c_str();
    vfs.pAppData = real;
    vfs.xOpen = Open;
    vfs.xDelete = Delete;
    vfs.xAccess = Access;
    vfs.xFullPathname = FullPathname;
    // A simulated disk may load no libraries.
    vfs.xDlOpen = real->xDlOpen ? DlOpen : nullptr;
    vfs.xDlError = real->xDlError ? DlError : nullptr;
    vfs.xDlSym = real->xDlSym ? DlSym : nullptr;
    vfs.xDlClose = real->xDlClose ? DlClose : nullptr;
    vfs.xRandomness = Randomness;
    vfs.xSleep = Sleep;
    vfs.xCurrentTime = CurrentTime;
    vfs.xGetLastError = GetLastError;
    vfs.xCurrentTimeInt64 = CurrentTimeInt64;
    sqlite3_vfs_register(&vfs, /*makeDflt=*/0);
  }
  return w->name.c_str();
}

WalGatheringCounts WalGatheringCounters() {
  return {g_asked.load(std::memory_order_relaxed), g_written.load(std::memory_order_relaxed)};
}

}  // namespace orch::sqlite
