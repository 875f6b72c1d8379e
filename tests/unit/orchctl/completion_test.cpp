// `orchctl completion bash|zsh`: the script completes orchctl's real verbs,
// subcommands, aliases and flags when bash runs it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli_harness.h"

namespace orch::ctl {
namespace {

using clitest::CliRun;
using clitest::Orchctl;

class CompletionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/bin/bash", X_OK) != 0) GTEST_SKIP() << "no bash";
    CliRun r = Orchctl({"completion", "bash"});
    ASSERT_EQ(r.code, 0) << r.err;
    script_ = ::testing::TempDir() + "/orchctl-completion-" + std::to_string(getpid()) + ".bash";
    std::ofstream(script_) << r.out;
  }
  void TearDown() override { std::remove(script_.c_str()); }

  // What bash offers for the command line `words` (the last one being
  // completed), one word per line.
  std::string Complete(const std::string& words) {
    std::string cmd =
        "bash -c 'source " + script_ + "; COMP_WORDS=(" + words +
        "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _orchctl; printf \"%s\\n\" \"${COMPREPLY[@]}\"'";
    FILE* p = popen(cmd.c_str(), "r");
    if (p == nullptr) return "";
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
  }

  std::string script_;
};

TEST_F(CompletionTest, VerbsSubcommandsAliasesAndFlags) {
  std::string verbs = Complete("orchctl \"\"");
  for (const char* v :
       {"run\n", "get\n", "logs\n", "tls\n", "acl\n", "completion\n", "--ca-cert\n"}) {
    EXPECT_NE(verbs.find(v), std::string::npos) << v << "not offered:\n" << verbs;
  }
  EXPECT_EQ(Complete("orchctl get j"), "job\njobs\n");
  // A flag's value is no verb; aliases are offered with the names.
  EXPECT_EQ(Complete("orchctl --addr 10.0.0.1:4646 get n"), "node\nnodes\n");
  EXPECT_EQ(Complete("orchctl tls cert create --se"), "--server\n");
  EXPECT_EQ(Complete("orchctl describe sv"), "svc\n");
  EXPECT_NE(Complete("orchctl describe s").find("service\nsvc\n"), std::string::npos);
  // Global flags are offered after a verb too.
  EXPECT_NE(Complete("orchctl get jobs --t").find("--token\n"), std::string::npos);
}

TEST(CompletionCliTest, ZshWrapsTheBashScriptAndOtherShellsAreUsageErrors) {
  CliRun zsh = Orchctl({"completion", "zsh"});
  EXPECT_EQ(zsh.code, 0);
  EXPECT_NE(zsh.out.find("bashcompinit"), std::string::npos);
  EXPECT_NE(zsh.out.find("complete -F _orchctl orchctl"), std::string::npos);
  CliRun fish = Orchctl({"completion", "fish"});
  EXPECT_EQ(fish.code, 2);
  EXPECT_TRUE(fish.out.empty());
}

}  // namespace
}  // namespace orch::ctl
