#include "master/replication/snapshot_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

namespace orch::replication::snapfile {

uint32_t Crc32(std::string_view data) {
  uLong crc = crc32_z(0L, Z_NULL, 0);
  return static_cast<uint32_t>(
      crc32_z(crc, reinterpret_cast<const Bytef*>(data.data()), data.size()));
}
namespace {

// A full disk is the operator's to fix (ResourceExhausted); anything else
// is an I/O failure the caller may retry (Unavailable).
orch::Status IoError(const std::string& what, const std::string& path, int err) {
  std::string msg = path + ": " + what + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return orch::Status::ResourceExhausted(msg);
  return orch::Status::Unavailable(msg);
}

orch::Status FsyncPath(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return IoError("open for fsync", path, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("fsync", path, err);
  return orch::Status::Ok();
}

orch::Status WriteAll(int fd, const std::string& path, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("write", path, errno);
    }
    done += static_cast<size_t>(n);
  }
  return orch::Status::Ok();
}

std::string Parent(const std::string& dir) {
  auto pos = dir.find_last_of('/');
  if (pos == std::string::npos) return ".";
  return pos == 0 ? "/" : dir.substr(0, pos);
}

}  // namespace

std::string FileName(uint64_t term, uint64_t index) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64 "-%016" PRIx64 ".snap", term, index);
  return buf;
}

orch::Status WriteAtomic(const std::string& dir, const std::string& name, const std::string& data) {
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("create", tmp, errno);
  orch::Status st = WriteAll(fd, tmp, data);
  if (st.ok() && ::fsync(fd) != 0) st = IoError("fsync", tmp, errno);
  if (::close(fd) != 0 && st.ok()) st = IoError("close", tmp, errno);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) st = IoError("rename", tmp, errno);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  // The rename is durable only once the directory entry is.
  st = FsyncPath(dir, O_RDONLY | O_DIRECTORY);
  if (!st.ok()) ::unlink(path.c_str());
  return st;
}

orch::Result<std::string> Read(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("open", path, errno);
  std::string out;
  struct stat sb;
  if (::fstat(fd, &sb) == 0 && sb.st_size > 0) out.reserve(static_cast<size_t>(sb.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return IoError("read", path, err);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

orch::Status EnsureDir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0) return FsyncPath(Parent(dir), O_RDONLY | O_DIRECTORY);
  if (errno != EEXIST) return IoError("mkdir", dir, errno);
  return orch::Status::Ok();
}

orch::Result<std::vector<std::string>> RemoveAllBut(const std::string& dir,
                                                    const std::string& keep) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return IoError("opendir", dir, errno);
  std::vector<std::string> names;
  while (struct dirent* ent = ::readdir(d)) {
    std::string n = ent->d_name;
    if (n == "." || n == ".." || n == keep) continue;
    names.push_back(std::move(n));
  }
  ::closedir(d);
  for (const auto& n : names) {
    const std::string path = dir + "/" + n;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return IoError("unlink", path, errno);
  }
  if (!names.empty()) ORCH_RETURN_IF_ERROR(FsyncPath(dir, O_RDONLY | O_DIRECTORY));
  return names;
}

orch::Status Remove(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return IoError("unlink", path, errno);
  return FsyncPath(dir, O_RDONLY | O_DIRECTORY);
}

}  // namespace orch::replication::snapfile
