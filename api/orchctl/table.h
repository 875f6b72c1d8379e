// Plain-text tables and the small value formatters orchctl's table output
// uses: aligned columns as kubectl and nomad print them, enum names shown
// lower-case, ids shortened, ages as "5s", "3m", "2h", "4d".
// Thread safety: stateless functions and a value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace orch::ctl {

// Columns separated by three spaces, each as wide as its widest cell; the
// last column is not padded, so lines carry no trailing blanks.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}

  // Missing cells are empty; extra cells are dropped.
  void AddRow(std::vector<std::string> cells);
  bool empty() const { return rows_.empty(); }

  // Every line ends with '\n'.
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "RUNNING" -> "running", "ROUND_ROBIN" -> "round_robin"; the zero values
// ("STATUS_UNSPECIFIED", "") -> "-".
std::string PrettyEnum(std::string_view name);

// The first 8 characters of an id ("-" when empty).
std::string ShortId(std::string_view id);

// How long ago `then_ms` was at `now_ms`: "45s", "12m", "3h", "5d"; "-" when
// `then_ms` is 0 (unknown). A time in the future counts as "0s".
std::string FormatAge(int64_t now_ms, int64_t then_ms);

// Replaces line breaks and tabs with spaces and trims, so a message from a
// server prints as one line.
std::string OneLine(std::string_view text);

}  // namespace orch::ctl
