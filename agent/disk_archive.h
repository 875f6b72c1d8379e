// DiskArchive: an allocation's ephemeral disk as a tar stream, for its
// migration to another node (EphemeralDisk.migrate). Debian's GNU tar does
// the format: `tar --create` of the directory on the old node, `tar
// --extract` into an empty directory on the new one (tar refuses members
// with "..", strips leading "/", and makes links that could point out of
// the directory only at the end, so a member cannot be written through a
// link an earlier one planted). Owners and modes are kept (numeric ids).
//
// tar does not notice every truncated archive (one cut inside a file's
// data extracts "successfully"), so the stream ends with a trailer of its
// own, written only when tar succeeded: "orch-disk-end <sha256 of the
// archive, hex> <archive bytes, 16 hex digits>\n" (96 bytes). The
// extractor holds the last 96 bytes back from tar and accepts the result
// only when the trailer matches what came before it.
// Thread safety: TarDirectory and DirectoryBytes are reentrant; a
// TarExtractor is used by one thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace orch::agent {

// Streams `dir` (its contents, not the directory itself) as a tar archive
// and its trailer to `write`, in pieces of up to 1 MiB; stops early when
// `write` returns false (Unavailable). Not across mount points.
Status TarDirectory(const std::string& dir, const std::function<bool(std::string_view)>& write);

// Bytes of the regular files under `dir` (links not followed): what a
// migration will move, about. Fails past `max_entries` entries.
Result<int64_t> DirectoryBytes(const std::string& dir, int64_t max_entries = 1'000'000);

struct Sha256State;

// `tar --extract` into `dir` (existing, empty) fed by Write.
class TarExtractor {
 public:
  static Result<std::unique_ptr<TarExtractor>> Start(const std::string& dir);
  ~TarExtractor();  // an unfinished extraction is killed
  TarExtractor(const TarExtractor&) = delete;
  TarExtractor& operator=(const TarExtractor&) = delete;

  // Fails once tar has exited (e.g. on a malformed archive).
  Status Write(std::string_view bytes);
  // Checks the trailer, ends the archive and waits for tar: Ok only when
  // the trailer matches and tar exited 0.
  Status Finish();

  static constexpr size_t kTrailerBytes = 96;

 private:
  TarExtractor(pid_t pid, int in, int err);
  Status Feed(std::string_view bytes);
  Status Reap(const char* what);

  pid_t pid_;
  int in_;            // tar's stdin
  int err_;           // a memfd holding tar's stderr
  std::string held_;  // the last bytes seen: the trailer, once all came
  uint64_t fed_ = 0;
  std::unique_ptr<Sha256State> sha_;
};

}  // namespace orch::agent
