#include "common/net.h"

#include <charconv>
#include <set>

namespace orch {

std::vector<std::string> SplitString(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(sep, start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(start, end - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    start = end + 1;
  }
  return out;
}

Result<HostPort> ParseHostPort(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return Status::InvalidArgument("\"" + std::string(text) + "\" is not host:port");
  }
  HostPort hp;
  hp.host = std::string(text.substr(0, colon));
  if (hp.host.size() > 2 && hp.host.front() == '[' && hp.host.back() == ']') {
    hp.host = hp.host.substr(1, hp.host.size() - 2);
  }
  unsigned port = 0;
  auto ps = text.substr(colon + 1);
  auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
  if (ec != std::errc() || p != ps.data() + ps.size() || port > 65535) {
    return Status::InvalidArgument("\"" + std::string(text) + "\": bad port");
  }
  hp.port = static_cast<uint16_t>(port);
  return hp;
}

Result<std::vector<std::pair<std::string, HostPort>>> ParsePeers(std::string_view text) {
  std::vector<std::pair<std::string, HostPort>> out;
  std::set<std::string> seen;
  for (const std::string& item : SplitString(text, ',')) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::InvalidArgument("peer \"" + item + "\" is not id=host:port");
    }
    std::string id = item.substr(0, eq);
    if (!seen.insert(id).second) return Status::InvalidArgument("peer id \"" + id + "\" appears twice");
    auto hp = ParseHostPort(item.substr(eq + 1));
    if (!hp.ok()) return hp.status().WithContext("peer " + id);
    out.emplace_back(id, *hp);
  }
  if (out.empty()) return Status::InvalidArgument("no peers given");
  return out;
}

Status ValidateHttpBaseUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("\"" + std::string(url.substr(0, 200)) + "\" " + why);
  };
  std::string_view rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
  } else {
    return bad("must start with http:// or https://");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return bad("names no host");
  bool v6 = rest.front() == '[';
  for (char c : rest) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == ':' || (v6 && (c == '[' || c == ']'));
    if (!ok) return bad("may hold only a host and a port (no user, path, query or fragment)");
  }
  auto hp = ParseHostPort(rest);
  if (!hp.ok()) return bad("must name a host and a port");
  if (hp->port == 0) return bad("must name a port from 1 to 65535");
  if (hp->host.empty() || (!v6 && hp->host.find(':') != std::string::npos)) return bad("names no valid host");
  return Status::Ok();
}

Result<std::vector<std::string>> ParseUrlList(std::string_view text) {
  std::vector<std::string> out;
  for (std::string url : SplitString(text, ',')) {
    std::size_t scheme = url.rfind("http://", 0) == 0 ? 7 : url.rfind("https://", 0) == 0 ? 8 : 0;
    if (scheme == 0)
      return Status::InvalidArgument("\"" + url + "\" must start with http:// or https://");
    while (url.size() > scheme && url.back() == '/') url.pop_back();
    auto hp = ParseHostPort(std::string_view(url).substr(scheme));
    if (!hp.ok()) return hp.status().WithContext("url " + url);
    out.push_back(url);
  }
  if (out.empty()) return Status::InvalidArgument("no addresses given");
  return out;
}

}  // namespace orch
