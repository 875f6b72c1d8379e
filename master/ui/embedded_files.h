// The web UI's static files (master/ui/assets), compiled into the master
// by master/ui/embed_files.cmake, so a master binary serves its UI with
// nothing installed beside it.
#pragma once

#include <string_view>
#include <vector>

namespace orch::master {

struct EmbeddedFile {
  std::string_view name;  // "index.html"
  std::string_view body;
};

// Every file of master/ui/assets, by name.
const std::vector<EmbeddedFile>& EmbeddedUiFiles();

}  // namespace orch::master
