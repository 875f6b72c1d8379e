// orchctl's command line: flags and verbs (CLI11) mapped onto commands.h,
// and every failure turned into one line on stderr and an exit status
// (errors.h). main.cpp only forwards argv here, so tests run the whole
// command line in-process.
// Thread safety: RunCli may run concurrently with separate CliIo values.
#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "api/orchctl/commands.h"
#include "common/status.h"

namespace orch::ctl {

// What orchctl touches besides the network.
struct CliIo {
  std::ostream* out = nullptr;  // not owned
  std::ostream* err = nullptr;  // not owned
  std::function<std::optional<std::string>(const std::string& name)> getenv;
  // A job file's text; "-" is standard input.
  std::function<Result<std::string>(const std::string& path)> read_file;
  Clock clock = Clock::System();
  bool terminal = false;  // standard output is a terminal
  // The real environment, files, clock and std::cout / std::cerr.
  static CliIo System();
};

// Without a scheme: http://, or https:// when TLS files are given.
inline constexpr const char* kDefaultAddr = "127.0.0.1:4646";
inline constexpr std::size_t kMaxJobFileBytes = 1 << 20;

// Runs orchctl with `args` (argv without the program name); returns the exit
// status (errors.h).
int RunCli(const std::vector<std::string>& args, const CliIo& io);

// "a:1, http://b:2/" -> {"http://a:1", "http://b:2"} (https:// for a bare
// address when `https`, i.e. TLS files are given); InvalidArgument when no
// address is left.
Result<std::vector<std::string>> ParseAddresses(const std::string& list, bool https = false);

}  // namespace orch::ctl
