// The example site's static files (HTML, JavaScript, CSS, the bundled vega
// libraries) served under /site/ from a directory on disk.
#ifndef LOCALBENCH_COLLECTOR_HTTP_STATIC_FILES_H_
#define LOCALBENCH_COLLECTOR_HTTP_STATIC_FILES_H_

#include <string>

#include "absl/status/statusor.h"

namespace localbench::collector::http {

// One file to send.
struct StaticFile {
  std::string body;
  std::string content_type;
};

// The file `relative` (the URL path after "/site/", already percent-decoded
// by the server) names under `root`. A path that is empty or ends in '/'
// names that folder's index.html. Only plain files under `root` are served:
// a segment that is empty, "." or "..", a NUL, or a name starting with '.' is
// INVALID_ARGUMENT (the URL is never joined blindly); a missing file or a
// symlink leading outside `root` is NOT_FOUND.
absl::StatusOr<StaticFile> ReadStaticFile(const std::string& root, const std::string& relative);

// The Content-Type for a file name, by extension (application/octet-stream
// for unknown ones).
std::string ContentTypeFor(const std::string& name);

}  // namespace localbench::collector::http

#endif  // LOCALBENCH_COLLECTOR_HTTP_STATIC_FILES_H_
