// Random identifiers (UUID v4 from OpenSSL's CSPRNG). Thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace orch {

std::string NewUuid();

// 32 random bytes, hex: a secret (a node's, a token's).
std::string NewSecret();
// SHA-256 of `secret`, hex: what is stored instead of the secret.
std::string SecretHash(const std::string& secret);
// The SHA-256 of `data` in lowercase hex (64 characters).
std::string Sha256Hex(std::string_view data);
// Equality of two hashes in time that does not depend on where they differ.
bool SameSecretHash(const std::string& a, const std::string& b);

// How the masters prove themselves to an agent's API (task logs): this
// header carries SecretHash of the node's secret, which only they hold
// (kept from the node's registration, never shown). Lower case, as
// HttpRequest::Header looks names up (HTTP names are case-insensitive).
inline constexpr char kNodeAuthHeader[] = "x-orch-node-auth";

// The first 8 characters, for tables and log lines.
inline std::string ShortId(const std::string& id) { return id.substr(0, 8); }

}  // namespace orch
