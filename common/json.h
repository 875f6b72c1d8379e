// JSON <-> protobuf with protobuf's own JSON mapping (snake_case field names,
// as in job files). Responses from orch servers are parsed leniently so a
// newer server's extra fields do not break an older client.
// Thread safety: stateless functions.
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace orch {

std::string ToJson(const google::protobuf::Message& msg, bool pretty = false);

// Parses JSON produced by ToJson. Unknown fields are ignored when `lenient`.
Status FromJson(std::string_view json, google::protobuf::Message* out, bool lenient = true);

// {"error":{"code":"invalid_argument","message":"..."}}
std::string ErrorJson(const Status& status);

// Parses an ErrorJson body back into a Status (kInternal if it is not one).
Status StatusFromErrorJson(int http_status, std::string_view body);

}  // namespace orch
