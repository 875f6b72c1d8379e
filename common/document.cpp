#include "common/document.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/duration.pb.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include "common/base64.h"
#include "common/json_tree.h"

namespace orch {
namespace {

namespace pb = google::protobuf;

// Deeper than any message of ours nests.
constexpr int kMaxDepth = 32;
// A message nests in a mapping, a list of messages in a list: JSON text
// nested deeper than this cannot be a document of ours, and goes to
// yaml-cpp for its error.
constexpr int kMaxJsonDepth = 2 * kMaxDepth + 2;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string Quote(std::string_view s) {
  std::string out = "\"";
  out.append(s.substr(0, 60));
  if (s.size() > 60) out.append("...");
  out.append("\"");
  return out;
}

std::string Join(const std::string& path, std::string_view field) {
  return path.empty() ? std::string(field) : path + "." + std::string(field);
}

// The walker below reads a YAML::Node (YAML, or JSON that is not plain
// JSON text) or a JsonTree (JSON text) through the same calls.
template <typename Node>
const char* KindName(const Node& node) {
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  if (node.IsScalar()) return "a scalar";
  return "null";
}

template <typename T>
Result<T> ParseInteger(const std::string& path, const std::string& text) {
  T value{};
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  if (!text.empty() && text[0] == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec == std::errc::result_out_of_range) {
    return Status::InvalidArgument(path + ": " + Quote(text) + " is out of range");
  }
  if (ec != std::errc() || ptr != end || begin == end) {
    if constexpr (std::is_unsigned_v<T>) {
      if (!text.empty() && text[0] == '-') {
        return Status::InvalidArgument(path + ": must not be negative, got " + Quote(text));
      }
    }
    return Status::InvalidArgument(path + ": expected an integer, got " + Quote(text));
  }
  return value;
}

// What one document may cost to walk. YAML anchors and aliases share
// nodes, so a small text can stand for an exponentially large tree ("billion
// laughs"); the walk charges every node it visits (its scalar's bytes plus
// one), so the expanded document is bounded, not just the text.
struct Walk {
  explicit Walk(const DocumentLimits& limits)
      : left(limits.max_expanded_bytes), limit(limits.max_expanded_bytes) {}
  std::size_t left;   // bytes of expanded document still allowed
  std::size_t limit;  // for the error message
  int depth = 0;
};

template <typename Node>
Status Charge(Walk* w, const Node& node, const std::string& path) {
  std::size_t cost = 1 + (node.IsScalar() ? node.Scalar().size() : 0);
  if (cost > w->left) {
    return Status::InvalidArgument((path.empty() ? std::string("document") : path) +
                                   ": the document expands (through YAML aliases) to more than " +
                                   std::to_string(w->limit) + " bytes");
  }
  w->left -= cost;
  return Status::Ok();
}

template <typename Node>
Status ParseMessage(const Node& node, pb::Message* msg, const std::string& path, Walk* w);

template <typename Node>
Status ParseDurationField(const Node& node, pb::Message* msg, const std::string& path) {
  if (!node.IsScalar()) {
    return Status::InvalidArgument(path + ": expected a duration such as \"1s\", got " +
                                   KindName(node));
  }
  auto d = ParseDuration(node.Scalar());
  if (!d.ok()) return d.status().WithContext(path);
  auto* dur = static_cast<pb::Duration*>(msg);
  dur->set_seconds(d->count() / 1'000'000'000);
  dur->set_nanos(static_cast<int32_t>(d->count() % 1'000'000'000));
  return Status::Ok();
}

// Sets one scalar (or appends it, for repeated fields).
template <typename Node>
Status SetScalar(const Node& node, pb::Message* msg, const pb::FieldDescriptor* f,
                 const std::string& path) {
  if (!node.IsScalar()) {
    return Status::InvalidArgument(path + ": expected a scalar, got " + KindName(node));
  }
  const pb::Reflection* r = msg->GetReflection();
  const std::string& text = node.Scalar();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case pb::FieldDescriptor::CPPTYPE_STRING:
      if (f->type() == pb::FieldDescriptor::TYPE_STRING && !IsValidUtf8(text)) {
        return Status::InvalidArgument(path + ": is not valid UTF-8 text");
      }
      if (f->type() == pb::FieldDescriptor::TYPE_BYTES) {
        auto bytes = DecodeBase64(text);
        if (!bytes) return Status::InvalidArgument(path + ": expected base64, got something else");
        rep ? r->AddString(msg, f, *bytes) : r->SetString(msg, f, *bytes);
        return Status::Ok();
      }
      rep ? r->AddString(msg, f, text) : r->SetString(msg, f, text);
      return Status::Ok();
    case pb::FieldDescriptor::CPPTYPE_INT32: {
      ORCH_ASSIGN_OR_RETURN(int32_t v, ParseInteger<int32_t>(path, text));
      rep ? r->AddInt32(msg, f, v) : r->SetInt32(msg, f, v);
      return Status::Ok();
    }
    case pb::FieldDescriptor::CPPTYPE_INT64: {
      ORCH_ASSIGN_OR_RETURN(int64_t v, ParseInteger<int64_t>(path, text));
      rep ? r->AddInt64(msg, f, v) : r->SetInt64(msg, f, v);
      return Status::Ok();
    }
    case pb::FieldDescriptor::CPPTYPE_UINT32: {
      ORCH_ASSIGN_OR_RETURN(uint32_t v, ParseInteger<uint32_t>(path, text));
      rep ? r->AddUInt32(msg, f, v) : r->SetUInt32(msg, f, v);
      return Status::Ok();
    }
    case pb::FieldDescriptor::CPPTYPE_UINT64: {
      ORCH_ASSIGN_OR_RETURN(uint64_t v, ParseInteger<uint64_t>(path, text));
      rep ? r->AddUInt64(msg, f, v) : r->SetUInt64(msg, f, v);
      return Status::Ok();
    }
    case pb::FieldDescriptor::CPPTYPE_DOUBLE:
    case pb::FieldDescriptor::CPPTYPE_FLOAT: {
      char* end = nullptr;
      double v = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v)) {
        return Status::InvalidArgument(path + ": expected a number, got " + Quote(text));
      }
      if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_DOUBLE) {
        rep ? r->AddDouble(msg, f, v) : r->SetDouble(msg, f, v);
      } else {
        rep ? r->AddFloat(msg, f, static_cast<float>(v)) : r->SetFloat(msg, f, static_cast<float>(v));
      }
      return Status::Ok();
    }
    case pb::FieldDescriptor::CPPTYPE_BOOL: {
      std::string l = Lower(text);
      bool v;
      if (l == "true" || l == "yes" || l == "on") {
        v = true;
      } else if (l == "false" || l == "no" || l == "off") {
        v = false;
      } else {
        return Status::InvalidArgument(path + ": expected true or false, got " + Quote(text));
      }
      rep ? r->AddBool(msg, f, v) : r->SetBool(msg, f, v);
      return Status::Ok();
    }
    case pb::FieldDescriptor::CPPTYPE_ENUM: {
      const pb::EnumDescriptor* e = f->enum_type();
      std::string want = Lower(text);
      std::replace(want.begin(), want.end(), '-', '_');
      std::string allowed;
      for (int i = 0; i < e->value_count(); ++i) {
        const pb::EnumValueDescriptor* v = e->value(i);
        if (v->number() == 0) continue;  // UNSPECIFIED is never a user's choice
        if (Lower(v->name()) == want) {
          rep ? r->AddEnumValue(msg, f, v->number()) : r->SetEnumValue(msg, f, v->number());
          return Status::Ok();
        }
        allowed += (allowed.empty() ? "" : ", ") + Lower(v->name());
      }
      return Status::InvalidArgument(path + ": unknown value " + Quote(text) + " (expected one of " +
                                     allowed + ")");
    }
    case pb::FieldDescriptor::CPPTYPE_MESSAGE:
      break;
  }
  return Status::Internal(path + ": unsupported field type");
}

template <typename Node>
Status ParseMapField(const Node& node, pb::Message* msg, const pb::FieldDescriptor* f,
                     const std::string& path, Walk* w) {
  if (!node.IsMap()) {
    return Status::InvalidArgument(path + ": expected a mapping, got " + KindName(node));
  }
  const pb::Descriptor* entry_desc = f->message_type();
  const pb::FieldDescriptor* key_f = entry_desc->map_key();
  const pb::FieldDescriptor* val_f = entry_desc->map_value();
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) return Status::InvalidArgument(path + ": keys must be scalars");
    std::string key = kv.first.Scalar();
    std::string item_path = path + "[" + Quote(key) + "]";
    ORCH_RETURN_IF_ERROR(Charge(w, kv.first, item_path));
    pb::Message* entry = msg->GetReflection()->AddMessage(msg, f);
    ORCH_RETURN_IF_ERROR(SetScalar(kv.first, entry, key_f, item_path));
    if (val_f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      ORCH_RETURN_IF_ERROR(
          ParseMessage(kv.second, entry->GetReflection()->MutableMessage(entry, val_f), item_path, w));
    } else {
      ORCH_RETURN_IF_ERROR(Charge(w, kv.second, item_path));
      ORCH_RETURN_IF_ERROR(SetScalar(kv.second, entry, val_f, item_path));
    }
  }
  return Status::Ok();
}

template <typename Node>
Status ParseField(const Node& node, pb::Message* msg, const pb::FieldDescriptor* f,
                  const std::string& path, Walk* w) {
  // A singular message is charged by ParseMessage, everything else here.
  if (f->is_repeated() || f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) {
    ORCH_RETURN_IF_ERROR(Charge(w, node, path));
  }
  if (node.IsNull()) return Status::Ok();  // `key:` with no value leaves the field unset
  if (f->is_map()) return ParseMapField(node, msg, f, path, w);
  const pb::Reflection* r = msg->GetReflection();
  if (f->is_repeated()) {
    if (!node.IsSequence()) {
      return Status::InvalidArgument(path + ": expected a list, got " + KindName(node));
    }
    for (std::size_t i = 0; i < node.size(); ++i) {
      std::string item_path = path + "[" + std::to_string(i) + "]";
      if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
        ORCH_RETURN_IF_ERROR(ParseMessage(node[i], r->AddMessage(msg, f), item_path, w));
      } else {
        ORCH_RETURN_IF_ERROR(Charge(w, node[i], item_path));
        ORCH_RETURN_IF_ERROR(SetScalar(node[i], msg, f, item_path));
      }
    }
    return Status::Ok();
  }
  if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
    return ParseMessage(node, r->MutableMessage(msg, f), path, w);
  }
  return SetScalar(node, msg, f, path);
}

template <typename Node>
Status ParseMessage(const Node& node, pb::Message* msg, const std::string& path, Walk* w) {
  // Messages nest only as deep as the schema does; a bound keeps a
  // recursive schema (or a future one) from recursing without limit.
  if (w->depth >= kMaxDepth) {
    return Status::InvalidArgument(path + ": nested more than " + std::to_string(kMaxDepth) + " levels deep");
  }
  struct Deeper {
    Walk* w;
    explicit Deeper(Walk* w) : w(w) { ++w->depth; }
    ~Deeper() { --w->depth; }
  } deeper(w);
  ORCH_RETURN_IF_ERROR(Charge(w, node, path));
  const pb::Descriptor* d = msg->GetDescriptor();
  if (d->full_name() == "google.protobuf.Duration") return ParseDurationField(node, msg, path);
  if (node.IsNull()) return Status::Ok();
  if (!node.IsMap()) {
    return Status::InvalidArgument((path.empty() ? std::string("document") : path) +
                                   ": expected a mapping, got " + KindName(node));
  }
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      return Status::InvalidArgument((path.empty() ? std::string("document") : path) +
                                     ": keys must be scalars");
    }
    const std::string& name = kv.first.Scalar();
    const pb::FieldDescriptor* f = d->FindFieldByName(name);
    if (f == nullptr) f = d->FindFieldByCamelcaseName(name);
    if (f == nullptr) {
      return Status::InvalidArgument(Join(path, name) + ": unknown field");
    }
    ORCH_RETURN_IF_ERROR(Charge(w, kv.first, path));
    ORCH_RETURN_IF_ERROR(ParseField(kv.second, msg, f, Join(path, name), w));
  }
  return Status::Ok();
}

}  // namespace

// Well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF): proto3 string fields must hold it, or the message cannot be
// parsed back after it is sent.
bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    int n;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(n) >= s.size()) return false;  // sequence cut short
    for (int k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += static_cast<std::size_t>(n) + 1;
  }
  return true;
}

Status ParseDocument(std::string_view text, google::protobuf::Message* out, const DocumentLimits& limits) {
  out->Clear();
  if (text.size() > limits.max_expanded_bytes) {
    return Status::InvalidArgument("document: " + std::to_string(text.size()) + " bytes, more than the limit of " +
                                   std::to_string(limits.max_expanded_bytes));
  }
  // JSON text (request bodies, what orchctl sends) is read without
  // yaml-cpp, which costs far more; anything else, or JSON that is not
  // well-formed, goes to yaml-cpp (JSON is YAML's flow style), which
  // accepts or refuses it with the messages it always gave.
  if (std::size_t first = text.find_first_not_of(" \t\r\n");
      first != std::string_view::npos && text[first] == '{') {
    if (auto tree = ParseJsonTree(text, kMaxJsonDepth)) {
      Walk w(limits);
      return ParseMessage(*tree, out, "", &w);
    }
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("malformed document at line " + std::to_string(e.mark.line + 1) +
                                   ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!root.IsDefined() || root.IsNull()) return Status::InvalidArgument("empty document");
  try {
    Walk w(limits);
    return ParseMessage(root, out, "", &w);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string("malformed document: ") + e.msg);
  }
}

Result<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  using std::chrono::nanoseconds;
  if (text == "0") return nanoseconds(0);
  if (text.empty()) return Status::InvalidArgument("empty duration");
  if (text[0] == '-') return Status::InvalidArgument("duration must not be negative");
  long double total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (start == i) {
      return Status::InvalidArgument("invalid duration " + Quote(text) +
                                     " (expected e.g. \"500ms\", \"1s\", \"2m\")");
    }
    std::string number(text.substr(start, i - start));
    std::size_t ustart = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(ustart, i - ustart);
    long double scale;
    if (unit == "ns") scale = 1;
    else if (unit == "us") scale = 1e3;
    else if (unit == "ms") scale = 1e6;
    else if (unit == "s") scale = 1e9;
    else if (unit == "m") scale = 60e9;
    else if (unit == "h") scale = 3600e9;
    else {
      return Status::InvalidArgument("invalid duration " + Quote(text) +
                                     " (units are ns, us, ms, s, m, h)");
    }
    char* end = nullptr;
    long double v = std::strtold(number.c_str(), &end);
    if (end != number.c_str() + number.size()) {
      return Status::InvalidArgument("invalid duration " + Quote(text));
    }
    total += v * scale;
  }
  if (total > static_cast<long double>(std::numeric_limits<int64_t>::max())) {
    return Status::InvalidArgument("duration " + Quote(text) + " is too long");
  }
  return nanoseconds(static_cast<int64_t>(total));
}

}  // namespace orch
