// CheckTlsFiles: the checks a process makes on its TLS files at start-up, so
// a wrong file fails there with the file named, not later as a handshake
// that every peer refuses. Parses with OpenSSL 3 (libcrypto only).
#include "common/tls.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

#include "common/openssl_util.h"

namespace orch {
namespace {

using ossl::BioPtr;
using ossl::FormatTime;
using ossl::MemBio;
using ossl::NoPassphrase;
using ossl::PkeyPtr;
using ossl::TakeError;
using ossl::X509Ptr;

constexpr std::size_t kMaxPemBytes = 1 << 20;

struct StoreFree {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
struct StackFree {  // the stack only; its certificates are owned elsewhere
  void operator()(STACK_OF(X509) * p) const { sk_X509_free(p); }
};
using StorePtr = std::unique_ptr<X509_STORE, StoreFree>;
using StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, StoreCtxFree>;
using StackPtr = std::unique_ptr<STACK_OF(X509), StackFree>;

// The whole file; `flag` names it in errors ("--tls-ca /x/ca.pem").
Result<std::string> ReadPemFile(const std::string& path, const std::string& flag) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::InvalidArgument(flag + ": cannot read: " + std::strerror(errno));
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return Status::InvalidArgument(flag + ": cannot read: " + std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxPemBytes) {
      ::close(fd);
      return Status::InvalidArgument(flag + ": larger than 1 MiB, not a PEM file");
    }
  }
  ::close(fd);
  return text;
}

// Every certificate in `pem`, in order (other PEM blocks are skipped).
Result<std::vector<X509Ptr>> ParseCerts(const std::string& pem, const std::string& flag) {
  BioPtr bio = MemBio(pem);
  if (!bio) return Status::Internal(flag + ": out of memory");
  ERR_clear_error();
  std::vector<X509Ptr> certs;
  for (;;) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
    if (!cert) break;
    certs.push_back(std::move(cert));
  }
  unsigned long last = ERR_peek_last_error();
  bool at_end = ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE;
  if (certs.empty()) {
    ERR_clear_error();
    if (at_end) {
      return Status::InvalidArgument(flag +
                                     ": no PEM certificate in it (-----BEGIN CERTIFICATE-----)");
    }
    return Status::InvalidArgument(flag + ": not a PEM certificate: " + TakeError());
  }
  if (!at_end && last != 0) {
    return Status::InvalidArgument(flag + ": certificate " + std::to_string(certs.size() + 1) +
                                   " does not parse: " + TakeError());
  }
  ERR_clear_error();
  return certs;
}

Result<PkeyPtr> ParseKey(const std::string& pem, const std::string& flag) {
  BioPtr bio = MemBio(pem);
  if (!bio) return Status::Internal(flag + ": out of memory");
  ERR_clear_error();
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    if (pem.find("PRIVATE KEY-----") == std::string::npos) {
      ERR_clear_error();
      return Status::InvalidArgument(flag +
                                     ": no PEM private key in it (-----BEGIN PRIVATE KEY-----)");
    }
    if (pem.find("ENCRYPTED") != std::string::npos) {
      ERR_clear_error();
      return Status::InvalidArgument(flag +
                                     ": the key is encrypted; orch needs it without a passphrase");
    }
    return Status::InvalidArgument(flag + ": not a PEM private key: " + TakeError());
  }
  return key;
}

// "CN=orch cluster CA"
std::string Subject(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || cert == nullptr) return "?";
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return len > 0 ? std::string(data, static_cast<std::size_t>(len)) : "an empty subject";
}

bool Contains(const std::vector<X509Ptr>& certs, X509* cert) {
  for (const auto& c : certs) {
    if (X509_cmp(c.get(), cert) == 0) return true;
  }
  return false;
}

// Verifies certs[0] (intermediates: the rest) against the CA certificates.
Status VerifyChain(const std::string& ca_flag, const std::string& cert_flag,
                   const std::vector<X509Ptr>& ca, const std::vector<X509Ptr>& certs) {
  StorePtr store(X509_STORE_new());
  StackPtr untrusted(sk_X509_new_null());
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx) return Status::Internal("tls: out of memory");
  for (const auto& c : ca) {
    if (X509_STORE_add_cert(store.get(), c.get()) != 1) {
      return Status::InvalidArgument(ca_flag + ": cannot use " + Subject(c.get()) + ": " +
                                     TakeError());
    }
  }
  for (std::size_t i = 1; i < certs.size(); ++i) {
    if (sk_X509_push(untrusted.get(), certs[i].get()) <= 0) {
      return Status::Internal("tls: out of memory");
    }
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), certs[0].get(), untrusted.get()) != 1) {
    return Status::Internal("tls: cannot set up verification: " + TakeError());
  }
  if (X509_verify_cert(ctx.get()) == 1) {
    ERR_clear_error();
    return Status::Ok();
  }
  ERR_clear_error();
  int err = X509_STORE_CTX_get_error(ctx.get());
  int depth = X509_STORE_CTX_get_error_depth(ctx.get());
  X509* bad = X509_STORE_CTX_get_current_cert(ctx.get());
  if (err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID) {
    bool expired = err == X509_V_ERR_CERT_HAS_EXPIRED;
    std::string when = expired ? "expired on " + FormatTime(X509_get0_notAfter(bad))
                               : "is not valid until " + FormatTime(X509_get0_notBefore(bad)) +
                                     " (is this host's clock right?)";
    if (depth == 0) return Status::InvalidArgument(cert_flag + ": the certificate " + when);
    if (bad != nullptr && Contains(ca, bad)) {
      return Status::InvalidArgument(ca_flag + ": the CA certificate " + Subject(bad) + " " + when);
    }
    return Status::InvalidArgument(cert_flag + ": the intermediate certificate " + Subject(bad) +
                                   " " + when);
  }
  return Status::InvalidArgument(cert_flag + ": the certificate is not signed by the CA in " +
                                 ca_flag + ": " + X509_verify_cert_error_string(err));
}

}  // namespace

std::string_view TlsRoleName(TlsRole role) {
  switch (role) {
    case TlsRole::kServer:
      return "server.orch";
    case TlsRole::kAgent:
      return "agent.orch";
    case TlsRole::kClient:
      return "client.orch";
  }
  return "unknown.orch";
}

Status CheckTlsFiles(const TlsFiles& files, const TlsFlagNames& flags) {
  if (!files.enabled()) return Status::Ok();
  std::vector<std::string> missing;
  if (files.ca_file.empty()) missing.push_back(flags.ca);
  if (files.cert_file.empty()) missing.push_back(flags.cert);
  if (files.key_file.empty()) missing.push_back(flags.key);
  if (!missing.empty()) {
    std::string list = missing[0];
    if (missing.size() == 2) list += " and " + missing[1];
    return Status::InvalidArgument("TLS needs " + flags.ca + ", " + flags.cert + " and " +
                                   flags.key + " together: " + list +
                                   (missing.size() == 1 ? " is" : " are") + " not set");
  }
  const std::string ca_flag = flags.ca + " " + files.ca_file;
  const std::string cert_flag = flags.cert + " " + files.cert_file;
  const std::string key_flag = flags.key + " " + files.key_file;

  ORCH_ASSIGN_OR_RETURN(std::string ca_pem, ReadPemFile(files.ca_file, ca_flag));
  ORCH_ASSIGN_OR_RETURN(std::string cert_pem, ReadPemFile(files.cert_file, cert_flag));
  ORCH_ASSIGN_OR_RETURN(std::string key_pem, ReadPemFile(files.key_file, key_flag));
  ORCH_ASSIGN_OR_RETURN(std::vector<X509Ptr> ca, ParseCerts(ca_pem, ca_flag));
  ORCH_ASSIGN_OR_RETURN(std::vector<X509Ptr> certs, ParseCerts(cert_pem, cert_flag));
  ORCH_ASSIGN_OR_RETURN(PkeyPtr key, ParseKey(key_pem, key_flag));

  if (X509_check_private_key(certs[0].get(), key.get()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument(key_flag + ": the key does not match the certificate in " +
                                   cert_flag);
  }
  return VerifyChain(ca_flag, cert_flag, ca, certs);
}

}  // namespace orch
