// The agent's load balancer flags: parsed, defaulted, and bad values named.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include "agent/config.h"

namespace orch::agent {
namespace {

Status Parse(std::vector<std::string> args, AgentConfig* cfg) {
  CLI::App app;
  AddAgentFlags(app, cfg);
  std::vector<std::string> all{"orch-agent", "--data-dir", "/tmp/d", "--masters", "http://127.0.0.1:4646"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (auto& a : all) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), const_cast<char**>(argv.data()));
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(e.what());
  }
  return ValidateAgentConfig(*cfg);
}

TEST(AgentLbConfigTest, DefaultsServeOnEveryAddress) {
  AgentConfig cfg;
  ASSERT_TRUE(Parse({}, &cfg).ok());
  EXPECT_FALSE(cfg.lb_disable);
  EXPECT_EQ(cfg.lb_bind, "0.0.0.0");
  EXPECT_EQ(cfg.lb_connect_timeout, "2s");
  EXPECT_EQ(cfg.lb_idle_timeout, "5m");
}

TEST(AgentLbConfigTest, ParsesTheFlags) {
  AgentConfig cfg;
  Status st = Parse({"--lb-bind", "127.0.0.1", "--lb-connect-timeout", "500ms", "--lb-idle-timeout", "0",
                     "--lb-io-threads", "3", "--lb-disable"},
                    &cfg);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(cfg.lb_disable);
  EXPECT_EQ(cfg.lb_bind, "127.0.0.1");
  EXPECT_EQ(cfg.lb_connect_timeout, "500ms");
  EXPECT_EQ(cfg.lb_idle_timeout, "0");
  EXPECT_EQ(cfg.lb_io_threads, 3);
}

TEST(AgentLbConfigTest, BadValuesAreNamed) {
  AgentConfig cfg;
  Status st = Parse({"--lb-bind", "localhost"}, &cfg);
  EXPECT_NE(st.message().find("--lb-bind"), std::string::npos) << st.ToString();
  AgentConfig cfg2;
  st = Parse({"--lb-connect-timeout", "soon"}, &cfg2);
  EXPECT_NE(st.message().find("--lb-connect-timeout"), std::string::npos) << st.ToString();
  AgentConfig cfg3;
  st = Parse({"--lb-idle-timeout", "-1s"}, &cfg3);
  EXPECT_NE(st.message().find("--lb-idle-timeout"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace orch::agent
