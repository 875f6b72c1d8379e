// TLS settings every orch process shares (README "Securing a cluster"): the
// cluster CA and this process's certificate and key, and the names that say
// what a certificate's holder is. Every certificate is signed by the cluster
// CA; a master's names "server.orch", an agent's "agent.orch", a user's
// (orchctl) "client.orch" (as DNS subject alternative names). Peers check
// the role, not the address: an agent talks only to a master whose
// certificate names server.orch, a master accepts Raft frames only from one,
// and an agent serves its API only to one, so a user's or an agent's
// certificate cannot pose as a master (Nomad's verify_server_hostname).
// Thread safety: plain values.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace orch {

enum class TlsRole { kServer, kAgent, kClient };

// "server.orch", "agent.orch", "client.orch".
std::string_view TlsRoleName(TlsRole role);

struct TlsFiles {
  std::string ca_file;    // PEM: the cluster CA, which every peer's certificate must chain to
  std::string cert_file;  // PEM: this process's certificate (chain)
  std::string key_file;   // PEM: its private key
  // TLS is on when any is set; CheckTlsFiles then wants all three.
  bool enabled() const { return !ca_file.empty() || !cert_file.empty() || !key_file.empty(); }
};

// The flags that name the files, as errors quote them (orchctl's are
// --ca-cert, --client-cert and --client-key).
struct TlsFlagNames {
  std::string ca = "--tls-ca", cert = "--tls-cert", key = "--tls-key";
};

// Ok when TLS is off, or when the three files are set, readable, parse as
// PEM, the key matches the certificate and the certificate chains to the
// CA; InvalidArgument naming the flag, the file and the problem otherwise.
Status CheckTlsFiles(const TlsFiles& files, const TlsFlagNames& flags = {});

}  // namespace orch
