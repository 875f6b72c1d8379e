// The three output formats of orchctl (-o table|json|yaml) and printing an
// API message in the chosen one.
// Thread safety: stateless functions.
#pragma once

#include <google/protobuf/message.h>

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "common/status.h"

namespace orch::ctl {

enum class OutputFormat { kTable, kJson, kYaml };

// "table", "json", "yaml"; nullopt for anything else.
std::optional<OutputFormat> ParseOutputFormat(std::string_view name);

// Re-indents JSON with two spaces per level ("{}" and "[]" stay on one
// line); protobuf's own pretty printer indents by one. Input must be valid
// JSON; string contents are copied untouched. Ends with '\n'.
std::string PrettyJson(std::string_view json);

// json: the message in the API's JSON mapping, pretty; yaml: the same data as
// YAML; table: whatever `table` renders.
Status PrintMessage(std::ostream& out, OutputFormat format, const google::protobuf::Message& msg,
                    const std::function<std::string()>& table);

}  // namespace orch::ctl
