#include "common/log_json.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace orch {

namespace {

constexpr std::array<std::string_view, 7> kKinds = {"alloc",  "deployment", "eval", "job",
                                                    "member", "node",       "task"};

bool KnownKind(std::string_view w) {
  for (auto k : kKinds) {
    if (w == k) return true;
  }
  return false;
}

// Whether `id` can be an id of `kind`: allocations, evaluations and
// deployments have UUIDs (or their hex prefixes); names of the others are
// anything but the words orch's own components go by ("job watch",
// "node draining").
bool PlausibleId(std::string_view kind, std::string_view id) {
  if (kind == "alloc" || kind == "eval" || kind == "deployment") {
    for (char c : id) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '-'))
        return false;
    }
    return true;
  }
  return id != "watch" && id != "draining" && id != "logs" && id != "liveness";
}

std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    std::size_t j = i;
    while (j < s.size() && s[j] != ' ') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// The length of the UTF-8 sequence starting at s[i] (0 when invalid).
std::size_t Utf8Length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = c < 0x80           ? 1
                  : (c >> 5) == 0x6  ? 2
                  : (c >> 4) == 0xE  ? 3
                  : (c >> 3) == 0x1E ? 4
                                     : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return 0;
  }
  return n;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> LogSubjectIds(std::string_view msg) {
  std::vector<std::pair<std::string, std::string>> out;
  // Every segment before the last ": " that is nothing but pairs.
  std::size_t start = 0;
  for (std::size_t end = msg.find(": "); end != std::string_view::npos;
       end = msg.find(": ", start)) {
    auto words = Words(msg.substr(start, end - start));
    start = end + 2;
    if (words.empty() || words.size() % 2 != 0) continue;
    bool pairs = true;
    for (std::size_t i = 0; i < words.size() && pairs; i += 2) {
      pairs = KnownKind(words[i]) && PlausibleId(words[i], words[i + 1]);
    }
    if (!pairs) continue;
    for (std::size_t i = 0; i < words.size(); i += 2) {
      bool seen = false;
      for (const auto& [k, v] : out) seen = seen || k == words[i];
      if (!seen) out.emplace_back(std::string(words[i]), std::string(words[i + 1]));
    }
  }
  return out;
}

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else if (c >= 0x80) {
      std::size_t n = Utf8Length(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
        continue;
      }
      out.append(s.substr(i, n));
      i += n;
      continue;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  return out + "\"";
}

void JsonLogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const auto since = msg.time.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
  std::time_t t = secs.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char when[80];
  std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  const std::string_view text(msg.payload.data(), msg.payload.size());
  const auto level = spdlog::level::to_string_view(msg.level);
  std::string line = std::string("{\"time\":\"") + when +
                     "\",\"level\":" + JsonQuote(std::string_view(level.data(), level.size())) +
                     ",\"process\":" + JsonQuote(process_) + ",\"msg\":" + JsonQuote(text);
  for (const auto& [kind, id] : LogSubjectIds(text)) line += ",\"" + kind + "\":" + JsonQuote(id);
  line += "}\n";
  dest.append(line.data(), line.data() + line.size());
}

}  // namespace orch
