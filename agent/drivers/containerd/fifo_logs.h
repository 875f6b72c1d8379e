// FifoLogs: copies containerd tasks' output into their log files. Each task
// has a FIFO per stream, which containerd's shim opens for writing; this
// copier holds the read side (opened read-write, so it never sees an end of
// file while the shim comes and goes) and appends what arrives to the
// task's file, rotating it as the exec driver's shim does (<file>.1 ..
// <file>.N, oldest dropped), so StreamTaskLogs reads both alike. One thread
// and epoll for every FIFO, however many tasks run.
// While the agent is away the shim keeps its end open and the FIFO holds
// what the task writes (then the task blocks on writing); a new agent's copier
// picks it up (Add on an existing FIFO).
// Thread safety: all methods are thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"

namespace orch::agent {

struct FifoLogOptions {
  int64_t max_file_bytes = 10 * 1024 * 1024;  // 0: never rotate
  int max_files = 3;                          // rotated files kept
};

class FifoLogs {
 public:
  static Result<std::unique_ptr<FifoLogs>> Start(FifoLogOptions options = {});
  ~FifoLogs();
  FifoLogs(const FifoLogs&) = delete;
  FifoLogs& operator=(const FifoLogs&) = delete;

  // Makes the FIFO at `fifo` (mode 0600) unless it exists and copies what
  // it carries to `file` (appended). Adding a FIFO copied already is a no-op.
  Status Add(const std::string& fifo, const std::string& file);
  // Copies what is left in the FIFO, stops copying it and removes it.
  void Close(const std::string& fifo);
  std::size_t size() const;

 private:
  struct Entry {
    int fd = -1;
    int out = -1;
    std::string file;
    int64_t size = 0;
  };
  explicit FifoLogs(FifoLogOptions options) : options_(options) {}
  void Loop();
  // Reads what is there (until EAGAIN) into the file. REQUIRES: mu_.
  void Copy(Entry& e);
  void Rotate(Entry& e);

  const FifoLogOptions options_;
  int epoll_ = -1;
  int wake_ = -1;  // eventfd: stop
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // GUARDED_BY(mu_), by FIFO path
  std::map<int, std::string> by_fd_;      // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace orch::agent
