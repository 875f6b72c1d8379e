// Job files and request bodies, YAML or JSON, into protobuf messages.
//
// yaml-cpp parses both (JSON is YAML's flow style); the tree is then walked
// together with the message's descriptor, so every error names the field
// path ("groups[0].tasks[1].resources.cpu: expected an integer, got \"x\"")
// and unknown fields are rejected rather than dropped. Enum values match
// case-insensitively ("service" for Job.Type SERVICE, "round-robin" for
// ROUND_ROBIN); google.protobuf.Duration takes "1s", "250ms", "2m", "1h".
// Thread safety: stateless functions.
#pragma once

#include <google/protobuf/message.h>

#include <chrono>
#include <cstddef>
#include <string_view>

#include "common/status.h"

namespace orch {

struct DocumentLimits {
  // The document once YAML aliases are expanded: its scalars' bytes plus one
  // per node. A document without aliases costs at most its own length, so
  // the masters' body limit (1 MiB by default) is the natural choice.
  std::size_t max_expanded_bytes = 1 << 20;
};

// Replaces *out with the document's content. On error *out is unspecified.
// A document nested deeper than 32 messages, or larger than the limits once
// aliases are expanded, is refused (InvalidArgument) without being expanded.
Status ParseDocument(std::string_view text, google::protobuf::Message* out, const DocumentLimits& limits = {});

// Well-formed UTF-8: no overlong forms, surrogates or code points past
// U+10FFFF (proto3 strings must hold it).
bool IsValidUtf8(std::string_view s);

// "1s", "250ms", "2m", "1h30m", "1.5s", "10us", "0". Not negative.
Result<std::chrono::nanoseconds> ParseDuration(std::string_view text);

}  // namespace orch
