#include "agent/disk_archive.h"

#include <fcntl.h>
#include <ftw.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace orch::agent {

struct Sha256State {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  Sha256State() { EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr); }
  ~Sha256State() { EVP_MD_CTX_free(ctx); }
  void Add(std::string_view b) { EVP_DigestUpdate(ctx, b.data(), b.size()); }
  std::string Hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, md, &n);
    std::string out;
    char buf[3];
    for (unsigned int i = 0; i < n; ++i) {
      snprintf(buf, sizeof buf, "%02x", md[i]);
      out += buf;
    }
    return out;
  }
};

namespace {

std::string Trailer(Sha256State& sha, uint64_t bytes) {
  char len[17];
  snprintf(len, sizeof len, "%016llx", static_cast<unsigned long long>(bytes));
  return "orch-disk-end " + sha.Hex() + " " + len + "\n";
}

// What one write to the reader carries at most (a pipe read gives 64 KiB at
// most; each write of a streamed answer waits for the connection).
constexpr size_t kPiece = 1 << 20;

std::string Errno(const char* what) { return std::string(what) + ": " + strerror(errno); }

// What tar wrote to stderr (its last 1 KiB, one line), from its memfd.
std::string StderrTail(int fd) {
  std::string text;
  off_t end = lseek(fd, 0, SEEK_END);
  if (end <= 0) return text;
  off_t from = end > 1024 ? end - 1024 : 0;
  text.resize(static_cast<size_t>(end - from));
  ssize_t n = pread(fd, text.data(), text.size(), from);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  for (char& c : text) {
    if (c == '\n') c = ';';
  }
  return text;
}

// Runs tar with `args` (after "tar"); the parent keeps `parent_end` of a
// pipe whose other end is tar's fd `child_fd` (0 or 1); stderr to a memfd.
struct Spawned {
  pid_t pid = -1;
  int pipe = -1;
  int err = -1;
};

Result<Spawned> SpawnTar(const std::vector<std::string>& args, int child_fd) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return Status::Internal(Errno("pipe"));
  int err = memfd_create("orch-tar-stderr", MFD_CLOEXEC);
  if (err < 0) {
    close(p[0]);
    close(p[1]);
    return Status::Internal(Errno("memfd_create"));
  }
  int child_end = child_fd == 0 ? p[0] : p[1];
  int parent_end = child_fd == 0 ? p[1] : p[0];
  std::vector<std::string> argv_s = {"tar"};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  char path_env[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  char lang_env[] = "LC_ALL=C";
  char* envp[] = {path_env, lang_env, nullptr};

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, child_end, child_fd);
  if (child_fd == 0) {
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  } else {
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&fa, err, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);  // the agent blocks its shutdown signals
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, "tar", &fa, &attr, argv.data(), envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(child_end);
  if (rc != 0) {
    close(parent_end);
    close(err);
    return Status::Unavailable(std::string("cannot run tar: ") + strerror(rc));
  }
  return Spawned{pid, parent_end, err};
}

// Waits for `pid`; Ok when it exited 0.
Status WaitTar(pid_t pid, int err, const char* what) {
  int ws = 0;
  while (waitpid(pid, &ws, 0) < 0) {
    if (errno != EINTR) return Status::Internal(Errno("waitpid"));
  }
  if (WIFEXITED(ws) && WEXITSTATUS(ws) == 0) return Status::Ok();
  std::string why = WIFEXITED(ws) ? "exited with code " + std::to_string(WEXITSTATUS(ws))
                                  : "killed by signal " + std::to_string(WTERMSIG(ws));
  std::string said = StderrTail(err);
  return Status::Internal(std::string(what) + ": tar " + why +
                          (said.empty() ? "" : " (" + said + ")"));
}

thread_local int64_t walk_bytes = 0;
thread_local int64_t walk_entries = 0;
thread_local int64_t walk_max = 0;

int CountEntry(const char*, const struct stat* st, int type, struct FTW*) {
  if (++walk_entries > walk_max) return 1;
  if (type == FTW_F && S_ISREG(st->st_mode)) walk_bytes += st->st_size;
  return 0;
}

}  // namespace

Status TarDirectory(const std::string& dir, const std::function<bool(std::string_view)>& write) {
  ORCH_ASSIGN_OR_RETURN(Spawned t,
                        SpawnTar({"--create", "--file=-", "--directory=" + dir, "--one-file-system",
                                  "--numeric-owner", "--sparse", "."},
                                 1));
  std::vector<char> buf(kPiece);
  size_t held = 0;
  Status st;
  Sha256State sha;
  uint64_t total = 0;
  for (bool eof = false; !eof;) {
    ssize_t n = read(t.pipe, buf.data() + held, buf.size() - held);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      st = Status::Internal(Errno("reading tar's output"));
      break;
    }
    eof = n == 0;
    held += static_cast<size_t>(n);
    if (held == 0 || (held < buf.size() && !eof)) continue;
    std::string_view piece(buf.data(), held);
    sha.Add(piece);
    total += piece.size();
    held = 0;
    if (!write(piece)) {
      st = Status::Unavailable("the reader of the archive went away");
      break;
    }
  }
  close(t.pipe);
  if (!st.ok()) kill(t.pid, SIGKILL);
  Status waited = WaitTar(t.pid, t.err, ("archiving " + dir).c_str());
  close(t.err);
  if (!st.ok()) return st;
  if (!waited.ok()) return waited;  // no trailer: the reader refuses what it got
  if (!write(Trailer(sha, total)))
    return Status::Unavailable("the reader of the archive went away");
  return Status::Ok();
}

Result<int64_t> DirectoryBytes(const std::string& dir, int64_t max_entries) {
  walk_bytes = 0;
  walk_entries = 0;
  walk_max = max_entries;
  int rc = nftw(dir.c_str(), CountEntry, 32, FTW_PHYS | FTW_MOUNT);
  if (rc == 1) {
    return Status::ResourceExhausted(dir + " holds more than " + std::to_string(max_entries) +
                                     " entries");
  }
  if (rc != 0) {
    if (errno == ENOENT) return Status::NotFound(dir + " does not exist");
    return Status::Internal(Errno(("walking " + dir).c_str()));
  }
  return walk_bytes;
}

Result<std::unique_ptr<TarExtractor>> TarExtractor::Start(const std::string& dir) {
  ORCH_ASSIGN_OR_RETURN(Spawned t,
                        SpawnTar({"--extract", "--file=-", "--directory=" + dir, "--numeric-owner",
                                  "--preserve-permissions", "--no-overwrite-dir"},
                                 0));
  return std::unique_ptr<TarExtractor>(new TarExtractor(t.pid, t.pipe, t.err));
}

TarExtractor::TarExtractor(pid_t pid, int in, int err)
    : pid_(pid), in_(in), err_(err), sha_(std::make_unique<Sha256State>()) {}

TarExtractor::~TarExtractor() {
  if (in_ >= 0) close(in_);
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int ws;
    while (waitpid(pid_, &ws, 0) < 0 && errno == EINTR) {
    }
  }
  if (err_ >= 0) close(err_);
}

Status TarExtractor::Write(std::string_view bytes) {
  if (in_ < 0) return Status::FailedPrecondition("the extraction is finished");
  // The last kTrailerBytes stay back: they may be the trailer.
  held_.append(bytes);
  if (held_.size() <= kTrailerBytes) return Status::Ok();
  size_t pass = held_.size() - kTrailerBytes;
  Status st = Feed(std::string_view(held_).substr(0, pass));
  held_.erase(0, pass);
  return st;
}

Status TarExtractor::Feed(std::string_view bytes) {
  sha_->Add(bytes);
  fed_ += bytes.size();
  while (!bytes.empty()) {
    // EPIPE (the agent ignores SIGPIPE): tar has exited; its status says why.
    ssize_t n = write(in_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status why = Reap("extracting");
      return why.ok() ? Status::Internal("tar stopped reading the archive early") : why;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status TarExtractor::Finish() {
  if (in_ < 0) return Status::FailedPrecondition("the extraction is finished");
  if (held_ != Trailer(*sha_, fed_)) {
    kill(pid_, SIGKILL);
    (void)Reap("extracting");
    return Status::Internal("the archive is incomplete or damaged (its trailer does not match; " +
                            std::to_string(fed_ + held_.size()) + " bytes received)");
  }
  return Reap("extracting");
}

Status TarExtractor::Reap(const char* what) {
  if (in_ >= 0) {
    close(in_);
    in_ = -1;
  }
  if (pid_ <= 0) return Status::FailedPrecondition("tar has already been waited for");
  Status st = WaitTar(pid_, err_, what);
  pid_ = -1;
  return st;
}

}  // namespace orch::agent
