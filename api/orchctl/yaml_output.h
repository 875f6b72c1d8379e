// JSON -> YAML for `orchctl -o yaml`: the same data the API answered, in
// block style, keys in the order the server sent them. Strings that a YAML
// reader would take for something else ("12", "true", "null", "") stay
// quoted, so parsing the YAML back yields exactly the JSON's values.
// Thread safety: stateless function.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace orch::ctl {

// InvalidArgument if `json` does not parse. The result ends with '\n'.
Result<std::string> JsonToYaml(std::string_view json);

}  // namespace orch::ctl
