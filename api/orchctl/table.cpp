#include "api/orchctl/table.h"

#include <algorithm>
#include <cctype>

namespace orch::ctl {

namespace {
constexpr std::string_view kGap = "   ";
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<std::size_t> width(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  };
  measure(headers_);
  for (const auto& r : rows_) measure(r);

  std::string out;
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += kGap;
      line += row[i];
      if (i + 1 < row.size()) line.append(width[i] - row[i].size(), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  emit(headers_);
  for (const auto& r : rows_) emit(r);
  return out;
}

std::string PrettyEnum(std::string_view name) {
  if (name.empty() || name.ends_with("UNSPECIFIED")) return "-";
  std::string out(name);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string ShortId(std::string_view id) {
  if (id.empty()) return "-";
  return std::string(id.substr(0, 8));
}

std::string FormatAge(int64_t now_ms, int64_t then_ms) {
  if (then_ms <= 0) return "-";
  int64_t s = std::max<int64_t>(0, (now_ms - then_ms) / 1000);
  if (s < 120) return std::to_string(s) + "s";
  int64_t m = s / 60;
  if (m < 120) return std::to_string(m) + "m";
  int64_t h = m / 60;
  if (h < 48) return std::to_string(h) + "h";
  return std::to_string(h / 24) + "d";
}

std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (char c : text) {
    bool ws = c == '\n' || c == '\r' || c == '\t';
    if (ws || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace orch::ctl
