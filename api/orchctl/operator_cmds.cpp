#include "api/orchctl/operator_cmds.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

#include "api/orchctl/output.h"
#include "orch/v1/api.pb.h"

namespace orch::ctl {
namespace {

std::string Bytes(uint64_t n) {
  char buf[32];
  if (n < 1024) return std::to_string(n) + " bytes";
  if (n < (1u << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(n) / (1 << 20));
  }
  return buf;
}

Status WriteFileAtomically(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  auto fail = [&](const std::string& what) {
    return Status::FailedPrecondition("cannot " + what + " " + tmp + ": " + std::strerror(errno));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fail("create");
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status st = fail("write");
      ::close(fd);
      ::unlink(tmp.c_str());
      return st;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Status st = fail("fsync");
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status st = Status::FailedPrecondition("cannot rename " + tmp + " to " + path + ": " +
                                           std::strerror(errno));
    ::unlink(tmp.c_str());
    return st;
  }
  return Status::Ok();
}

}  // namespace

Status OperatorSnapshotSave(const Context& ctx, const std::string& path, bool stale) {
  ORCH_ASSIGN_OR_RETURN(auto snap, ctx.client->SaveSnapshot(stale));
  ORCH_RETURN_IF_ERROR(WriteFileAtomically(path, snap.image));
  *ctx.out << "snapshot of " << Bytes(snap.image.size()) << " at index " << snap.index
           << " saved to " << path << " (sha256 " << snap.sha256 << ")\n";
  return Status::Ok();
}

Status OperatorSnapshotRestore(const Context& ctx, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::InvalidArgument("cannot read snapshot file \"" + path +
                                   "\": " + std::strerror(errno));
  std::string image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad())
    return Status::InvalidArgument("cannot read snapshot file \"" + path +
                                   "\": " + std::strerror(errno));
  ORCH_ASSIGN_OR_RETURN(v1::SnapshotRestoreResponse r, ctx.client->RestoreSnapshot(image));
  return PrintMessage(*ctx.out, ctx.format, r, [&] {
    return "restored " + path + " (" + Bytes(r.size()) + ", taken at index " +
           std::to_string(r.snapshot_index()) + "): " + std::to_string(r.jobs()) + " job(s), " +
           std::to_string(r.nodes()) + " node(s), " + std::to_string(r.allocations()) +
           " allocation(s), " + std::to_string(r.acl_tokens()) +
           " ACL token(s); the cluster is at index " + std::to_string(r.index()) + "\n";
  });
}

}  // namespace orch::ctl
