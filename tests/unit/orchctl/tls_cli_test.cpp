// `orchctl tls ca create` and `orchctl tls cert create` end to end through
// the command line: the files, their modes, what a second run does, and
// usage errors. No master runs: these verbs need none.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "api/orchctl/cli.h"
#include "api/orchctl/errors.h"
#include "common/tls.h"
#include "common/tls_certs.h"
#include "tests/unit/orchctl/cli_harness.h"

namespace orch::ctl {
namespace {

using clitest::CliRun;
using clitest::ExpectOneLineError;
using clitest::Orchctl;

// A directory of its own, removed with everything in it.
class TlsCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "orchctl_tls_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  static std::string Read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  static mode_t Mode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 0777;
  }
  CliRun CaCreate() { return Orchctl({"tls", "ca", "create", "--dir", dir_}); }
  CliRun CertCreate(const std::string& role_flag, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"tls",      "cert",
                                  "create",   role_flag,
                                  "--ca",     Path("orch-ca.pem"),
                                  "--ca-key", Path("orch-ca-key.pem"),
                                  "--dir",    dir_};
    args.insert(args.end(), extra.begin(), extra.end());
    return Orchctl(args);
  }

  std::string dir_;
};

TEST_F(TlsCliTest, CaCreateWritesTheCaAndAPrivateKey) {
  CliRun r = CaCreate();
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "==> CA certificate saved to " + Path("orch-ca.pem") + "\n" +
                       "==> CA key saved to " + Path("orch-ca-key.pem") + "\n");
  EXPECT_EQ(Mode(Path("orch-ca-key.pem")), 0600u);
  mode_t mask = umask(0);
  umask(mask);
  EXPECT_EQ(Mode(Path("orch-ca.pem")), 0644u & ~mask);
  PemPair ca{Read(Path("orch-ca.pem")), Read(Path("orch-ca-key.pem"))};
  Status st = CheckCaPair(ca);
  EXPECT_TRUE(st.ok()) << st.ToString();
}

TEST_F(TlsCliTest, CertCreateMakesAWorkingCertificateForEachRole) {
  ASSERT_EQ(CaCreate().code, kExitOk);
  for (std::string role : {"server", "agent", "client"}) {
    CliRun r = CertCreate("--" + role, {"--days", "30"});
    ASSERT_EQ(r.code, kExitOk) << role << ": " << r.err;
    std::string cert = Path("orch-" + role + ".pem");
    std::string key = Path("orch-" + role + "-key.pem");
    std::string word = role;
    word[0] = static_cast<char>(std::toupper(word[0]));
    EXPECT_EQ(r.out, "==> " + word + " certificate saved to " + cert + "\n==> " + word +
                         " key saved to " + key + "\n");
    EXPECT_EQ(Mode(key), 0600u) << role;
    Status st = CheckTlsFiles({Path("orch-ca.pem"), cert, key});
    EXPECT_TRUE(st.ok()) << role << ": " << st.ToString();
  }
}

TEST_F(TlsCliTest, CertCreateTakesExtraNamesAndAddresses) {
  ASSERT_EQ(CaCreate().code, kExitOk);
  CliRun r = CertCreate(
      "--server", {"--additional-dnsname", "m1.example.com", "--additional-dnsname", "m1",
                   "--additional-ipaddress", "10.0.0.1", "--additional-ipaddress", "fd00::1"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  std::string pem = Read(Path("orch-server.pem"));
  EXPECT_NE(pem.find("-----BEGIN CERTIFICATE-----"), std::string::npos);
}

TEST_F(TlsCliTest, ASecondRunRefusesToOverwrite) {
  ASSERT_EQ(CaCreate().code, kExitOk);
  std::string ca = Read(Path("orch-ca.pem"));
  std::string key = Read(Path("orch-ca-key.pem"));
  CliRun again = CaCreate();
  EXPECT_EQ(again.code, kExitFailure);
  ExpectOneLineError(again);
  EXPECT_NE(again.err.find(Path("orch-ca.pem") + " already exists"), std::string::npos)
      << again.err;
  EXPECT_EQ(again.out, "");
  EXPECT_EQ(Read(Path("orch-ca.pem")), ca);
  EXPECT_EQ(Read(Path("orch-ca-key.pem")), key);

  ASSERT_EQ(CertCreate("--agent").code, kExitOk);
  std::string agent = Read(Path("orch-agent.pem"));
  CliRun cert_again = CertCreate("--agent");
  EXPECT_EQ(cert_again.code, kExitFailure);
  ExpectOneLineError(cert_again);
  EXPECT_EQ(Read(Path("orch-agent.pem")), agent);
}

TEST_F(TlsCliTest, WritesNothingWhenOneFileExists) {
  // Only the key is there: the certificate is not written beside it.
  std::ofstream(Path("orch-ca-key.pem")) << "mine\n";
  CliRun r = CaCreate();
  EXPECT_EQ(r.code, kExitFailure);
  ExpectOneLineError(r);
  EXPECT_NE(r.err.find(Path("orch-ca-key.pem") + " already exists"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(Path("orch-ca.pem")));
  EXPECT_EQ(Read(Path("orch-ca-key.pem")), "mine\n");
}

TEST_F(TlsCliTest, CertCreateWantsExactlyOneRole) {
  ASSERT_EQ(CaCreate().code, kExitOk);
  CliRun two = CertCreate("--server", {"--client"});
  EXPECT_EQ(two.code, kExitUsage);
  ExpectOneLineError(two);
  EXPECT_NE(two.err.find("exactly one of --server, --agent or --client"), std::string::npos)
      << two.err;
  CliRun none = Orchctl({"tls", "cert", "create", "--ca", Path("orch-ca.pem"), "--ca-key",
                         Path("orch-ca-key.pem"), "--dir", dir_});
  EXPECT_EQ(none.code, kExitUsage);
  ExpectOneLineError(none);
  EXPECT_FALSE(std::filesystem::exists(Path("orch-server.pem")));
  EXPECT_FALSE(std::filesystem::exists(Path("orch-client.pem")));
}

TEST_F(TlsCliTest, BadFlagsAreUsageErrors) {
  ASSERT_EQ(CaCreate().code, kExitOk);
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--additional-ipaddress", "10.0.0.256"},
        std::vector<std::string>{"--additional-dnsname", "bad name"},
        std::vector<std::string>{"--days", "0"}}) {
    CliRun r = CertCreate("--server", extra);
    EXPECT_EQ(r.code, kExitUsage) << extra[1];
    ExpectOneLineError(r);
  }
  EXPECT_FALSE(std::filesystem::exists(Path("orch-server.pem")));
  EXPECT_EQ(Orchctl({"tls", "ca", "create", "--days", "36501", "--dir", dir_}).code, kExitUsage);
}

TEST_F(TlsCliTest, NamesAMissingCa) {
  CliRun r = CertCreate("--server");
  EXPECT_EQ(r.code, kExitUsage);
  ExpectOneLineError(r);
  EXPECT_NE(r.err.find("--ca " + Path("orch-ca.pem") + ": cannot read"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("orchctl tls ca create"), std::string::npos) << r.err;
}

TEST_F(TlsCliTest, RefusesACaKeyOfAnotherCa) {
  ASSERT_EQ(CaCreate().code, kExitOk);
  auto other = MakeCa({});
  ASSERT_TRUE(other.ok());
  std::ofstream(Path("other-key.pem")) << other->key_pem;
  CliRun r = Orchctl({"tls", "cert", "create", "--agent", "--ca", Path("orch-ca.pem"), "--ca-key",
                      Path("other-key.pem"), "--dir", dir_});
  EXPECT_EQ(r.code, kExitUsage);
  ExpectOneLineError(r);
  EXPECT_NE(r.err.find("the CA key does not match the CA certificate"), std::string::npos) << r.err;
}

// A new --dir is made (0700), and cert create finds the CA in its --dir
// without --ca/--ca-key.
TEST_F(TlsCliTest, MakesTheDirAndFindsTheCaThere) {
  const std::string sub = Path("pki/new");
  ASSERT_EQ(Orchctl({"tls", "ca", "create", "--dir", sub}).code, kExitOk);
  EXPECT_EQ(std::filesystem::status(sub).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_all);
  CliRun agent = Orchctl({"tls", "cert", "create", "--agent", "--dir", sub});
  EXPECT_EQ(agent.code, kExitOk) << agent.err;
  EXPECT_TRUE(std::filesystem::exists(sub + "/orch-agent.pem"));
  EXPECT_TRUE(std::filesystem::exists(sub + "/orch-agent-key.pem"));
}

}  // namespace
}  // namespace orch::ctl
