// What orchctl prints when a command fails, and with which exit status.
// A failure is always one line on stderr: "orchctl: <message>".
// Thread safety: stateless functions.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace orch::ctl {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,  // the server refused, or no master could be reached
  kExitUsage = 2,    // bad flags, arguments or input files
};

// The one-line message for a failed API call. The client reports transport
// failures as "GET http://host:port/path: why"; those become
// "cannot reach master at http://host:port: why". Server errors print the
// server's message as it is ("job \"web\" not found").
std::string DescribeError(const Status& status, const std::vector<std::string>& addresses);

}  // namespace orch::ctl
