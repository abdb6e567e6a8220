#include "localbench/collector/http/static_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace localbench::collector::http {

std::string ContentTypeFor(const std::string& name) {
  static const std::pair<const char*, const char*> kTypes[] = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},   {".json", "application/json"},
      {".svg", "image/svg+xml"},             {".png", "image/png"},
      {".txt", "text/plain; charset=utf-8"}, {".map", "application/json"},
  };
  for (const auto& [ext, type] : kTypes) {
    if (absl::EndsWith(name, ext)) return type;
  }
  return "application/octet-stream";
}

absl::StatusOr<StaticFile> ReadStaticFile(const std::string& root, const std::string& relative) {
  namespace fs = std::filesystem;
  std::string rel = relative;
  if (rel.empty() || rel.back() == '/') rel += "index.html";
  if (rel.find('\0') != std::string::npos) return absl::InvalidArgumentError("site path holds a NUL byte");
  fs::path path(root);
  for (absl::string_view segment : absl::StrSplit(rel, '/')) {
    if (segment.empty() || segment.front() == '.' || segment.find('\\') != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("site path \"", relative, "\" is not a plain file name"));
    }
    path /= std::string(segment);
  }
  std::error_code ec;
  const fs::path canonical_root = fs::weakly_canonical(root, ec);
  const fs::path canonical = fs::weakly_canonical(path, ec);
  const std::string under = canonical.string();
  const std::string top = canonical_root.string() + "/";
  if (ec || !absl::StartsWith(under, top) || !fs::is_regular_file(canonical, ec)) {
    return absl::NotFoundError(absl::StrCat("no site file ", relative));
  }
  std::ifstream in(canonical, std::ios::binary);
  std::stringstream body;
  body << in.rdbuf();
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read site file ", relative));
  return StaticFile{body.str(), ContentTypeFor(rel)};
}

}  // namespace localbench::collector::http
