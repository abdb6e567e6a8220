// One-line event logging to stderr for the collector.
#ifndef LOCALBENCH_COLLECTOR_LOG_H_
#define LOCALBENCH_COLLECTOR_LOG_H_

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace localbench::collector {

// Writes "<UTC time> localbench-collector: <message>" as one line to stderr.
// Thread-safe; one write per call so concurrent lines never interleave.
// Callers must never pass secrets (tokens, passwords).
void LogLine(absl::string_view message);

// `url` with any password removed (user:password@ and password=...), so a
// database URL can be logged.
std::string RedactUrl(std::string_view url);

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_LOG_H_
