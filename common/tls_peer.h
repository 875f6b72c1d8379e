// The verification both TLS sides share, on a raw OpenSSL SSL_CTX (so
// libcurl's handle can take it too): verify the peer against the CA already
// loaded, require its certificate, and accept only one naming one of
// `names` (DNS subject alternative names; no partial wildcards).
// Thread safety: call before the context is used.
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace orch {

// Sets TLS 1.2 as the minimum, peer verification (mandatory certificate)
// and the names the peer's certificate must carry (none: any name).
Status RequirePeer(SSL_CTX* ctx, const std::vector<std::string>& names);

}  // namespace orch
