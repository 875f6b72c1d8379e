// Boost.Asio TLS contexts for orch's servers and the Raft transport, built
// from TlsFiles (common/tls.h): TLS 1.2 or later, our certificate and key,
// and the peer's certificate verified against the cluster CA. Only the few
// files that speak TLS through Asio include this header (http_server.cpp,
// tcp_transport.cpp); libcurl clients configure the same through
// ConfigureTlsClient on its SSL_CTX.
// Thread safety: a context is immutable once made and shared by every
// connection.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tls.h"

namespace orch {

// The files are loaded, not checked again: callers check them once at
// start (CheckTlsFiles). A file that does not load is an error naming it.
// The accepting side: a client certificate is required; when `peer_names`
// is not empty it must also name one of them (TlsRoleName), e.g. only
// masters on the Raft port.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeTlsServerContext(
    const TlsFiles& files, const std::vector<std::string>& peer_names);

// The dialling side: presents our certificate and accepts only a server
// whose certificate chains to the CA and names `server_name`.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeTlsClientContext(
    const TlsFiles& files, const std::string& server_name);

}  // namespace orch
