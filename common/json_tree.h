// JsonTree: a JSON document as the document walker (common/document.cpp)
// reads it, shaped like the part of yaml-cpp's YAML::Node it uses (null,
// scalar, mapping, list; scalars as text), so JSON bodies are read by the
// same walker as YAML job files, with the same meaning and error messages,
// without yaml-cpp's cost. Mapping entries keep their order and duplicates,
// as yaml-cpp's do; numbers keep their text (integers re-printed, so -0
// reads as 0; others as written); strings are unescaped (surrogate pairs
// joined, where yaml-cpp leaves two halves that are not UTF-8).
// Thread safety: values; stateless functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orch {

struct JsonMember;

class JsonTree {
 public:
  enum class Kind { kNull, kScalar, kMap, kSequence };

  bool IsNull() const { return kind_ == Kind::kNull; }
  bool IsScalar() const { return kind_ == Kind::kScalar; }
  bool IsMap() const { return kind_ == Kind::kMap; }
  bool IsSequence() const { return kind_ == Kind::kSequence; }
  const std::string& Scalar() const { return scalar_; }
  // A list's length.
  std::size_t size() const { return items_.size(); }
  const JsonTree& operator[](std::size_t i) const { return items_[i]; }
  // A mapping's entries, in document order (.first the key, a scalar).
  std::vector<JsonMember>::const_iterator begin() const;
  std::vector<JsonMember>::const_iterator end() const;

 private:
  friend class JsonTreeBuilder;
  Kind kind_ = Kind::kNull;
  std::string scalar_;
  std::vector<JsonTree> items_;
  std::vector<JsonMember> members_;
};

struct JsonMember {
  JsonTree first;
  JsonTree second;
};

// The tree of `text` if it is one well-formed JSON value (RFC 8259, UTF-8)
// nested at most `max_depth` mappings and lists deep; nullopt otherwise.
std::optional<JsonTree> ParseJsonTree(std::string_view text, int max_depth);

}  // namespace orch
