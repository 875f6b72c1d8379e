#include "api/orchctl/output.h"

#include <cctype>

#include "api/orchctl/yaml_output.h"
#include "common/json.h"

namespace orch::ctl {

std::optional<OutputFormat> ParseOutputFormat(std::string_view name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "json") return OutputFormat::kJson;
  if (name == "yaml") return OutputFormat::kYaml;
  return std::nullopt;
}

std::string PrettyJson(std::string_view json) {
  std::string out;
  out.reserve(json.size() * 2);
  int depth = 0;
  auto newline = [&] {
    out += '\n';
    out.append(static_cast<std::size_t>(2 * depth), ' ');
  };
  auto next_significant = [&](std::size_t i) {
    while (i < json.size() && std::isspace(static_cast<unsigned char>(json[i]))) ++i;
    return i < json.size() ? json[i] : '\0';
  };
  bool in_string = false;
  for (std::size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < json.size()) {
        out += json[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out += c;
        break;
      case '{':
      case '[': {
        char close = c == '{' ? '}' : ']';
        out += c;
        if (next_significant(i + 1) == close) {
          out += close;
          i = json.find(close, i + 1);
        } else {
          ++depth;
          newline();
        }
        break;
      }
      case '}':
      case ']':
        --depth;
        newline();
        out += c;
        break;
      case ',':
        out += c;
        newline();
        break;
      case ':':
        out += ": ";
        break;
      default:
        if (!std::isspace(static_cast<unsigned char>(c))) out += c;
        break;
    }
  }
  out += '\n';
  return out;
}

Status PrintMessage(std::ostream& out, OutputFormat format, const google::protobuf::Message& msg,
                    const std::function<std::string()>& table) {
  switch (format) {
    case OutputFormat::kTable:
      out << table();
      break;
    case OutputFormat::kJson: {
      out << PrettyJson(ToJson(msg));
      break;
    }
    case OutputFormat::kYaml: {
      ORCH_ASSIGN_OR_RETURN(std::string yaml, JsonToYaml(ToJson(msg)));
      out << yaml;
      break;
    }
  }
  out.flush();
  return Status::Ok();
}

}  // namespace orch::ctl
