#include "common/json.h"

#include <google/protobuf/util/json_util.h>

#include "common/document.h"
#include "orch/v1/api.pb.h"

namespace orch {

namespace pbu = google::protobuf::util;

std::string ToJson(const google::protobuf::Message& msg, bool pretty) {
  pbu::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.add_whitespace = pretty;
  std::string out;
  auto st = pbu::MessageToJsonString(msg, &out, opts);
  if (!st.ok()) {
    // Only possible with invalid well-known-type values (e.g. a Duration out
    // of range); say so instead of sending half a document.
    orch::v1::ErrorResponse err;
    err.mutable_error()->set_code("internal");
    err.mutable_error()->set_message("cannot encode " + msg.GetTypeName() + ": " +
                                     std::string(st.message()));
    (void)pbu::MessageToJsonString(err, &out, opts);
  }
  return out;
}

Status FromJson(std::string_view json, google::protobuf::Message* out, bool lenient) {
  pbu::JsonParseOptions opts;
  opts.ignore_unknown_fields = lenient;
  auto st = pbu::JsonStringToMessage(std::string(json), out, opts);
  if (!st.ok()) {
    return Status::InvalidArgument("invalid JSON for " + out->GetTypeName() + ": " +
                                   std::string(st.message()));
  }
  return Status::Ok();
}

std::string ErrorJson(const Status& status) {
  orch::v1::ErrorResponse err;
  err.mutable_error()->set_code(std::string(StatusCodeName(status.code())));
  // Messages quote what the client sent, which may not be UTF-8: such bytes
  // become '?' so the answer stays valid JSON.
  std::string message = status.message();
  if (!IsValidUtf8(message)) {
    for (char& c : message) {
      if (static_cast<unsigned char>(c) >= 0x80) c = '?';
    }
  }
  err.mutable_error()->set_message(message);
  return ToJson(err);
}

Status StatusFromErrorJson(int http_status, std::string_view body) {
  orch::v1::ErrorResponse err;
  StatusCode code = StatusCode::kInternal;
  switch (http_status) {
    case 400: code = StatusCode::kInvalidArgument; break;
    case 403: code = StatusCode::kPermissionDenied; break;
    case 404: code = StatusCode::kNotFound; break;
    case 405: code = StatusCode::kFailedPrecondition; break;
    case 409: code = StatusCode::kAlreadyExists; break;
    case 413: code = StatusCode::kResourceExhausted; break;
    case 429: code = StatusCode::kResourceExhausted; break;
    case 503: code = StatusCode::kUnavailable; break;
    case 504: code = StatusCode::kDeadlineExceeded; break;
    default: break;
  }
  if (FromJson(body, &err).ok() && err.has_error() && !err.error().message().empty()) {
    return Status(code, err.error().message());
  }
  std::string text(body.substr(0, 200));
  return Status(code, "HTTP " + std::to_string(http_status) + (text.empty() ? "" : ": " + text));
}

}  // namespace orch
