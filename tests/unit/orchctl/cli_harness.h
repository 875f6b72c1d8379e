// Runs orchctl's whole command line in-process and checks the shape of its
// errors; shared by the CLI tests.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "api/orchctl/cli.h"

namespace orch::ctl::clitest {

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

inline CliRun Orchctl(const std::vector<std::string>& args,
                      std::map<std::string, std::string> env = {}, Clock clock = Clock::System()) {
  std::ostringstream out, err;
  CliIo io = CliIo::System();
  io.clock = std::move(clock);
  io.out = &out;
  io.err = &err;
  io.getenv = [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  CliRun r;
  r.code = RunCli(args, io);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// One line, "orchctl: " first.
inline void ExpectOneLineError(const CliRun& r) {
  EXPECT_EQ(r.err.rfind("orchctl: ", 0), 0u) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.back(), '\n');
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
}

}  // namespace orch::ctl::clitest
