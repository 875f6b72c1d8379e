#include "master/ui/ui_api.h"

#include <cctype>
#include <fstream>
#include <optional>
#include <sstream>

#include "master/ui/embedded_files.h"

namespace orch::master {
namespace {

std::string ContentTypeOf(const std::string& name) {
  auto ends = [&](const char* ext) {
    std::string e = ext;
    return name.size() >= e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".json")) return "application/json";
  return "application/octet-stream";
}

// A file name the UI may serve: letters, digits, '.', '-', '_'; no leading
// dot (so no "..", no hidden files, no paths).
bool SafeName(const std::string& name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_')
      return false;
  }
  return true;
}

std::optional<std::string> Load(const std::string& ui_dir, const std::string& name) {
  if (!SafeName(name)) return std::nullopt;
  if (!ui_dir.empty()) {
    std::ifstream in(ui_dir + "/" + name, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
  }
  for (const auto& f : EmbeddedUiFiles()) {
    if (f.name == name) return std::string(f.body);
  }
  return std::nullopt;
}

HttpResponse Serve(const std::string& ui_dir, const std::string& name) {
  auto body = Load(ui_dir, name);
  if (!body) return HttpResponse::Error(Status::NotFound("no UI file " + name));
  HttpResponse r;
  r.content_type = ContentTypeOf(name);
  r.body = std::move(*body);
  // Only this origin's scripts, styles and API: a value shown by the page
  // can never run as code.
  r.headers.emplace_back(
      "Content-Security-Policy",
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
      "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

}  // namespace

void RegisterUiRoutes(Router* r, const std::string& ui_dir) {
  r->Add("GET", "/ui", [ui_dir](const HttpRequest& req, const PathParams&) {
    if (req.path == "/ui") {
      // Relative links (app.js) resolve under /ui/ only.
      HttpResponse moved = HttpResponse::Json(301, "");
      moved.content_type = "text/plain";
      moved.headers.emplace_back("Location", "/ui/");
      return moved;
    }
    return Serve(ui_dir, "index.html");
  });
  r->Add("GET", "/ui/{file}",
         [ui_dir](const HttpRequest&, const PathParams& p) { return Serve(ui_dir, p.at("file")); });
}

}  // namespace orch::master
