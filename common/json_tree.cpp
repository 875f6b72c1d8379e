#include "common/json_tree.h"

#include <nlohmann/json.hpp>
#include <utility>

namespace orch {

std::vector<JsonMember>::const_iterator JsonTree::begin() const { return members_.begin(); }
std::vector<JsonMember>::const_iterator JsonTree::end() const { return members_.end(); }

// Builds a JsonTree from nlohmann's SAX events (its parser keeps its own
// stack, so a deep document cannot overflow ours); stops at max_depth.
class JsonTreeBuilder {
 public:
  using number_integer_t = nlohmann::json::number_integer_t;
  using number_unsigned_t = nlohmann::json::number_unsigned_t;
  using number_float_t = nlohmann::json::number_float_t;
  using string_t = nlohmann::json::string_t;
  using binary_t = nlohmann::json::binary_t;

  explicit JsonTreeBuilder(int max_depth) : max_depth_(max_depth) {}

  bool null() {
    Add(JsonTree::Kind::kNull, {});
    return true;
  }
  bool boolean(bool v) { return Scalar(v ? "true" : "false"); }
  bool number_integer(number_integer_t v) { return Scalar(std::to_string(v)); }
  bool number_unsigned(number_unsigned_t v) { return Scalar(std::to_string(v)); }
  // Past int64/uint64, or with a fraction or exponent: kept as written.
  bool number_float(number_float_t, const string_t& text) { return Scalar(text); }
  bool string(string_t& v) { return Scalar(std::move(v)); }
  bool binary(binary_t&) { return false; }  // not in JSON text
  bool key(string_t& k) {
    key_ = std::move(k);
    return true;
  }
  bool start_object(std::size_t) { return Open(JsonTree::Kind::kMap); }
  bool end_object() { return Close(); }
  bool start_array(std::size_t) { return Open(JsonTree::Kind::kSequence); }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    return false;
  }

  JsonTree TakeRoot() { return std::move(root_); }

 private:
  bool Scalar(std::string text) {
    Add(JsonTree::Kind::kScalar, std::move(text));
    return true;
  }
  // The new value: the root, the next item of the open list, or the value
  // of the open mapping's last key.
  JsonTree* Add(JsonTree::Kind kind, std::string scalar) {
    JsonTree* v;
    if (open_.empty()) {
      v = &root_;  // the parser gives one value at the top (strict mode)
    } else if (open_.back()->kind_ == JsonTree::Kind::kSequence) {
      v = &open_.back()->items_.emplace_back();
    } else {
      JsonMember& m = open_.back()->members_.emplace_back();
      m.first.kind_ = JsonTree::Kind::kScalar;
      m.first.scalar_ = std::move(key_);
      v = &m.second;
    }
    v->kind_ = kind;
    v->scalar_ = std::move(scalar);
    return v;
  }
  bool Open(JsonTree::Kind kind) {
    if (static_cast<int>(open_.size()) >= max_depth_) return false;
    JsonTree* v = Add(kind, {});
    // Only the innermost open value grows, so pointers to the outer ones
    // stay valid.
    open_.push_back(v);
    return true;
  }
  bool Close() {
    if (open_.empty()) return false;
    open_.pop_back();
    return true;
  }

  int max_depth_;
  JsonTree root_;
  std::vector<JsonTree*> open_;
  std::string key_;
};

std::optional<JsonTree> ParseJsonTree(std::string_view text, int max_depth) {
  JsonTreeBuilder builder(max_depth);
  bool ok = false;
  try {
    ok = nlohmann::json::sax_parse(text.begin(), text.end(), &builder,
                                   nlohmann::json::input_format_t::json,
                                   /*strict=*/true, /*ignore_comments=*/false);
  } catch (const nlohmann::json::exception&) {
    ok = false;
  }
  if (!ok) return std::nullopt;
  return builder.TakeRoot();
}

}  // namespace orch
