#include "common/tls_context.h"

#include "common/tls_peer.h"

namespace orch {
namespace {

namespace ssl = boost::asio::ssl;

Result<std::shared_ptr<ssl::context>> Make(const TlsFiles& files, ssl::context::method method,
                                           const std::vector<std::string>& peer_names) {
  // The processes checked the files once at start (CheckTlsFiles, with the
  // flag named); a context only loads them.
  if (!files.enabled()) return Status::InvalidArgument("tls: no CA, certificate or key given");
  auto ctx = std::make_shared<ssl::context>(method);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use,
                   ec);
  if (!ec) ctx->load_verify_file(files.ca_file, ec);
  if (ec) return Status::InvalidArgument("tls: CA " + files.ca_file + ": " + ec.message());
  ctx->use_certificate_chain_file(files.cert_file, ec);
  if (ec)
    return Status::InvalidArgument("tls: certificate " + files.cert_file + ": " + ec.message());
  ctx->use_private_key_file(files.key_file, ssl::context::pem, ec);
  if (ec) return Status::InvalidArgument("tls: key " + files.key_file + ": " + ec.message());
  ORCH_RETURN_IF_ERROR(RequirePeer(ctx->native_handle(), peer_names));
  return ctx;
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeTlsServerContext(
    const TlsFiles& files, const std::vector<std::string>& peer_names) {
  return Make(files, ssl::context::tls_server, peer_names);
}

Result<std::shared_ptr<ssl::context>> MakeTlsClientContext(const TlsFiles& files,
                                                           const std::string& server_name) {
  return Make(files, ssl::context::tls_client, {server_name});
}

}  // namespace orch
