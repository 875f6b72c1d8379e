// The cluster's certificates (common/tls_certs.h) as a peer sees them, the
// start-up checks of CheckTlsFiles (common/tls.h), and a real TLS handshake
// between two OpenSSL contexts through memory BIOs showing that the role
// names keep an agent's or a user's certificate from posing as a master.
#include "common/tls_certs.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/openssl_util.h"
#include "common/tls.h"
#include "common/tls_peer.h"

namespace orch {
namespace {

using ossl::PkeyPtr;
using ossl::X509Ptr;

struct StoreFree {
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* p) const { GENERAL_NAMES_free(p); }
};
struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

X509Ptr ParseCert(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())),
                                                BIO_free);
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

PkeyPtr ParseKey(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), int(pem.size())),
                                                BIO_free);
  return PkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

PemPair Ca() {
  auto ca = MakeCa({});
  EXPECT_TRUE(ca.ok()) << ca.status().ToString();
  return ca.ok() ? *ca : PemPair{};
}

PemPair Cert(const PemPair& ca, CertRequest req) {
  auto cert = MakeCert(ca, req);
  EXPECT_TRUE(cert.ok()) << cert.status().ToString();
  return cert.ok() ? *cert : PemPair{};
}

// X509_V_OK when `cert_pem` chains to `ca_pem`, the reason otherwise.
int Verify(const std::string& ca_pem, const std::string& cert_pem) {
  X509Ptr ca = ParseCert(ca_pem);
  X509Ptr cert = ParseCert(cert_pem);
  std::unique_ptr<X509_STORE, StoreFree> store(X509_STORE_new());
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  EXPECT_EQ(X509_STORE_add_cert(store.get(), ca.get()), 1);
  EXPECT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr), 1);
  int ok = X509_verify_cert(ctx.get());
  int err = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  return ok == 1 ? X509_V_OK : err;
}

struct AltNames {
  std::vector<std::string> dns;
  std::vector<std::string> ips;  // as inet_ntop prints them
};

AltNames AltNamesOf(const std::string& cert_pem) {
  AltNames out;
  X509Ptr cert = ParseCert(cert_pem);
  std::unique_ptr<GENERAL_NAMES, NamesFree> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* g = sk_GENERAL_NAME_value(names.get(), i);
    int type = 0;
    auto* value = static_cast<ASN1_STRING*>(GENERAL_NAME_get0_value(g, &type));
    std::string bytes(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                      ASN1_STRING_length(value));
    if (type == GEN_DNS) out.dns.push_back(bytes);
    if (type == GEN_IPADD) {
      char text[64] = {};
      inet_ntop(bytes.size() == 4 ? AF_INET : AF_INET6, bytes.data(), text, sizeof text);
      out.ips.push_back(text);
    }
  }
  return out;
}

bool Has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::string CommonName(X509* cert) {
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  return cn;
}

// Seconds from now to `t` (negative: in the past).
long long SecondsFromNow(const ASN1_TIME* t) {
  int days = 0, secs = 0;
  EXPECT_EQ(ASN1_TIME_diff(&days, &secs, nullptr, t), 1);
  return static_cast<long long>(days) * 86400 + secs;
}

TEST(TlsCertsTest, CaIsASelfSignedCaOfP256) {
  PemPair ca = Ca();
  X509Ptr cert = ParseCert(ca.cert_pem);
  PkeyPtr key = ParseKey(ca.key_pem);
  ASSERT_TRUE(cert && key);
  EXPECT_EQ(X509_get_version(cert.get()), X509_VERSION_3);
  EXPECT_EQ(CommonName(cert.get()), "orch cluster CA");
  EXPECT_EQ(X509_check_ca(cert.get()), 1);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  EXPECT_EQ(X509_check_issued(cert.get(), cert.get()), X509_V_OK);
  EXPECT_EQ(X509_verify(cert.get(), key.get()), 1);
  EXPECT_EQ(Verify(ca.cert_pem, ca.cert_pem), X509_V_OK);
  int crit = -1;
  auto* bc = static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert.get(), NID_basic_constraints, &crit, nullptr));
  ASSERT_NE(bc, nullptr);
  EXPECT_EQ(crit, 1);
  EXPECT_TRUE(bc->ca);
  BASIC_CONSTRAINTS_free(bc);
  EXPECT_EQ(X509_get_key_usage(cert.get()),
            static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_DIGITAL_SIGNATURE));
  EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(key.get()), EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(key.get()), 256);
  // Valid from a minute ago (clock skew) for the default 1825 days.
  long long from = SecondsFromNow(X509_get0_notBefore(cert.get()));
  EXPECT_LE(from, -55);
  EXPECT_GE(from, -70);
  EXPECT_NEAR(SecondsFromNow(X509_get0_notAfter(cert.get())), 1825LL * 86400, 10);
}

TEST(TlsCertsTest, SerialsArePositiveAndRandom) {
  X509Ptr a = ParseCert(Ca().cert_pem);
  X509Ptr b = ParseCert(Ca().cert_pem);
  const ASN1_INTEGER* sa = X509_get0_serialNumber(a.get());
  const ASN1_INTEGER* sb = X509_get0_serialNumber(b.get());
  EXPECT_EQ(ASN1_STRING_type(sa), V_ASN1_INTEGER);  // V_ASN1_NEG_INTEGER when negative
  EXPECT_GE(ASN1_STRING_length(sa), 14);
  EXPECT_NE(ASN1_INTEGER_cmp(sa, sb), 0);
}

TEST(TlsCertsTest, CaTakesItsNameAndDays) {
  auto ca = MakeCa({.common_name = "prod CA", .days = 10});
  ASSERT_TRUE(ca.ok()) << ca.status().ToString();
  X509Ptr cert = ParseCert(ca->cert_pem);
  EXPECT_EQ(CommonName(cert.get()), "prod CA");
  EXPECT_NEAR(SecondsFromNow(X509_get0_notAfter(cert.get())), 10LL * 86400, 10);
}

TEST(TlsCertsTest, ServerCertVerifiesAgainstItsCaOnly) {
  PemPair ca = Ca();
  PemPair other = Ca();
  PemPair server = Cert(ca, {.role = TlsRole::kServer});
  EXPECT_EQ(Verify(ca.cert_pem, server.cert_pem), X509_V_OK);
  EXPECT_NE(Verify(other.cert_pem, server.cert_pem), X509_V_OK);
}

TEST(TlsCertsTest, ServerCertNamesRoleLoopbackAndExtras) {
  PemPair ca = Ca();
  PemPair server = Cert(ca, {.role = TlsRole::kServer,
                             .days = 30,
                             .dns_names = {"m1.example.com", "*.orch.example.com", "LOCALHOST"},
                             .ip_addresses = {"10.0.0.1", "fd00::7", "127.0.0.1"}});
  X509Ptr cert = ParseCert(server.cert_pem);
  PkeyPtr key = ParseKey(server.key_pem);
  ASSERT_TRUE(cert && key);
  EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1);
  EXPECT_EQ(CommonName(cert.get()), "server.orch");
  AltNames names = AltNamesOf(server.cert_pem);
  EXPECT_EQ(names.dns, (std::vector<std::string>{"server.orch", "localhost", "m1.example.com",
                                                 "*.orch.example.com"}));
  EXPECT_EQ(names.ips, (std::vector<std::string>{"127.0.0.1", "::1", "10.0.0.1", "fd00::7"}));
  EXPECT_EQ(X509_check_host(cert.get(), "server.orch", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_host(cert.get(), "agent.orch", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(cert.get(), "10.0.0.1", 0), 1);

  EXPECT_EQ(X509_check_ca(cert.get()), 0);
  EXPECT_EQ(X509_get_key_usage(cert.get()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()),
            static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  EXPECT_EQ(X509_check_purpose(cert.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_EQ(X509_check_purpose(cert.get(), X509_PURPOSE_SSL_CLIENT, 0), 1);
  EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
  X509Ptr ca_cert = ParseCert(ca.cert_pem);
  ASSERT_NE(X509_get0_authority_key_id(cert.get()), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert.get()),
                                  X509_get0_subject_key_id(ca_cert.get())),
            0);
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(cert.get()), X509_get_subject_name(ca_cert.get())),
            0);
  EXPECT_NEAR(SecondsFromNow(X509_get0_notAfter(cert.get())), 30LL * 86400, 10);
}

TEST(TlsCertsTest, AgentCertServesAndDialsAsAgent) {
  PemPair agent = Cert(Ca(), {.role = TlsRole::kAgent});
  AltNames names = AltNamesOf(agent.cert_pem);
  EXPECT_EQ(names.dns, (std::vector<std::string>{"agent.orch", "localhost"}));
  EXPECT_EQ(names.ips, (std::vector<std::string>{"127.0.0.1", "::1"}));
  X509Ptr cert = ParseCert(agent.cert_pem);
  EXPECT_EQ(CommonName(cert.get()), "agent.orch");
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()),
            static_cast<uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
}

TEST(TlsCertsTest, ClientCertOnlyDialsAndNamesNoLoopback) {
  PemPair client = Cert(Ca(), {.role = TlsRole::kClient, .dns_names = {"alice.example.com"}});
  AltNames names = AltNamesOf(client.cert_pem);
  EXPECT_EQ(names.dns, (std::vector<std::string>{"client.orch", "alice.example.com"}));
  EXPECT_TRUE(names.ips.empty());
  EXPECT_FALSE(Has(names.dns, "localhost"));
  X509Ptr cert = ParseCert(client.cert_pem);
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SSL_CLIENT));
  EXPECT_EQ(X509_check_purpose(cert.get(), X509_PURPOSE_SSL_SERVER, 0), 0);
}

TEST(TlsCertsTest, RefusesBadNamesAddressesAndDays) {
  PemPair ca = Ca();
  for (const char* ip : {"10.0.0.300", "example.com", "", "1.2.3", "::g"}) {
    auto r = MakeCert(ca, {.ip_addresses = {ip}});
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << ip;
    EXPECT_NE(r.status().message().find(std::string("\"") + ip + "\""), std::string::npos)
        << r.status().message();
  }
  for (const char* dns : {"", "a b", "a_b.example.com", "x,DNS:evil.orch", "é.example.com"}) {
    auto r = MakeCert(ca, {.dns_names = {dns}});
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << dns;
  }
  for (int days : {0, -1, 36501}) {
    EXPECT_EQ(MakeCert(ca, {.days = days}).status().code(), StatusCode::kInvalidArgument) << days;
    EXPECT_EQ(MakeCa({.days = days}).status().code(), StatusCode::kInvalidArgument) << days;
  }
  EXPECT_TRUE(MakeCert(ca, {.days = 36500}).ok());
  EXPECT_EQ(MakeCa({.common_name = ""}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeCa({.common_name = std::string(65, 'x')}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(TlsCertsTest, RefusesACaThatIsNotOne) {
  PemPair ca = Ca();
  PemPair other = Ca();
  auto mismatched = MakeCert({ca.cert_pem, other.key_pem}, {});
  EXPECT_EQ(mismatched.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(mismatched.status().message().find("does not match"), std::string::npos)
      << mismatched.status().message();
  EXPECT_EQ(CheckCaPair({ca.cert_pem, other.key_pem}).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(CheckCaPair(ca).ok());

  auto garbage = MakeCert({"not pem", ca.key_pem}, {});
  EXPECT_NE(garbage.status().message().find("CA certificate is not a PEM"), std::string::npos)
      << garbage.status().message();
  auto no_key = MakeCert({ca.cert_pem, ""}, {});
  EXPECT_NE(no_key.status().message().find("CA key is not a PEM"), std::string::npos)
      << no_key.status().message();

  PemPair server = Cert(ca, {});
  auto leaf_as_ca = MakeCert(server, {});
  EXPECT_NE(leaf_as_ca.status().message().find("may not sign"), std::string::npos)
      << leaf_as_ca.status().message();
}

// A directory of its own, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = ::testing::TempDir() + "orch_tls_XXXXXX";
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  // Writes `text` to <dir>/<name> and returns that path.
  std::string Write(const std::string& name, const std::string& text) const {
    std::string path = path_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class CheckTlsFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = Ca();
    server_ = Cert(ca_, {.role = TlsRole::kServer});
    files_ = {dir_.Write("ca.pem", ca_.cert_pem), dir_.Write("server.pem", server_.cert_pem),
              dir_.Write("server-key.pem", server_.key_pem)};
  }
  std::string Error(const TlsFiles& files) {
    Status st = CheckTlsFiles(files);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    return st.message();
  }

  TempDir dir_;
  PemPair ca_;
  PemPair server_;
  TlsFiles files_;
};

TEST_F(CheckTlsFilesTest, OkWhenTlsIsOff) { EXPECT_TRUE(CheckTlsFiles({}).ok()); }

TEST_F(CheckTlsFilesTest, OkForACertificateOfTheCaWithItsKey) {
  Status st = CheckTlsFiles(files_);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST_F(CheckTlsFilesTest, AcceptsACertificateFileHoldingTheChain) {
  files_.cert_file = dir_.Write("chain.pem", server_.cert_pem + ca_.cert_pem);
  Status st = CheckTlsFiles(files_);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST_F(CheckTlsFilesTest, NamesTheFlagsNotSet) {
  EXPECT_EQ(Error({files_.ca_file, "", ""}),
            "TLS needs --tls-ca, --tls-cert and --tls-key together: --tls-cert and --tls-key are "
            "not set");
  EXPECT_EQ(Error({files_.ca_file, files_.cert_file, ""}),
            "TLS needs --tls-ca, --tls-cert and --tls-key together: --tls-key is not set");
  std::string msg = Error({"", "", files_.key_file});
  EXPECT_NE(msg.find("--tls-ca and --tls-cert are not set"), std::string::npos) << msg;
}

TEST_F(CheckTlsFilesTest, NamesAMissingKeyFile) {
  files_.key_file = dir_.path() + "/nope-key.pem";
  EXPECT_EQ(Error(files_),
            "--tls-key " + files_.key_file + ": cannot read: No such file or directory");
}

TEST_F(CheckTlsFilesTest, NamesAnUnreadableFile) {
  files_.ca_file = dir_.path();  // a directory
  std::string msg = Error(files_);
  EXPECT_EQ(msg.rfind("--tls-ca " + dir_.path() + ": cannot read: ", 0), 0u) << msg;
  if (geteuid() == 0) return;  // root reads files whatever their mode
  std::string locked = dir_.Write("locked.pem", server_.cert_pem);
  ASSERT_EQ(chmod(locked.c_str(), 0), 0);
  files_.ca_file = dir_.path() + "/ca.pem";
  files_.cert_file = locked;
  EXPECT_EQ(Error(files_), "--tls-cert " + locked + ": cannot read: Permission denied");
}

TEST_F(CheckTlsFilesTest, NamesAFileThatIsNotPem) {
  files_.cert_file = dir_.Write("garbage.pem", "hello\n");
  std::string msg = Error(files_);
  EXPECT_EQ(msg.rfind("--tls-cert " + files_.cert_file + ": no PEM certificate", 0), 0u) << msg;
  files_.cert_file = dir_.path() + "/server.pem";
  files_.key_file = files_.ca_file;  // a certificate, no key
  msg = Error(files_);
  EXPECT_EQ(msg, "--tls-key " + files_.key_file +
                     ": no PEM private key in it (-----BEGIN PRIVATE KEY-----)");
}

TEST_F(CheckTlsFilesTest, RefusesTheKeyOfAnotherCertificate) {
  PemPair agent = Cert(ca_, {.role = TlsRole::kAgent});
  files_.key_file = dir_.Write("agent-key.pem", agent.key_pem);
  EXPECT_EQ(Error(files_), "--tls-key " + files_.key_file +
                               ": the key does not match the certificate in --tls-cert " +
                               files_.cert_file);
}

TEST_F(CheckTlsFilesTest, RefusesACertificateOfAnotherCa) {
  PemPair other = Cert(Ca(), {.role = TlsRole::kServer});
  files_.cert_file = dir_.Write("other.pem", other.cert_pem);
  files_.key_file = dir_.Write("other-key.pem", other.key_pem);
  std::string msg = Error(files_);
  EXPECT_EQ(msg.rfind("--tls-cert " + files_.cert_file +
                          ": the certificate is not signed by the CA in --tls-ca " +
                          files_.ca_file + ": ",
                      0),
            0u)
      << msg;
}

TEST_F(CheckTlsFilesTest, NamesAnExpiredCertificate) {
  PemPair old = Cert(ca_, {.days = 1, .validity_shift = std::chrono::hours(-48)});
  files_.cert_file = dir_.Write("old.pem", old.cert_pem);
  files_.key_file = dir_.Write("old-key.pem", old.key_pem);
  std::string msg = Error(files_);
  EXPECT_EQ(msg.rfind("--tls-cert " + files_.cert_file + ": the certificate expired on ", 0), 0u)
      << msg;
}

TEST_F(CheckTlsFilesTest, NamesACaNotValidYet) {
  auto future_ca = MakeCa({.validity_shift = std::chrono::hours(48)});
  ASSERT_TRUE(future_ca.ok());
  PemPair server = Cert(*future_ca, {});
  files_ = {dir_.Write("future-ca.pem", future_ca->cert_pem), dir_.Write("s.pem", server.cert_pem),
            dir_.Write("s-key.pem", server.key_pem)};
  std::string msg = Error(files_);
  EXPECT_EQ(msg.rfind("--tls-ca " + files_.ca_file +
                          ": the CA certificate CN=orch cluster CA is not valid until ",
                      0),
            0u)
      << msg;
}

TEST(TlsCertsTest, RefusesToSignWithAnExpiredCa) {
  auto old = MakeCa({.days = 1, .validity_shift = std::chrono::hours(-48)});
  ASSERT_TRUE(old.ok());
  auto r = MakeCert(*old, {});
  EXPECT_NE(r.status().message().find("the CA certificate expired on "), std::string::npos)
      << r.status().message();
}

// One side of a handshake: its certificate, the CA it trusts and the name
// it wants in the peer's certificate ("" for any).
struct Side {
  PemPair cert;
  std::string ca_pem;
  std::string peer_name;
};

struct Outcome {
  bool ok = false;
  long client_verify = -1;  // X509_V_OK, or why the client refused the server
  long server_verify = -1;
};

SslCtxPtr MakeCtx(const Side& side, bool server) {
  SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  X509Ptr cert = ParseCert(side.cert.cert_pem);
  PkeyPtr key = ParseKey(side.cert.key_pem);
  X509Ptr ca = ParseCert(side.ca_pem);
  EXPECT_TRUE(ctx && cert && key && ca);
  EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), cert.get()), 1);
  EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), key.get()), 1);
  EXPECT_EQ(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), ca.get()), 1);
  // The verification every orch process configures (common/tls_peer.h).
  std::vector<std::string> names;
  if (!side.peer_name.empty()) names.push_back(side.peer_name);
  EXPECT_TRUE(RequirePeer(ctx.get(), names).ok());
  return ctx;
}

bool Pending(SSL* ssl, int rc) {
  int err = SSL_get_error(ssl, rc);
  return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE;
}

// A whole handshake through a memory BIO pair, then one message each way.
Outcome Handshake(const Side& server, const Side& client) {
  SslCtxPtr sctx = MakeCtx(server, true);
  SslCtxPtr cctx = MakeCtx(client, false);
  SslPtr s(SSL_new(sctx.get()));
  SslPtr c(SSL_new(cctx.get()));
  BIO* sbio = nullptr;
  BIO* cbio = nullptr;
  EXPECT_EQ(BIO_new_bio_pair(&sbio, 0, &cbio, 0), 1);
  SSL_set_bio(s.get(), sbio, sbio);  // each SSL owns its end
  SSL_set_bio(c.get(), cbio, cbio);
  SSL_set_accept_state(s.get());
  SSL_set_connect_state(c.get());
  Outcome out;
  bool s_done = false, c_done = false, failed = false;
  for (int round = 0; round < 50 && !failed && !(s_done && c_done); ++round) {
    if (!c_done) {
      int rc = SSL_do_handshake(c.get());
      c_done = rc == 1;
      failed = failed || (rc != 1 && !Pending(c.get(), rc));
    }
    if (!s_done) {
      int rc = SSL_do_handshake(s.get());
      s_done = rc == 1;
      failed = failed || (rc != 1 && !Pending(s.get(), rc));
    }
  }
  out.client_verify = SSL_get_verify_result(c.get());
  out.server_verify = SSL_get_verify_result(s.get());
  if (s_done && c_done && !failed) {
    // TLS 1.3 finishes the client first; a message each way proves both ends agree.
    char buf[8] = {};
    out.ok = SSL_write(c.get(), "ping", 4) == 4 && SSL_read(s.get(), buf, sizeof buf) == 4 &&
             std::string(buf) == "ping" && SSL_write(s.get(), "pong", 4) == 4 &&
             SSL_read(c.get(), buf, sizeof buf) == 4 && std::string(buf, 4) == "pong";
  }
  ERR_clear_error();
  return out;
}

class HandshakeTest : public ::testing::Test {
 protected:
  PemPair ca_ = Ca();
  PemPair server_ = Cert(ca_, {.role = TlsRole::kServer});
  PemPair agent_ = Cert(ca_, {.role = TlsRole::kAgent});
  PemPair client_ = Cert(ca_, {.role = TlsRole::kClient});
};

TEST_F(HandshakeTest, AgentDialsAMasterThatNamesServerOrch) {
  Outcome o = Handshake({server_, ca_.cert_pem, ""}, {agent_, ca_.cert_pem, "server.orch"});
  EXPECT_TRUE(o.ok);
  EXPECT_EQ(o.client_verify, X509_V_OK);
  EXPECT_EQ(o.server_verify, X509_V_OK);
}

TEST_F(HandshakeTest, UserDialsAMasterWithAClientCertificate) {
  Outcome o = Handshake({server_, ca_.cert_pem, ""}, {client_, ca_.cert_pem, "server.orch"});
  EXPECT_TRUE(o.ok);
}

TEST_F(HandshakeTest, ADialerExpectingAnAgentRefusesAMaster) {
  Outcome o = Handshake({server_, ca_.cert_pem, ""}, {agent_, ca_.cert_pem, "agent.orch"});
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.client_verify, X509_V_ERR_HOSTNAME_MISMATCH);
}

TEST_F(HandshakeTest, AnAgentCannotPoseAsAMaster) {
  // An agent's certificate may serve (its own API), but not as server.orch.
  Outcome o = Handshake({agent_, ca_.cert_pem, ""}, {agent_, ca_.cert_pem, "server.orch"});
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.client_verify, X509_V_ERR_HOSTNAME_MISMATCH);
}

TEST_F(HandshakeTest, AMasterAcceptingOnlyMastersRefusesAnAgent) {
  // The Raft port: the accepting master wants server.orch of the dialler.
  Outcome o = Handshake({server_, ca_.cert_pem, "server.orch"}, {agent_, ca_.cert_pem, ""});
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.server_verify, X509_V_ERR_HOSTNAME_MISMATCH);
  Outcome peers =
      Handshake({server_, ca_.cert_pem, "server.orch"}, {server_, ca_.cert_pem, "server.orch"});
  EXPECT_TRUE(peers.ok);
}

TEST_F(HandshakeTest, AUserCertificateCannotServe) {
  Outcome o = Handshake({client_, ca_.cert_pem, ""}, {agent_, ca_.cert_pem, "client.orch"});
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.client_verify, X509_V_ERR_INVALID_PURPOSE);
}

TEST_F(HandshakeTest, ACertificateOfAnotherCaIsRefused) {
  PemPair other_ca = Ca();
  PemPair stranger = Cert(other_ca, {.role = TlsRole::kAgent});
  // The stranger trusts our CA, so it is the master that refuses.
  Outcome o = Handshake({server_, ca_.cert_pem, ""}, {stranger, ca_.cert_pem, "server.orch"});
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.client_verify, X509_V_OK);
  EXPECT_NE(o.server_verify, X509_V_OK);
}

}  // namespace
}  // namespace orch
