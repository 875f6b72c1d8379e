// Making the cluster's certificates in memory (README "Securing a cluster"):
// the cluster CA, and the certificates it signs for a role (common/tls.h),
// which carry the role's name ("server.orch", ...) as a DNS subject
// alternative name. `orchctl tls` writes them to files; tests that need
// certificates call these directly. Keys are ECDSA P-256, signatures
// SHA-256, PEM out (certificate; unencrypted PKCS#8 key).
// Thread safety: stateless functions; safe to call concurrently.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tls.h"

namespace orch {

struct PemPair {
  std::string cert_pem;  // -----BEGIN CERTIFICATE-----
  std::string key_pem;   // -----BEGIN PRIVATE KEY----- (PKCS#8, no passphrase)
};

// Validity bounds, in days, of MakeCa and MakeCert.
inline constexpr int kMinCertDays = 1;
inline constexpr int kMaxCertDays = 36500;

struct CaRequest {
  std::string common_name = "orch cluster CA";  // 1 to 64 characters
  int days = 1825;                              // kMinCertDays..kMaxCertDays
  // Tests only: moves the validity window by this much (a shift of more
  // than -days makes a CA that has already expired). 0 in real use.
  std::chrono::seconds validity_shift{0};
};

// A self-signed CA: X.509 v3, random 128-bit serial, basicConstraints
// critical CA:TRUE pathlen 0 (it signs only end certificates), keyUsage
// critical keyCertSign, cRLSign, digitalSignature; subjectKeyIdentifier;
// valid from a minute ago (clock skew) for `days`.
// InvalidArgument for a bad common name or days.
Result<PemPair> MakeCa(const CaRequest& req);

struct CertRequest {
  TlsRole role = TlsRole::kServer;
  int days = 365;  // kMinCertDays..kMaxCertDays
  // Extra subject alternative names: DNS names (letters, digits, '-', '.',
  // '*') and IPv4/IPv6 addresses, e.g. a master's public name and address.
  std::vector<std::string> dns_names{};
  std::vector<std::string> ip_addresses{};
  // Tests only: moves the validity window by this much (a shift of more
  // than -days makes a certificate that has already expired). 0 in real use.
  std::chrono::seconds validity_shift{0};
};

// A certificate for `req.role` signed by `ca` (from MakeCa, or any CA whose
// key is given): CN and DNS SAN the role's name; server and agent
// certificates also name localhost, 127.0.0.1 and ::1 and may serve and
// dial (extendedKeyUsage serverAuth, clientAuth), client certificates only
// dial (clientAuth). keyUsage critical digitalSignature, keyEncipherment;
// basicConstraints CA:FALSE; subject and authority key identifiers. Valid
// from a minute ago for `days`.
// InvalidArgument for bad names, addresses or days, or a CA pair that does
// not parse, does not match or is no CA (see CheckCaPair).
Result<PemPair> MakeCert(const PemPair& ca, const CertRequest& req);

// Ok when `ca`'s certificate and key parse as PEM, the key is the
// certificate's, the certificate is a CA (may sign certificates) and has
// not expired; InvalidArgument saying which is wrong otherwise. MakeCert
// checks the same; callers reading the pair from files call it first to
// name the files in the error.
Status CheckCaPair(const PemPair& ca);

}  // namespace orch
