// Log lines as JSON objects, one per line (--log-format json), for log
// shippers: {"time":"2026-12-04T14:36:27.123Z","level":"info",
// "process":"m1","msg":"alloc 1a2b3c4d task web: restarting (restart 1)",
// "alloc":"1a2b3c4d","task":"web"}. The ids a line is about become fields
// of their own: orch's lines name their subject first, as "kind id" pairs
// before a ": " ("eval 12ab job web: placed 2"), and each such pair of a
// known kind (alloc, deployment, eval, job, member, node, task) is a field.
// Thread safety: pure functions; the formatter is spdlog's (per sink).
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orch {

// The subject's "kind id" pairs of a log message (see above), in order; a
// kind named twice keeps its first id.
std::vector<std::pair<std::string, std::string>> LogSubjectIds(std::string_view msg);

// `s` as a JSON string literal, quotes included (control characters
// escaped, invalid UTF-8 bytes replaced).
std::string JsonQuote(std::string_view s);

// spdlog's formatter for --log-format json.
class JsonLogFormatter : public spdlog::formatter {
 public:
  explicit JsonLogFormatter(std::string process) : process_(std::move(process)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLogFormatter>(process_);
  }

 private:
  std::string process_;
};

}  // namespace orch
