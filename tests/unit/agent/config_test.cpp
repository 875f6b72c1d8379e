#include "agent/config.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <fstream>

#include "test_util.h"

namespace orch::agent {
namespace {

Status Parse(std::vector<std::string> args, AgentConfig* cfg) {
  CLI::App app;
  AddAgentFlags(app, cfg);
  std::vector<const char*> argv{"orch-agent"};
  for (auto& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(e.what());
  }
  return ValidateAgentConfig(*cfg);
}

TEST(AgentConfigTest, ParsesEveryFlag) {
  AgentConfig cfg;
  Status st = Parse({"--name",      "n1",          "--data-dir",
                     "/tmp/d",      "--masters",   "http://127.0.0.1:4646,http://127.0.0.1:5646",
                     "--http",      "127.0.0.1:0", "--drivers",
                     "exec,docker", "--label",     "zone=a",
                     "--label",     "rack=r1",     "--cpu",
                     "2000",        "--memory",    "1024",
                     "--log-level", "debug"},
                    &cfg);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(cfg.name, "n1");
  EXPECT_EQ(cfg.masters.size(), 2u);
  EXPECT_EQ(cfg.drivers, (std::vector<std::string>{"exec", "docker"}));
  EXPECT_EQ(cfg.labels.at("zone"), "a");
  EXPECT_EQ(cfg.labels.at("rack"), "r1");
  EXPECT_EQ(cfg.cpu, 2000);
  EXPECT_EQ(cfg.memory, 1024);
  EXPECT_EQ(cfg.log_level, "debug");
}

TEST(AgentConfigTest, ReadsAConfigFile) {
  testing::TempDir dir;
  std::string file = dir.path() + "/agent.toml";
  std::ofstream(file) << "name = \"from-file\"\ndata-dir = \"/tmp/d\"\n"
                         "masters = [\"http://127.0.0.1:4646\"]\ncpu = 500\n";
  AgentConfig cfg;
  Status st = Parse({"--config", file}, &cfg);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(cfg.name, "from-file");
  EXPECT_EQ(cfg.data_dir, "/tmp/d");
  EXPECT_EQ(cfg.cpu, 500);
}

TEST(AgentConfigTest, RejectsBadValuesNamingTheFlag) {
  AgentConfig cfg;
  Status st = Parse({"--data-dir", "/tmp/d", "--masters", "127.0.0.1:4646"}, &cfg);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--masters"), std::string::npos) << st.message();

  AgentConfig cfg2;
  st = Parse({"--masters", "http://127.0.0.1:4646", "--drivers", "lxc"}, &cfg2);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--data-dir"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("lxc"), std::string::npos) << st.message();

  AgentConfig cfg3;
  EXPECT_FALSE(Parse({"--label", "novalue"}, &cfg3).ok());
}

TEST(AgentConfigTest, HostVolumesNeedANameAndAnExistingDirectory) {
  testing::TempDir dir;
  AgentConfig cfg;
  ASSERT_TRUE(
      Parse({"--data-dir", dir.path(), "--masters", "http://127.0.0.1:4646", "--host-volume",
             "data=" + dir.path(), "--host-volume", "seed=" + dir.path() + ",read_only"},
            &cfg)
          .ok());
  ASSERT_EQ(cfg.host_volumes.size(), 2u);
  EXPECT_EQ(cfg.host_volumes["data"].path, dir.path());
  EXPECT_FALSE(cfg.host_volumes["data"].read_only);
  EXPECT_TRUE(cfg.host_volumes["seed"].read_only);
  for (const char* bad :
       {"noequals", "=/x", "a b=/x", "rel=x/y", "opt=/x,rw", "comma=/a,b,read_only"}) {
    EXPECT_FALSE(ParseHostVolume(bad).ok()) << bad;
  }
  AgentConfig missing;
  Status st = Parse({"--data-dir", dir.path(), "--masters", "http://127.0.0.1:4646",
                     "--host-volume", "gone=/nonexistent-orch-dir"},
                    &missing);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--host-volume gone"), std::string::npos) << st.message();
}

TEST(AgentConfigTest, ExecChrootTakesAbsolutePathsAndNeedsIsolation) {
  AgentConfig ok;
  ASSERT_TRUE(Parse({"--data-dir", "/tmp/d", "--masters", "http://127.0.0.1:4646", "--exec-chroot",
                     "--exec-chroot-paths", "/bin,/usr,/etc"},
                    &ok)
                  .ok());
  EXPECT_TRUE(ok.exec_chroot);
  EXPECT_EQ(ok.exec_chroot_paths, (std::vector<std::string>{"/bin", "/usr", "/etc"}));
  AgentConfig relative;
  Status st = Parse(
      {"--data-dir", "/tmp/d", "--masters", "http://127.0.0.1:4646", "--exec-chroot-paths", "usr"},
      &relative);
  EXPECT_NE(st.message().find("--exec-chroot-paths: \"usr\""), std::string::npos) << st.message();
  AgentConfig slash;
  st = Parse(
      {"--data-dir", "/tmp/d", "--masters", "http://127.0.0.1:4646", "--exec-chroot-paths", "/"},
      &slash);
  EXPECT_FALSE(st.ok());
  AgentConfig unisolated;
  st = Parse({"--data-dir", "/tmp/d", "--masters", "http://127.0.0.1:4646", "--exec-chroot",
              "--exec-isolation", "false"},
             &unisolated);
  EXPECT_NE(st.message().find("--exec-chroot: needs --exec-isolation"), std::string::npos)
      << st.message();
}

TEST(AgentConfigTest, TlsFilesAndHttpsMastersGoTogether) {
  AgentConfig https_without_files;
  Status st =
      Parse({"--data-dir", "/tmp/d", "--masters", "https://127.0.0.1:4646"}, &https_without_files);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("give --tls-ca, --tls-cert and --tls-key"), std::string::npos)
      << st.message();

  AgentConfig partial;
  st = Parse({"--data-dir", "/tmp/d", "--masters", "https://127.0.0.1:4646", "--tls-ca",
              "/nonexistent/ca.pem"},
             &partial);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--tls-cert and --tls-key are not set"), std::string::npos)
      << st.message();

  AgentConfig missing_files;
  st = Parse({"--data-dir", "/tmp/d", "--masters", "http://127.0.0.1:4646", "--tls-ca",
              "/nonexistent/ca.pem", "--tls-cert", "/nonexistent/c.pem", "--tls-key",
              "/nonexistent/k.pem"},
             &missing_files);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("--tls-ca /nonexistent/ca.pem: cannot read"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("is plain http"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace orch::agent
