#include "common/tls_peer.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace orch {

Status RequirePeer(SSL_CTX* ctx, const std::vector<std::string>& names) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return Status::Internal("tls: cannot require TLS 1.2");
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  for (std::size_t i = 0; i < names.size(); ++i) {
    int ok = i == 0 ? X509_VERIFY_PARAM_set1_host(param, names[i].c_str(), names[i].size())
                    : X509_VERIFY_PARAM_add1_host(param, names[i].c_str(), names[i].size());
    if (ok != 1) return Status::Internal("tls: cannot require the peer name " + names[i]);
  }
  return Status::Ok();
}

}  // namespace orch
