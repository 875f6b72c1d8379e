#include "common/tls_certs.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <ctime>
#include <memory>
#include <utility>

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

struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
struct GeneralNameFree {
  void operator()(GENERAL_NAME* p) const { GENERAL_NAME_free(p); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
struct Asn1StringFree {
  void operator()(ASN1_STRING* p) const { ASN1_STRING_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, ExtFree>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, GeneralNameFree>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, GeneralNamesFree>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, Asn1StringFree>;

constexpr long kClockSkewSeconds = 60;

Status OpensslFailure(const std::string& what) {
  return Status::Internal("tls: cannot " + what + ": " + TakeError());
}

Status CheckDays(int days) {
  if (days < kMinCertDays || days > kMaxCertDays) {
    return Status::InvalidArgument("validity of " + std::to_string(days) + " days: must be " +
                                   std::to_string(kMinCertDays) + " to " +
                                   std::to_string(kMaxCertDays));
  }
  return Status::Ok();
}

Result<PkeyPtr> NewKey() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return OpensslFailure("make an ECDSA P-256 key");
  return key;
}

// An unsigned v3 certificate for `key` named CN=`common_name`: random
// positive 128-bit serial, valid from a minute ago (plus `shift`) for `days`.
Result<X509Ptr> NewCert(const std::string& common_name, EVP_PKEY* key, int days,
                        std::chrono::seconds shift) {
  X509Ptr cert(X509_new());
  if (!cert) return OpensslFailure("make a certificate");
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) return OpensslFailure("draw a serial");
  BnPtr serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  if (serial && BN_is_zero(serial.get())) BN_one(serial.get());  // a serial must be positive
  if (!serial || BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return OpensslFailure("set the serial");
  }
  const long shift_s = static_cast<long>(shift.count());
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1 ||
      X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, shift_s - kClockSkewSeconds, nullptr) ==
          nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, shift_s, nullptr) == nullptr ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return OpensslFailure("fill in the certificate for " + common_name);
  }
  return cert;
}

// Adds the extension `nid` written as in openssl.cnf ("critical,CA:TRUE").
Status AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpensslFailure(std::string("add ") + OBJ_nid2sn(nid) + " " + value);
  }
  return Status::Ok();
}

Result<std::string> ToPem(X509* cert, EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio) return OpensslFailure("write PEM");
  int ok = cert != nullptr
               ? PEM_write_bio_X509(bio.get(), cert)
               : PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  if (ok != 1) return OpensslFailure("write PEM");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

Result<PemPair> Sign(X509* cert, EVP_PKEY* ca_key, EVP_PKEY* key) {
  if (X509_sign(cert, ca_key, EVP_sha256()) <= 0) return OpensslFailure("sign the certificate");
  PemPair out;
  ORCH_ASSIGN_OR_RETURN(out.cert_pem, ToPem(cert, nullptr));
  ORCH_ASSIGN_OR_RETURN(out.key_pem, ToPem(nullptr, key));
  return out;
}

struct CaParts {
  X509Ptr cert;
  PkeyPtr key;
};

Result<CaParts> ParseCa(const PemPair& ca) {
  CaParts parts;
  ERR_clear_error();
  BioPtr cert_bio = MemBio(ca.cert_pem);
  BioPtr key_bio = MemBio(ca.key_pem);
  if (!cert_bio || !key_bio) return OpensslFailure("read the CA");
  parts.cert.reset(PEM_read_bio_X509(cert_bio.get(), nullptr, NoPassphrase, nullptr));
  if (!parts.cert) {
    return Status::InvalidArgument("the CA certificate is not a PEM certificate: " + TakeError());
  }
  parts.key.reset(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassphrase, nullptr));
  if (!parts.key) {
    if (ca.key_pem.find("PRIVATE KEY-----") == std::string::npos) {
      ERR_clear_error();
      return Status::InvalidArgument(
          "the CA key is not a PEM private key (-----BEGIN PRIVATE KEY-----)");
    }
    if (ca.key_pem.find("ENCRYPTED") != std::string::npos) {
      ERR_clear_error();
      return Status::InvalidArgument("the CA key is encrypted; orch needs it without a passphrase");
    }
    return Status::InvalidArgument("the CA key is not a PEM private key: " + TakeError());
  }
  if (X509_check_private_key(parts.cert.get(), parts.key.get()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("the CA key does not match the CA certificate");
  }
  if (X509_check_ca(parts.cert.get()) == 0) {
    return Status::InvalidArgument(
        "the CA certificate may not sign certificates (it lacks basicConstraints CA:TRUE or "
        "keyUsage keyCertSign)");
  }
  if (X509_cmp_current_time(X509_get0_notAfter(parts.cert.get())) < 0) {
    return Status::InvalidArgument("the CA certificate expired on " +
                                   FormatTime(X509_get0_notAfter(parts.cert.get())));
  }
  ERR_clear_error();
  return parts;
}

bool ValidDnsName(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (unsigned char c : name) {
    if (!std::isalnum(c) && c != '-' && c != '.' && c != '*') return false;
  }
  return true;
}

bool EqualNoCase(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// 4 or 16 bytes; InvalidArgument when `ip` is neither IPv4 nor IPv6.
Result<std::string> ParseIp(const std::string& ip) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) return std::string(buf, buf + 4);
  if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) return std::string(buf, buf + 16);
  return Status::InvalidArgument("IP address \"" + ip + "\": not an IPv4 or IPv6 address");
}

// The subject alternative names of `req`, without duplicates, in order: the
// role's name, localhost and the loopback addresses (server and agent),
// then the extra names and addresses.
Result<GeneralNamesPtr> AltNames(const CertRequest& req) {
  std::vector<std::string> dns{std::string(TlsRoleName(req.role))};
  std::vector<std::string> ips;
  if (req.role != TlsRole::kClient) {
    dns.push_back("localhost");
    ips.push_back(*ParseIp("127.0.0.1"));
    ips.push_back(*ParseIp("::1"));
  }
  for (const std::string& name : req.dns_names) {
    if (!ValidDnsName(name)) {
      return Status::InvalidArgument("DNS name \"" + name +
                                     "\": must be letters, digits, '-', '.' or '*' (at most "
                                     "253)");
    }
    bool seen = false;
    for (const std::string& d : dns) seen = seen || EqualNoCase(d, name);
    if (!seen) dns.push_back(name);
  }
  for (const std::string& ip : req.ip_addresses) {
    ORCH_ASSIGN_OR_RETURN(std::string bytes, ParseIp(ip));
    bool seen = false;
    for (const std::string& i : ips) seen = seen || i == bytes;
    if (!seen) ips.push_back(std::move(bytes));
  }

  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return OpensslFailure("list the subject alternative names");
  auto add = [&](int type, const std::string& value) -> Status {
    Asn1StringPtr s(type == GEN_DNS ? ASN1_IA5STRING_new() : ASN1_OCTET_STRING_new());
    GeneralNamePtr g(GENERAL_NAME_new());
    if (!s || !g || ASN1_STRING_set(s.get(), value.data(), static_cast<int>(value.size())) != 1) {
      return OpensslFailure("add a subject alternative name");
    }
    GENERAL_NAME_set0_value(g.get(), type, s.release());
    if (sk_GENERAL_NAME_push(names.get(), g.get()) <= 0) {
      return OpensslFailure("add a subject alternative name");
    }
    g.release();  // owned by `names`
    return Status::Ok();
  };
  for (const std::string& d : dns) ORCH_RETURN_IF_ERROR(add(GEN_DNS, d));
  for (const std::string& i : ips) ORCH_RETURN_IF_ERROR(add(GEN_IPADD, i));
  return names;
}

}  // namespace

Result<PemPair> MakeCa(const CaRequest& req) {
  if (req.common_name.empty() || req.common_name.size() > 64) {
    return Status::InvalidArgument("CA common name \"" + req.common_name +
                                   "\": must be 1 to 64 characters");
  }
  ORCH_RETURN_IF_ERROR(CheckDays(req.days));
  ERR_clear_error();
  ORCH_ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  ORCH_ASSIGN_OR_RETURN(X509Ptr cert,
                        NewCert(req.common_name, key.get(), req.days, req.validity_shift));
  X509* c = cert.get();
  if (X509_set_issuer_name(c, X509_get_subject_name(c)) != 1) {
    return OpensslFailure("set the CA's issuer");
  }
  ORCH_RETURN_IF_ERROR(AddExtension(c, c, NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  ORCH_RETURN_IF_ERROR(
      AddExtension(c, c, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature"));
  ORCH_RETURN_IF_ERROR(AddExtension(c, c, NID_subject_key_identifier, "hash"));
  return Sign(c, key.get(), key.get());
}

Status CheckCaPair(const PemPair& ca) { return ParseCa(ca).status(); }

Result<PemPair> MakeCert(const PemPair& ca, const CertRequest& req) {
  ORCH_RETURN_IF_ERROR(CheckDays(req.days));
  ORCH_ASSIGN_OR_RETURN(GeneralNamesPtr alt_names, AltNames(req));
  ORCH_ASSIGN_OR_RETURN(CaParts issuer, ParseCa(ca));
  ORCH_ASSIGN_OR_RETURN(PkeyPtr key, NewKey());
  const std::string role(TlsRoleName(req.role));
  ORCH_ASSIGN_OR_RETURN(X509Ptr cert, NewCert(role, key.get(), req.days, req.validity_shift));
  X509* c = cert.get();
  X509* ca_cert = issuer.cert.get();
  if (X509_set_issuer_name(c, X509_get_subject_name(ca_cert)) != 1) {
    return OpensslFailure("set the certificate's issuer");
  }
  if (X509_add1_ext_i2d(c, NID_subject_alt_name, alt_names.get(), 0, X509V3_ADD_DEFAULT) != 1) {
    return OpensslFailure("add the subject alternative names");
  }
  ORCH_RETURN_IF_ERROR(AddExtension(c, ca_cert, NID_basic_constraints, "critical,CA:FALSE"));
  ORCH_RETURN_IF_ERROR(
      AddExtension(c, ca_cert, NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  ORCH_RETURN_IF_ERROR(
      AddExtension(c, ca_cert, NID_ext_key_usage,
                   req.role == TlsRole::kClient ? "clientAuth" : "serverAuth,clientAuth"));
  ORCH_RETURN_IF_ERROR(AddExtension(c, ca_cert, NID_subject_key_identifier, "hash"));
  // The CA's key id; its issuer and serial when the CA has no key id.
  ORCH_RETURN_IF_ERROR(AddExtension(c, ca_cert, NID_authority_key_identifier, "keyid,issuer"));
  return Sign(c, issuer.key.get(), key.get());
}

}  // namespace orch
