// `orchctl completion bash|zsh`: a shell completion script generated from
// orchctl's own command tree (CLI11), so it names exactly the verbs, their
// subcommands, aliases and flags this binary has. zsh runs the bash script
// through bashcompinit.
// Thread safety: reads `app` only.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace orch::ctl {

// The script for `shell` ("bash" or "zsh"); empty for another shell.
std::string CompletionScript(const CLI::App& app, const std::string& shell);

}  // namespace orch::ctl
