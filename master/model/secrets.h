// Task secrets (Task.secrets) kept out of everything the masters show: read
// endpoints answer with every secret value replaced by "(redacted)", plan
// diffs with an opaque tag that changes when the value does. Only a node's
// own allocations watch (the agent that runs them) carries the values.
// Thread safety: stateless functions (a per-thread cache of message types).
#pragma once

#include <google/protobuf/message.h>

#include <functional>
#include <string>

namespace orch::master {

inline constexpr char kRedacted[] = "(redacted)";

// Replaces the value of every secret of every v1::Task inside `m` with
// mask(value).
void RedactSecrets(google::protobuf::Message* m,
                   const std::function<std::string(const std::string&)>& mask);

// ToJson of `m` with every secret value "(redacted)". Only an answer that
// holds secrets is copied and printed again.
std::string RedactedJson(const google::protobuf::Message& m);

// A tag for a secret value in a diff: "(secret 1a2b3c4d)", a keyed hash
// (random key per process), so a change shows without the value.
std::string SecretTag(const std::string& value);

}  // namespace orch::master
