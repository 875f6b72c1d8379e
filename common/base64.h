// Base64 (RFC 4648): encoding with the standard or the URL-safe alphabet,
// decoding of either, padded or not (as protobuf's JSON mapping reads bytes
// and Docker reads X-Registry-Auth).
// Thread safety: stateless functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace orch {

std::string EncodeBase64(std::string_view in, bool url_safe = false);
// nullopt when `in` is not base64.
std::optional<std::string> DecodeBase64(std::string_view in);

}  // namespace orch
