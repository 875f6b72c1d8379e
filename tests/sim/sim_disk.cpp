#include "tests/sim/sim_disk.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <vector>

namespace orch::sim {
namespace {

struct FileData {
  std::string data;     // what reads see
  std::string durable;  // what survives a crash: the content at the last sync
  // Byte ranges of `data` written since the last sync (so a sync copies
  // only those, not the whole file).
  std::vector<std::pair<size_t, size_t>> dirty;
  std::vector<std::unique_ptr<char[]>> shm;  // the WAL index: memory only
  int handles = 0;                           // open handles: at most one (locks are not modelled)
};

struct Disk {
  std::map<std::string, std::shared_ptr<FileData>> files;
  std::map<std::string, SimDisk::Fault> faults;  // by prefix
  std::vector<std::string> frozen;               // prefixes
  uint64_t lost_bytes = 0;
  uint64_t syncs = 0;

  static bool Under(const std::string& path, const std::string& prefix) {
    return path.compare(0, prefix.size(), prefix) == 0;
  }
  bool Frozen(const std::string& path) const {
    return std::any_of(frozen.begin(), frozen.end(),
                       [&](const std::string& p) { return Under(path, p); });
  }
  SimDisk::Fault FaultOf(const std::string& path) const {
    for (const auto& [prefix, f] : faults) {
      if (Under(path, prefix)) return f;
    }
    return SimDisk::Fault::kNone;
  }
};

Disk& TheDisk() {
  static Disk* disk = new Disk();  // lives as long as SQLite may call it
  return *disk;
}

struct SimFile {
  sqlite3_file base;
  std::shared_ptr<FileData> file;
  std::string path;  // "" for an anonymous temporary file
  bool delete_on_close = false;
};

SimFile* Of(sqlite3_file* f) { return reinterpret_cast<SimFile*>(f); }

int Close(sqlite3_file* f) {
  SimFile* sf = Of(f);
  --sf->file->handles;
  if (sf->delete_on_close && !sf->path.empty() && !TheDisk().Frozen(sf->path)) {
    TheDisk().files.erase(sf->path);
  }
  sf->~SimFile();
  return SQLITE_OK;
}

int Read(sqlite3_file* f, void* buf, int amt, sqlite3_int64 off) {
  const std::string& d = Of(f)->file->data;
  const auto n = static_cast<sqlite3_int64>(d.size());
  const sqlite3_int64 have = std::clamp<sqlite3_int64>(n - off, 0, amt);
  if (have > 0) std::memcpy(buf, d.data() + off, static_cast<size_t>(have));
  if (have < amt) {
    std::memset(static_cast<char*>(buf) + have, 0, static_cast<size_t>(amt - have));
    return SQLITE_IOERR_SHORT_READ;
  }
  return SQLITE_OK;
}

int Write(sqlite3_file* f, const void* buf, int amt, sqlite3_int64 off) {
  SimFile* sf = Of(f);
  const Disk& disk = TheDisk();
  if (!sf->path.empty()) {
    if (disk.Frozen(sf->path)) return SQLITE_OK;
    if (disk.FaultOf(sf->path) == SimDisk::Fault::kFull) return SQLITE_FULL;
  }
  std::string& d = sf->file->data;
  const auto end = static_cast<size_t>(off) + static_cast<size_t>(amt);
  sf->file->dirty.emplace_back(std::min(d.size(), static_cast<size_t>(off)), end);
  if (d.size() < end) d.resize(end, '\0');
  std::memcpy(d.data() + off, buf, static_cast<size_t>(amt));
  return SQLITE_OK;
}

int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  SimFile* sf = Of(f);
  if (!sf->path.empty() && TheDisk().Frozen(sf->path)) return SQLITE_OK;
  if (static_cast<sqlite3_int64>(sf->file->data.size()) > size) {
    sf->file->data.resize(static_cast<size_t>(size));
  }
  return SQLITE_OK;
}

int Sync(sqlite3_file* f, int) {
  SimFile* sf = Of(f);
  Disk& disk = TheDisk();
  if (!sf->path.empty()) {
    if (disk.Frozen(sf->path)) return SQLITE_OK;
    const SimDisk::Fault fault = disk.FaultOf(sf->path);
    if (fault == SimDisk::Fault::kFsync) return SQLITE_IOERR_FSYNC;
    if (fault == SimDisk::Fault::kLyingFsync) return SQLITE_OK;
  }
  FileData& fd = *sf->file;
  fd.durable.resize(fd.data.size());
  for (auto [from, to] : fd.dirty) {
    to = std::min(to, fd.data.size());
    if (from < to) std::memcpy(fd.durable.data() + from, fd.data.data() + from, to - from);
  }
  fd.dirty.clear();
  ++disk.syncs;
  return SQLITE_OK;
}

int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  *size = static_cast<sqlite3_int64>(Of(f)->file->data.size());
  return SQLITE_OK;
}

int Lock(sqlite3_file*, int) { return SQLITE_OK; }
int Unlock(sqlite3_file*, int) { return SQLITE_OK; }
int CheckReservedLock(sqlite3_file*, int* out) {
  *out = 0;
  return SQLITE_OK;
}
int FileControl(sqlite3_file*, int, void*) { return SQLITE_NOTFOUND; }
int SectorSize(sqlite3_file*) { return 4096; }
int DeviceCharacteristics(sqlite3_file*) { return 0; }

int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  auto& shm = Of(f)->file->shm;
  const auto r = static_cast<size_t>(region);
  if (r >= shm.size()) {
    if (!extend) {
      *out = nullptr;
      return SQLITE_OK;
    }
    while (shm.size() <= r) {
      shm.push_back(std::make_unique<char[]>(static_cast<size_t>(size)));
      std::memset(shm.back().get(), 0, static_cast<size_t>(size));
    }
  }
  *out = shm[r].get();
  return SQLITE_OK;
}
int ShmLock(sqlite3_file*, int, int, int) { return SQLITE_OK; }
void ShmBarrier(sqlite3_file*) {}
int ShmUnmap(sqlite3_file* f, int delete_flag) {
  if (delete_flag) Of(f)->file->shm.clear();
  return SQLITE_OK;
}

const sqlite3_io_methods kIo = {2,
                                Close,
                                Read,
                                Write,
                                Truncate,
                                Sync,
                                FileSize,
                                Lock,
                                Unlock,
                                CheckReservedLock,
                                FileControl,
                                SectorSize,
                                DeviceCharacteristics,
                                ShmMap,
                                ShmLock,
                                ShmBarrier,
                                ShmUnmap,
                                nullptr,
                                nullptr};

int Open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* sf = new (f) SimFile();
  sf->base.pMethods = nullptr;
  Disk& disk = TheDisk();
  if (name == nullptr) {
    sf->file = std::make_shared<FileData>();
    sf->delete_on_close = true;
  } else {
    sf->path = name;
    auto it = disk.files.find(sf->path);
    if (it == disk.files.end()) {
      if (!(flags & SQLITE_OPEN_CREATE) || disk.Frozen(sf->path)) {
        sf->~SimFile();
        return SQLITE_CANTOPEN;
      }
      it = disk.files.emplace(sf->path, std::make_shared<FileData>()).first;
    }
    if (it->second->handles > 0) {
      // Locks are not modelled: a second connection to one file would
      // corrupt it silently. A simulated machine opens each file once.
      sf->~SimFile();
      return SQLITE_CANTOPEN;
    }
    sf->file = it->second;
    sf->delete_on_close = (flags & SQLITE_OPEN_DELETEONCLOSE) != 0;
  }
  ++sf->file->handles;
  sf->base.pMethods = &kIo;
  if (out_flags) *out_flags = flags;
  return SQLITE_OK;
}

int Delete(sqlite3_vfs*, const char* name, int) {
  Disk& disk = TheDisk();
  if (!disk.Frozen(name)) disk.files.erase(name);
  return SQLITE_OK;
}

int Access(sqlite3_vfs*, const char* name, int, int* out) {
  *out = TheDisk().files.count(name) ? 1 : 0;
  return SQLITE_OK;
}

int FullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  sqlite3_snprintf(n, out, "%s", name);
  return SQLITE_OK;
}

int Randomness(sqlite3_vfs*, int n, char* out) {
  // Deterministic, so that a seed replays byte for byte.
  for (int i = 0; i < n; ++i) out[i] = static_cast<char>(i * 131 + 7);
  return n;
}
int Sleep(sqlite3_vfs*, int us) { return us; }
int CurrentTime(sqlite3_vfs*, double* out) {
  *out = 2461000.5;  // a fixed Julian day: nothing replicated may depend on it
  return SQLITE_OK;
}
int CurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) {
  *out = static_cast<sqlite3_int64>(2461000.5 * 86400000.0);
  return SQLITE_OK;
}
int GetLastError(sqlite3_vfs*, int, char*) { return 0; }

sqlite3_vfs MakeVfs() {
  sqlite3_vfs v{};
  v.iVersion = 2;
  v.szOsFile = sizeof(SimFile);
  v.mxPathname = 1024;
  v.zName = "orch-sim-disk";
  v.xOpen = Open;
  v.xDelete = Delete;
  v.xAccess = Access;
  v.xFullPathname = FullPathname;
  v.xRandomness = Randomness;
  v.xSleep = Sleep;
  v.xCurrentTime = CurrentTime;
  v.xGetLastError = GetLastError;
  v.xCurrentTimeInt64 = CurrentTimeInt64;
  return v;
}

}  // namespace

SimDisk& SimDisk::Install() {
  static SimDisk disk;
  static sqlite3_vfs vfs = MakeVfs();
  static const bool registered = [] {
    sqlite3_initialize();
    return sqlite3_vfs_register(&vfs, 1) == SQLITE_OK;
  }();
  (void)registered;
  return disk;
}

void SimDisk::Freeze(const std::string& prefix) { TheDisk().frozen.push_back(prefix); }

void SimDisk::Thaw(const std::string& prefix) { std::erase(TheDisk().frozen, prefix); }

void SimDisk::Crash(const std::string& prefix) {
  Disk& disk = TheDisk();
  std::erase(disk.frozen, prefix);
  for (auto& [path, f] : disk.files) {
    if (!Disk::Under(path, prefix)) continue;
    for (auto [from, to] : f->dirty) disk.lost_bytes += to - from;
    if (!f->dirty.empty() || f->data.size() != f->durable.size()) f->data = f->durable;
    f->dirty.clear();
    f->shm.clear();
  }
}

void SimDisk::SetFault(const std::string& prefix, Fault fault) {
  Disk& disk = TheDisk();
  if (fault == Fault::kNone) {
    disk.faults.erase(prefix);
  } else {
    disk.faults[prefix] = fault;
  }
}

void SimDisk::Wipe(const std::string& prefix) {
  Disk& disk = TheDisk();
  std::erase_if(disk.files, [&](const auto& kv) { return Disk::Under(kv.first, prefix); });
  std::erase_if(disk.faults, [&](const auto& kv) { return Disk::Under(kv.first, prefix); });
  std::erase_if(disk.frozen, [&](const std::string& p) { return Disk::Under(p, prefix); });
}

uint64_t SimDisk::lost_bytes() const { return TheDisk().lost_bytes; }
uint64_t SimDisk::syncs() const { return TheDisk().syncs; }

}  // namespace orch::sim
