#include "master/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/tls_certs.h"
#include "test_util.h"

namespace orch::master {
namespace {

Status Parse(std::vector<std::string> args, MasterConfig* cfg) {
  CLI::App app;
  AddMasterFlags(app, cfg);
  std::vector<const char*> argv{"orch-master"};
  for (auto& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(e.what());
  }
  return ValidateMasterConfig(*cfg);
}

TEST(MasterConfigTest, FlagsOfDesignSection7) {
  MasterConfig cfg;
  ASSERT_TRUE(Parse({"--id", "m1", "--data-dir", "/tmp/x", "--http", "127.0.0.1:5646", "--raft",
                     "127.0.0.1:5647", "--peers", "m1=127.0.0.1:5647", "--heartbeat-ttl", "3s"},
                    &cfg)
                  .ok());
  EXPECT_EQ(cfg.http, "127.0.0.1:5646");
  EXPECT_EQ(cfg.heartbeat_ttl, std::chrono::seconds(3));
}

TEST(MasterConfigTest, ConfigFileSetsTheSameKeysAndFlagsWin) {
  std::string path = testing::TempDir("cfg") + "/master.conf";
  std::ofstream(path) << "id = \"m7\"\ndata-dir = \"/var/lib/orch\"\nhttp = \"127.0.0.1:7000\"\n";
  MasterConfig cfg;
  ASSERT_TRUE(Parse({"--config", path, "--http", "127.0.0.1:7100"}, &cfg).ok());
  EXPECT_EQ(cfg.id, "m7");
  EXPECT_EQ(cfg.data_dir, "/var/lib/orch");
  EXPECT_EQ(cfg.http, "127.0.0.1:7100");
}

TEST(MasterConfigTest, BadValuesAreRefusedWithTheFlagName) {
  MasterConfig a;
  Status st = Parse({"--data-dir", "/x", "--http", "nonsense"}, &a);
  EXPECT_NE(st.message().find("--http"), std::string::npos) << st.message();
  MasterConfig b;
  st = Parse({"--id", "m2", "--data-dir", "/x", "--peers", "m1=127.0.0.1:1"}, &b);
  EXPECT_NE(st.message().find("does not include this master"), std::string::npos) << st.message();
  MasterConfig c;
  st = Parse({}, &c);
  EXPECT_NE(st.message().find("--data-dir: is required"), std::string::npos) << st.message();
  MasterConfig d;
  st = Parse({"--data-dir", "/x", "--heartbeat-ttl", "soon"}, &d);
  EXPECT_FALSE(st.ok());
  MasterConfig e;
  EXPECT_TRUE(Parse({"--dev"}, &e).ok());  // --dev needs no data dir
}

// The shipped master.conf's keys turn TLS on; files that do not belong
// together stop the master at start, naming the file.
TEST(MasterConfigTest, TlsFilesFromTheConfigFileAreCheckedAtStart) {
  const std::string dir = testing::TempDir("tls");
  auto ca = MakeCa({});
  auto other = MakeCa({});
  ASSERT_TRUE(ca.ok() && other.ok());
  auto server = MakeCert(*ca, {});
  auto stranger = MakeCert(*other, {});
  ASSERT_TRUE(server.ok() && stranger.ok());
  std::ofstream(dir + "/ca.pem") << ca->cert_pem;
  std::ofstream(dir + "/server.pem") << server->cert_pem;
  std::ofstream(dir + "/server-key.pem") << server->key_pem;
  std::ofstream(dir + "/stranger.pem") << stranger->cert_pem;
  std::ofstream(dir + "/stranger-key.pem") << stranger->key_pem;
  std::ofstream(dir + "/master.conf")
      << "id = \"m1\"\ndata-dir = \"/tmp/x\"\ntls-ca = \"" << dir << "/ca.pem\"\ntls-cert = \""
      << dir << "/server.pem\"\ntls-key = \"" << dir << "/server-key.pem\"\n";
  MasterConfig good;
  ASSERT_TRUE(Parse({"--config", dir + "/master.conf"}, &good).ok());
  EXPECT_TRUE(good.tls().enabled());
  EXPECT_EQ(good.tls().key_file, dir + "/server-key.pem");

  MasterConfig wrong_key;
  Status st =
      Parse({"--config", dir + "/master.conf", "--tls-key", dir + "/stranger-key.pem"}, &wrong_key);
  EXPECT_NE(st.message().find("--tls-key " + dir + "/stranger-key.pem: the key does not match"),
            std::string::npos)
      << st.message();
  MasterConfig other_ca;
  st = Parse({"--config", dir + "/master.conf", "--tls-cert", dir + "/stranger.pem", "--tls-key",
              dir + "/stranger-key.pem"},
             &other_ca);
  EXPECT_NE(st.message().find("is not signed by the CA in --tls-ca"), std::string::npos)
      << st.message();
  MasterConfig dev;
  st = Parse({"--dev", "--tls-ca", dir + "/ca.pem", "--tls-cert", dir + "/server.pem", "--tls-key",
              dir + "/server-key.pem"},
             &dev);
  EXPECT_NE(st.message().find("not with --dev"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace orch::master
