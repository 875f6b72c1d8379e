#include "agent/drivers/containerd/fifo_logs.h"

#include <errno.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace orch::agent {

Result<std::unique_ptr<FifoLogs>> FifoLogs::Start(FifoLogOptions options) {
  std::unique_ptr<FifoLogs> f(new FifoLogs(options));
  f->epoll_ = epoll_create1(EPOLL_CLOEXEC);
  f->wake_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (f->epoll_ < 0 || f->wake_ < 0) {
    return Status::Internal(std::string("task log copier: epoll: ") + strerror(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = f->wake_;
  epoll_ctl(f->epoll_, EPOLL_CTL_ADD, f->wake_, &ev);
  f->thread_ = std::thread([p = f.get()] { p->Loop(); });
  return f;
}

FifoLogs::~FifoLogs() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!write(wake_, &one, sizeof one);
    thread_.join();
  }
  std::lock_guard lk(mu_);
  for (auto& [path, e] : entries_) {
    Copy(e);  // what is there; the FIFOs stay for the next agent
    close(e.fd);
    close(e.out);
  }
  if (epoll_ >= 0) close(epoll_);
  if (wake_ >= 0) close(wake_);
}

Status FifoLogs::Add(const std::string& fifo, const std::string& file) {
  std::lock_guard lk(mu_);
  if (entries_.count(fifo)) return Status::Ok();
  if (mkfifo(fifo.c_str(), 0600) != 0 && errno != EEXIST) {
    return Status::Internal("mkfifo " + fifo + ": " + strerror(errno));
  }
  struct stat st {};
  if (lstat(fifo.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode)) {
    return Status::FailedPrecondition(fifo + " exists and is not a FIFO");
  }
  Entry e;
  e.fd = open(fifo.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
  if (e.fd < 0) return Status::Internal("open " + fifo + ": " + strerror(errno));
  e.out = open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (e.out < 0) {
    Status s = Status::Internal("open " + file + ": " + strerror(errno));
    close(e.fd);
    return s;
  }
  struct stat os {};
  if (fstat(e.out, &os) == 0) e.size = os.st_size;
  e.file = file;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = e.fd;
  if (epoll_ctl(epoll_, EPOLL_CTL_ADD, e.fd, &ev) != 0) {
    Status s = Status::Internal(std::string("epoll_ctl: ") + strerror(errno));
    close(e.fd);
    close(e.out);
    return s;
  }
  by_fd_[e.fd] = fifo;
  entries_[fifo] = e;
  return Status::Ok();
}

void FifoLogs::Close(const std::string& fifo) {
  std::lock_guard lk(mu_);
  auto it = entries_.find(fifo);
  if (it != entries_.end()) {
    Entry& e = it->second;
    Copy(e);
    epoll_ctl(epoll_, EPOLL_CTL_DEL, e.fd, nullptr);
    by_fd_.erase(e.fd);
    close(e.fd);
    close(e.out);
    entries_.erase(it);
  }
  unlink(fifo.c_str());
}

std::size_t FifoLogs::size() const {
  std::lock_guard lk(mu_);
  return entries_.size();
}

void FifoLogs::Rotate(Entry& e) {
  if (options_.max_files <= 0) {
    (void)!ftruncate(e.out, 0);
    e.size = 0;
    return;
  }
  for (int i = options_.max_files - 1; i >= 0; --i) {
    std::string from = i == 0 ? e.file : e.file + "." + std::to_string(i);
    std::string to = e.file + "." + std::to_string(i + 1);
    std::rename(from.c_str(), to.c_str());
  }
  int fd = open(e.file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) {
    close(e.out);
    e.out = fd;
  }
  e.size = 0;
}

void FifoLogs::Copy(Entry& e) {
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = read(e.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // EAGAIN: all there was
    const char* p = buf;
    while (n > 0) {
      if (options_.max_file_bytes > 0 && e.size >= options_.max_file_bytes) Rotate(e);
      ssize_t k =
          options_.max_file_bytes > 0 ? std::min<ssize_t>(n, options_.max_file_bytes - e.size) : n;
      ssize_t w = write(e.out, p, static_cast<size_t>(k));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        // Disk full: this output is lost; the task goes on.
        spdlog::warn("task log {}: {}", e.file, w < 0 ? strerror(errno) : "short write");
        break;
      }
      p += w;
      n -= w;
      e.size += w;
    }
  }
}

void FifoLogs::Loop() {
  epoll_event events[64];
  for (;;) {
    int n = epoll_wait(epoll_, events, 64, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      spdlog::error("task log copier: epoll_wait: {}", strerror(errno));
      return;
    }
    std::lock_guard lk(mu_);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == wake_) return;
      auto it = by_fd_.find(events[i].data.fd);
      if (it == by_fd_.end()) continue;
      Copy(entries_[it->second]);
    }
  }
}

}  // namespace orch::agent
