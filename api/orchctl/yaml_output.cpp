#include "api/orchctl/yaml_output.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <regex>

namespace orch::ctl {

namespace {

// Would a YAML 1.1 or 1.2 reader resolve this plain scalar to something
// other than a string?
bool LooksLikeNonString(const std::string& s) {
  if (s.empty()) return true;
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static constexpr std::array<std::string_view, 15> kWords = {
      "~", "null", "true", "false", "yes",   "no",   "on", "off",
      "y", "n",    ".inf", "-.inf", "+.inf", ".nan", "<<"};
  if (std::find(kWords.begin(), kWords.end(), lower) != kWords.end()) return true;
  static const std::regex kNumber(
      R"([-+]?(0|[0-9][0-9_]*)(\.[0-9_]*)?([eE][-+]?[0-9]+)?|[-+]?\.[0-9]+([eE][-+]?[0-9]+)?|0x[0-9a-fA-F_]+|0o?[0-7_]+|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?)");
  return std::regex_match(s, kNumber);
}

void Emit(YAML::Emitter& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      out << YAML::BeginMap;
      for (const auto& kv : node) {
        out << YAML::Key;
        Emit(out, kv.first);
        out << YAML::Value;
        Emit(out, kv.second);
      }
      out << YAML::EndMap;
      break;
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (const auto& item : node) Emit(out, item);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      // Tag "!" marks a quoted scalar in the source: a JSON string.
      if (node.Tag() == "!" && LooksLikeNonString(s)) {
        out << YAML::DoubleQuoted << s;
      } else {
        out << s;
      }
      break;
    }
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out << YAML::Null;
      break;
  }
}

}  // namespace

Result<std::string> JsonToYaml(std::string_view json) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(json));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string("cannot convert the answer to YAML: ") + e.what());
  }
  YAML::Emitter out;
  out.SetIndent(2);
  out.SetSeqFormat(YAML::Block);
  out.SetMapFormat(YAML::Block);
  Emit(out, root);
  if (!out.good()) {
    return Status::Internal("cannot convert the answer to YAML: " + out.GetLastError());
  }
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text += '\n';
  return text;
}

}  // namespace orch::ctl
