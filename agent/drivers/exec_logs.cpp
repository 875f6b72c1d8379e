#include "agent/drivers/exec_logs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "agent/drivers/exec_launch.h"

namespace orch::agent {

namespace {

constexpr size_t kChunk = 64 * 1024;

// One stream being read: the live file's descriptor and what was read.
struct Reader {
  LogStream stream;
  std::string path;
  int fd = -1;
  ino_t ino = 0;
  ~Reader() {
    if (fd >= 0) close(fd);
  }
};

// Sends [fd's position, EOF) to the sink; false when the sink says stop.
bool Drain(int fd, LogStream stream, const LogSink& sink, int64_t skip) {
  if (skip > 0) lseek(fd, skip, SEEK_CUR);
  std::vector<char> buf(kChunk);
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    if (!sink(stream, std::string_view(buf.data(), static_cast<size_t>(n)))) return false;
  }
}

bool OpenLive(Reader& r) {
  r.fd = open(r.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (r.fd < 0) return false;
  struct stat st;
  if (fstat(r.fd, &st) == 0) r.ino = st.st_ino;
  return true;
}

// Everything kept (or the last tail_bytes): rotated files oldest first,
// then the live file, leaving r.fd at its end.
bool Dump(Reader& r, int max_files, int64_t tail_bytes, const LogSink& sink) {
  OpenLive(r);
  std::vector<std::string> names = RotatedLogFiles(r.path, max_files);
  std::vector<std::pair<int, int64_t>> files;  // fd, size; oldest first
  for (size_t i = names.size(); i-- > 1;) {
    int fd = open(names[i].c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    files.emplace_back(fd, fstat(fd, &st) == 0 ? st.st_size : 0);
  }
  struct stat st;
  int64_t live = r.fd >= 0 && fstat(r.fd, &st) == 0 ? st.st_size : 0;
  int64_t total = live;
  for (const auto& f : files) total += f.second;
  int64_t skip = tail_bytes >= 0 && tail_bytes < total ? total - tail_bytes : 0;
  bool go_on = true;
  for (const auto& [fd, size] : files) {
    if (go_on) {
      if (skip >= size) {
        skip -= size;
      } else {
        go_on = Drain(fd, r.stream, sink, skip);
        skip = 0;
      }
    }
    close(fd);
  }
  if (go_on && r.fd >= 0) go_on = Drain(r.fd, r.stream, sink, std::min(skip, live));
  return go_on;
}

ino_t InodeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// New output of the file being followed and of every file that replaced it
// since (a slow reader may see several rotations at once); false to stop.
bool Follow(Reader& r, int max_files, const LogSink& sink) {
  if (r.fd < 0 && !OpenLive(r)) return true;
  std::vector<std::string> names = RotatedLogFiles(r.path, max_files);
  for (int hop = 0; hop <= max_files + 1; ++hop) {
    if (!Drain(r.fd, r.stream, sink, 0)) return false;
    if (InodeOf(r.path) == r.ino) {
      struct stat cur;
      off_t pos = lseek(r.fd, 0, SEEK_CUR);
      if (fstat(r.fd, &cur) == 0 && cur.st_size < pos) lseek(r.fd, 0, SEEK_SET);  // truncated
      return true;
    }
    // Rotated: our file is now <path>.k and its successor <path>.(k-1). The
    // successor is the one opened while ours still sat at .k (a rotation
    // in between would shift both); mid-rotation names are briefly absent.
    int next = -1;
    for (int attempt = 0; attempt < 200 && next < 0; ++attempt) {
      for (int k = 1; k <= max_files && next < 0; ++k) {
        if (InodeOf(names[k]) != r.ino) continue;
        int fd = open(names[k - 1].c_str(), O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && InodeOf(names[k]) == r.ino) {
          next = fd;
        } else if (fd >= 0) {
          close(fd);
        }
      }
      if (next < 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // What was written to our file before it was renamed.
    if (!Drain(r.fd, r.stream, sink, 0)) return false;
    close(r.fd);
    r.fd = -1;
    if (next < 0) {
      // Our file was dropped (the reader fell more than max_files behind):
      // go on with the live one.
      if (!OpenLive(r)) return true;
      continue;
    }
    r.fd = next;
    struct stat st;
    r.ino = fstat(next, &st) == 0 ? st.st_ino : 0;
  }
  return true;
}

}  // namespace

Status StreamTaskLogs(const TaskLogFiles& files, const LogOptions& opts, const LogSink& sink,
                      const std::function<bool()>& running, std::chrono::milliseconds poll) {
  std::vector<Reader> readers(2);
  int n = 0;
  if (opts.stdout_stream) readers[n++] = Reader{LogStream::kStdout, files.stdout_path};
  if (opts.stderr_stream) readers[n++] = Reader{LogStream::kStderr, files.stderr_path};
  readers.resize(static_cast<size_t>(n));
  for (auto& r : readers) {
    if (!Dump(r, files.max_files, opts.tail_bytes, sink)) return Status::Ok();
  }
  if (!opts.follow) return Status::Ok();
  for (;;) {
    // Asked before reading: output written before the exit is read below.
    bool alive = running();
    for (auto& r : readers) {
      if (!Follow(r, files.max_files, sink)) return Status::Ok();
    }
    if (!alive) return Status::Ok();
    // An empty chunk between polls lets the sink say stop while the task is
    // quiet (e.g. the HTTP client that follows the logs went away).
    if (!readers.empty() && !sink(readers[0].stream, std::string_view())) return Status::Ok();
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace orch::agent
