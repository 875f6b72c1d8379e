#include "master/scheduler/constraints.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "master/scheduler/regex.h"

namespace orch::master::sched {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(s.begin());
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(Trim(cur));
  return out;
}

// Numeric when both parse fully as numbers.
std::optional<std::pair<double, double>> Numbers(const std::string& a, const std::string& b) {
  char* ea = nullptr;
  char* eb = nullptr;
  double x = std::strtod(a.c_str(), &ea);
  double y = std::strtod(b.c_str(), &eb);
  if (a.empty() || b.empty() || *ea != '\0' || *eb != '\0') return std::nullopt;
  return std::make_pair(x, y);
}

std::vector<long> VersionParts(const std::string& v) {
  std::vector<long> out;
  std::string s = v;
  if (!s.empty() && (s[0] == 'v' || s[0] == 'V')) s.erase(0, 1);
  for (const auto& p : Split(s, '.')) out.push_back(std::strtol(p.c_str(), nullptr, 10));
  return out;
}

int CompareVersions(const std::string& a, const std::string& b) {
  auto x = VersionParts(a), y = VersionParts(b);
  size_t n = std::max(x.size(), y.size());
  x.resize(n, 0);
  y.resize(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return 0;
}

}  // namespace

std::optional<std::string> ResolveAttribute(const v1::Node& node, const std::string& attribute) {
  std::string a = attribute;
  if (a.size() > 3 && a.rfind("${", 0) == 0 && a.back() == '}') a = a.substr(2, a.size() - 3);
  const auto& at = node.attributes();
  auto label = [&](const std::string& key) -> std::optional<std::string> {
    auto it = at.labels().find(key);
    if (it == at.labels().end()) return std::nullopt;
    return it->second;
  };
  for (const char* prefix : {"label.", "meta.", "node.label.", "node.meta.", "attr.label."}) {
    std::string p = prefix;
    if (a.rfind(p, 0) == 0) return label(a.substr(p.size()));
  }
  if (a.rfind("driver.", 0) == 0) {
    std::string d = a.substr(7);
    bool has = std::find(at.drivers().begin(), at.drivers().end(), d) != at.drivers().end();
    return has ? std::optional<std::string>("1") : std::nullopt;
  }
  if (a.rfind("attr.", 0) == 0) a = a.substr(5);
  if (a == "node.name" || a == "name") return node.name();
  if (a == "node.id" || a == "id") return node.id();
  if (a == "os" || a == "kernel.name") return at.os().empty() ? std::nullopt : std::optional(at.os());
  if (a == "arch" || a == "cpu.arch") return at.arch().empty() ? std::nullopt : std::optional(at.arch());
  if (a == "kernel" || a == "kernel.version") {
    return at.kernel().empty() ? std::nullopt : std::optional(at.kernel());
  }
  if (a == "hostname" || a == "unique.hostname") {
    return at.hostname().empty() ? std::nullopt : std::optional(at.hostname());
  }
  if (a == "cpu_cores" || a == "cpu.numcores") return std::to_string(at.cpu_cores());
  if (a == "cpu_mhz" || a == "cpu.frequency") return std::to_string(at.cpu_mhz());
  if (a == "memory_mib" || a == "memory.totalbytes") return std::to_string(at.memory_mib());
  if (a == "docker_version" || a == "driver.docker.version") {
    return at.docker_version().empty() ? std::nullopt : std::optional(at.docker_version());
  }
  if (a == "drivers") {
    std::string s;
    for (const auto& d : at.drivers()) s += (s.empty() ? "" : ",") + d;
    return s;
  }
  // A bare name: a label of that name.
  return label(a);
}

bool VersionMatches(const std::string& have, const std::string& requirement) {
  for (const auto& part : Split(requirement, ',')) {
    if (part.empty()) continue;
    std::string op, v;
    size_t i = 0;
    while (i < part.size() && std::string("<>=!~").find(part[i]) != std::string::npos) ++i;
    op = part.substr(0, i);
    v = Trim(part.substr(i));
    int c = CompareVersions(have, v);
    bool ok = op.empty() || op == "=" || op == "==" ? c == 0
              : op == "!="                          ? c != 0
              : op == "<"                           ? c < 0
              : op == "<="                          ? c <= 0
              : op == ">"                           ? c > 0
              : op == ">="                          ? c >= 0
                                                    : false;
    if (!ok) return false;
  }
  return true;
}

bool ConstraintHolds(const v1::Node& node, const v1::Constraint& c) {
  const std::string& op = c.operator_().empty() ? std::string("=") : c.operator_();
  if (op == "distinct_hosts") return true;
  auto have = ResolveAttribute(node, c.attribute());
  if (op == "!=" || op == "not") return !have || *have != c.value();
  if (!have) return false;
  if (op == "=" || op == "==" || op == "is") return *have == c.value();
  if (op == "<" || op == ">" || op == "<=" || op == ">=") {
    auto nums = Numbers(*have, c.value());
    int cmp = nums ? (nums->first < nums->second ? -1 : nums->first > nums->second ? 1 : 0)
                   : have->compare(c.value());
    if (op == "<") return cmp < 0;
    if (op == ">") return cmp > 0;
    if (op == "<=") return cmp <= 0;
    return cmp >= 0;
  }
  if (op == "regexp") return PatternSearch(c.value(), *have);
  if (op == "version") return VersionMatches(*have, c.value());
  if (op == "set_contains") {
    auto items = Split(*have, ',');
    for (const auto& want : Split(c.value(), ',')) {
      if (std::find(items.begin(), items.end(), want) == items.end()) return false;
    }
    return true;
  }
  return false;  // unknown operators never hold (validation rejects them)
}

std::string DescribeConstraint(const v1::Constraint& c) {
  std::string op = c.operator_().empty() ? "=" : c.operator_();
  if (op == "distinct_hosts") return "distinct_hosts";
  return c.attribute() + " " + op + " " + c.value();
}

}  // namespace orch::master::sched
