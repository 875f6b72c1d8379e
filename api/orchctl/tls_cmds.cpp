#include "api/orchctl/tls_cmds.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

namespace orch::ctl {
namespace {

constexpr std::size_t kMaxPemBytes = 1 << 20;

// Closes on destruction unless Close() did.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // 0, or the errno of close(2).
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

std::string InDir(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir == ".") return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

// `flag` names the file in errors ("--ca orch-ca.pem").
Result<std::string> ReadPem(const std::string& path, const std::string& flag) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  auto failed = [&](int err) {
    std::string hint = err == ENOENT ? " (make a CA with 'orchctl tls ca create')" : "";
    return Status::InvalidArgument(flag + " " + path + ": cannot read: " + std::strerror(err) +
                                   hint);
  };
  if (fd.get() < 0) return failed(errno);
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed(errno);
    if (n == 0) return text;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxPemBytes) {
      return Status::InvalidArgument(flag + " " + path + ": larger than 1 MiB, not a PEM file");
    }
  }
}

struct NewFile {
  std::string path;
  std::string what;  // "CA certificate"
  std::string data;
  mode_t mode;
};

// Creates f.path, which must not exist, and writes it whole and fsynced.
// *created is true once the file exists because of this call.
Status WriteNew(const NewFile& f, bool* created) {
  *created = false;
  Fd fd(::open(f.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, f.mode));
  if (fd.get() < 0) {
    int err = errno;
    if (err == EEXIST) {
      return Status::AlreadyExists(f.path + " already exists; not overwriting it");
    }
    return Status::FailedPrecondition("cannot create " + f.path + ": " + std::strerror(err));
  }
  *created = true;
  auto failed = [&](int err) {
    return Status::FailedPrecondition("cannot write " + f.path + ": " + std::strerror(err));
  };
  const char* p = f.data.data();
  std::size_t left = f.data.size();
  while (left > 0) {
    ssize_t n = ::write(fd.get(), p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed(errno);
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return failed(errno);
  if (int err = fd.Close(); err != 0) return failed(err);
  return Status::Ok();
}

// Best effort: the new names survive a crash too. The files' contents are
// already synced; a directory that cannot be synced is no reason to fail.
void SyncDir(const std::string& dir) {
  Fd fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() >= 0) (void)::fsync(fd.get());
}

// All of `files` or none: refuses when any exists, removes what it created
// when one fails. Prints one line per file once all are written.
Status WriteAll(std::ostream& out, const std::string& dir, const std::vector<NewFile>& files) {
  for (const NewFile& f : files) {
    struct stat st;
    if (::lstat(f.path.c_str(), &st) == 0) {
      return Status::AlreadyExists(f.path +
                                   " already exists; not overwriting it (move it away, or "
                                   "write elsewhere with --dir)");
    }
  }
  // A --dir that does not exist yet is made (0700: it will hold keys).
  if (!dir.empty()) {
    std::error_code ec;
    if (std::filesystem::create_directories(dir, ec)) {
      std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    }
    if (ec) return Status::Unavailable("cannot create the directory " + dir + ": " + ec.message());
  }
  std::vector<std::string> created;
  for (const NewFile& f : files) {
    bool made = false;
    Status st = WriteNew(f, &made);
    if (made) created.push_back(f.path);
    if (!st.ok()) {
      for (const std::string& path : created) ::unlink(path.c_str());
      return st;
    }
  }
  SyncDir(dir);
  for (const NewFile& f : files) out << "==> " << f.what << " saved to " << f.path << "\n";
  out.flush();
  return Status::Ok();
}

std::string RoleWord(TlsRole role) {
  switch (role) {
    case TlsRole::kServer:
      return "server";
    case TlsRole::kAgent:
      return "agent";
    case TlsRole::kClient:
      return "client";
  }
  return "unknown";
}

}  // namespace

std::string TlsCertFileName(TlsRole role) { return "orch-" + RoleWord(role) + ".pem"; }
std::string TlsKeyFileName(TlsRole role) { return "orch-" + RoleWord(role) + "-key.pem"; }

Status TlsCaCreate(std::ostream& out, const std::string& dir, const CaRequest& req) {
  ORCH_ASSIGN_OR_RETURN(PemPair ca, MakeCa(req));
  return WriteAll(out, dir,
                  {{InDir(dir, kTlsCaFile), "CA certificate", std::move(ca.cert_pem), 0644},
                   {InDir(dir, kTlsCaKeyFile), "CA key", std::move(ca.key_pem), 0600}});
}

Status TlsCertCreate(std::ostream& out, const std::string& dir, const std::string& ca_file,
                     const std::string& ca_key_file, const CertRequest& req) {
  PemPair ca;
  ORCH_ASSIGN_OR_RETURN(ca.cert_pem, ReadPem(ca_file, "--ca"));
  ORCH_ASSIGN_OR_RETURN(ca.key_pem, ReadPem(ca_key_file, "--ca-key"));
  if (Status st = CheckCaPair(ca); !st.ok()) {
    return Status::InvalidArgument("--ca " + ca_file + ", --ca-key " + ca_key_file + ": " +
                                   st.message());
  }
  ORCH_ASSIGN_OR_RETURN(PemPair pair, MakeCert(ca, req));
  std::string word = RoleWord(req.role);
  word[0] = static_cast<char>(word[0] - 'a' + 'A');
  return WriteAll(
      out, dir,
      {{InDir(dir, TlsCertFileName(req.role)), word + " certificate", std::move(pair.cert_pem),
        0644},
       {InDir(dir, TlsKeyFileName(req.role)), word + " key", std::move(pair.key_pem), 0600}});
}

}  // namespace orch::ctl
