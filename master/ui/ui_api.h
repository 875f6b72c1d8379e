// The web UI's routes: GET /ui/ (index.html) and GET /ui/{file}, the static
// files of master/ui/assets -- embedded in the binary, or read from
// `ui_dir` on every request when it is set (orch-master --ui-dir, for
// working on the UI without a rebuild). The files hold no data (the page
// calls the REST API with the user's token), so the routes are open.
#pragma once

#include <string>

#include "common/router.h"

namespace orch::master {

void RegisterUiRoutes(Router* r, const std::string& ui_dir);

}  // namespace orch::master
