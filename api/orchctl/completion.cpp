#include "api/orchctl/completion.h"

#include <CLI/CLI.hpp>
#include <map>
#include <set>

namespace orch::ctl {
namespace {

// The words completing after `path` (subcommands, their aliases, flags;
// inherited flags included), keyed "orchctl", "orchctl/get", ...
void Collect(const CLI::App& app, const std::string& path, std::set<std::string> inherited,
             std::map<std::string, std::set<std::string>>* out) {
  for (const CLI::Option* o : app.get_options()) {
    for (const auto& l : o->get_lnames()) inherited.insert("--" + l);
    for (const auto& s : o->get_snames()) inherited.insert("-" + s);
  }
  std::set<std::string>& words = (*out)[path];
  words.insert(inherited.begin(), inherited.end());
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    std::vector<std::string> names{sub->get_name()};
    names.insert(names.end(), sub->get_aliases().begin(), sub->get_aliases().end());
    for (const auto& name : names) {
      words.insert(name);
      Collect(*sub, path + "/" + name, inherited, out);
    }
  }
}

std::string Bash(const CLI::App& app) {
  std::map<std::string, std::set<std::string>> table;
  Collect(app, "orchctl", {}, &table);
  std::string s =
      "# orchctl completion for bash: source <(orchctl completion bash)\n"
      "declare -gA _orchctl_words=(\n";
  for (const auto& [path, words] : table) {
    std::string list;
    for (const auto& w : words) list += (list.empty() ? "" : " ") + w;
    s += "  [\"" + path + "\"]=\"" + list + "\"\n";
  }
  s += ")\n"
       "_orchctl() {\n"
       "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" path=orchctl i w\n"
       "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
       "    w=\"${COMP_WORDS[i]}\"\n"
       "    [[ \"$w\" == -* ]] && continue\n"
       "    [[ -n \"${_orchctl_words[$path/$w]+x}\" ]] && path=\"$path/$w\"\n"
       "  done\n"
       "  COMPREPLY=($(compgen -W \"${_orchctl_words[$path]}\" -- \"$cur\"))\n"
       "  [[ ${#COMPREPLY[@]} -eq 0 && \"$cur\" != -* ]] && COMPREPLY=($(compgen -f -- \"$cur\"))\n"
       "  return 0\n"
       "}\n"
       "complete -F _orchctl orchctl\n";
  return s;
}

}  // namespace

std::string CompletionScript(const CLI::App& app, const std::string& shell) {
  if (shell == "bash") return Bash(app);
  if (shell == "zsh") {
    return "# orchctl completion for zsh: source <(orchctl completion zsh)\n"
           "autoload -U +X bashcompinit && bashcompinit\n" +
           Bash(app);
  }
  return "";
}

}  // namespace orch::ctl
