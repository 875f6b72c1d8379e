// Process-wide logging on spdlog: one line per event, naming the thing and
// the cause ("node n-3: heartbeat missed for 5.0s, marking down").
#pragma once

#include <string>

#include "common/status.h"

namespace orch {

// level: trace|debug|info|warn|error. `name` prefixes every line (e.g.
// "m1"). format: "text" (one readable line per event) or "json" (one JSON
// object per line, common/log_json.h).
Status InitLogging(const std::string& level, const std::string& name,
                   const std::string& format = "text");

// Whether `format` is one InitLogging takes.
bool ValidLogFormat(const std::string& format);

}  // namespace orch
