// orchctl's TLS verbs (README "Securing a cluster"; as `nomad tls ca create`
// and `nomad tls cert create`): `tls ca create` makes the cluster CA,
// `tls cert create` a certificate it signs for a master (server), an agent
// or a user (client), as PEM files in a directory (common/tls_certs.h makes
// them). They only write files: no master is needed.
// Files are never overwritten: when one already exists nothing is written.
// Keys are created 0600 (O_EXCL, never readable by others, even briefly),
// certificates 0644 (less the umask); each is fsynced, and a failure part
// way removes what the call had created. One line per file written goes to
// `out` once all are written.
// Thread safety: stateless; two calls writing the same files race only to
// O_EXCL, and one of them fails.
#pragma once

#include <ostream>
#include <string>

#include "common/status.h"
#include "common/tls_certs.h"

namespace orch::ctl {

// The CA's file names, in `dir` for `tls ca create` and the defaults of
// `tls cert create --ca / --ca-key` (in the current directory).
inline constexpr const char* kTlsCaFile = "orch-ca.pem";
inline constexpr const char* kTlsCaKeyFile = "orch-ca-key.pem";

// "orch-server.pem", "orch-agent.pem", "orch-client.pem"; the key's name
// ends in "-key.pem" instead.
std::string TlsCertFileName(TlsRole role);
std::string TlsKeyFileName(TlsRole role);

// Writes <dir>/orch-ca.pem and <dir>/orch-ca-key.pem ("" or "." is the
// current directory). InvalidArgument for a bad request, AlreadyExists when
// a file is there, FailedPrecondition when a file cannot be written.
Status TlsCaCreate(std::ostream& out, const std::string& dir, const CaRequest& req);

// Writes <dir>/orch-<role>.pem and <dir>/orch-<role>-key.pem signed by the
// CA in `ca_file` / `ca_key_file`. InvalidArgument for a bad request or CA
// files that cannot be read or do not make a CA; otherwise as TlsCaCreate.
Status TlsCertCreate(std::ostream& out, const std::string& dir, const std::string& ca_file,
                     const std::string& ca_key_file, const CertRequest& req);

}  // namespace orch::ctl
