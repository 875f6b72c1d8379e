// Addresses in flags and config: "host:port", "http://host:port",
// "m1=127.0.0.1:4647,m2=...".
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace orch {

struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const { return host + ":" + std::to_string(port); }
};

// "127.0.0.1:4646" (port 0 allowed: pick a free one).
Result<HostPort> ParseHostPort(std::string_view text);

// "m1=127.0.0.1:4647,m2=127.0.0.1:5647": member id -> raft address, in order.
Result<std::vector<std::pair<std::string, HostPort>>> ParsePeers(std::string_view text);

// "http://a:1,https://b:2" -> urls without trailing slashes. Each must
// start with http:// or https:// and name a port.
Result<std::vector<std::string>> ParseUrlList(std::string_view text);

std::vector<std::string> SplitString(std::string_view text, char sep);

// Ok when `url` is "http://host:port" or "https://host:port" (nothing after
// the port but an optional '/'): a host of letters, digits, '.', '-', or a
// bracketed IPv6 address, and a port from 1 to 65535. Anything else (other
// schemes such as file://, userinfo, paths, queries, fragments, spaces) is
// InvalidArgument: such an address is fetched by the masters.
Status ValidateHttpBaseUrl(std::string_view url);

}  // namespace orch
