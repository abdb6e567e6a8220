#include "localbench/collector/log.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <regex>
#include <string>

#include "absl/strings/str_format.h"

namespace localbench::collector {

void LogLine(absl::string_view message) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  // One event, one line: database errors carry newlines (DETAIL, HINT).
  std::string text(message);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::string line = absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ localbench-collector: %s\n",
                                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                     tm.tm_min, tm.tm_sec, static_cast<int>(millis), text);
  // A single write(2) keeps lines whole when threads log at once.
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;  // stderr gone: nothing sensible left to do
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

std::string RedactUrl(std::string_view url) {
  std::string s(url);
  // URL form: scheme://user:password@host -> scheme://user:***@host
  static const std::regex kUserInfo(R"(^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@?]*):[^@/?]*@)");
  s = std::regex_replace(s, kUserInfo, "$1:***@");
  // Query or key=value form: password=... -> password=***
  static const std::regex kParam(R"((password\s*=\s*)('[^']*'|[^&\s]*))", std::regex::icase);
  s = std::regex_replace(s, kParam, "$1***");
  return s;
}

}  // namespace localbench::collector
