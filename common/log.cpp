#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "common/log_json.h"

namespace orch {

bool ValidLogFormat(const std::string& format) { return format == "text" || format == "json"; }

Status InitLogging(const std::string& level, const std::string& name, const std::string& format) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return Status::InvalidArgument("unknown log level \"" + level +
                                   "\" (expected trace, debug, info, warn or error)");
  }
  if (!ValidLogFormat(format)) {
    return Status::InvalidArgument("unknown log format \"" + format + "\" (expected text or json)");
  }
  auto logger = spdlog::stderr_color_mt(name.empty() ? "orch" : name);
  if (format == "json") {
    logger->set_formatter(std::make_unique<JsonLogFormatter>(name.empty() ? "orch" : name));
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ [%n] %v");
  }
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
  spdlog::flush_on(spdlog::level::info);
  return Status::Ok();
}

}  // namespace orch
