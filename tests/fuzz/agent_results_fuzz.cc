// libFuzzer target: the agent's results-file reader, which `show FILE`,
// `upload FILE` and every outbox/running file go through (a file anyone may
// have edited or truncated): ParseResults (JSON or binary), then the local
// renderings `show` prints. Any input must end in a clean error or a
// rendered report.
#include <cstddef>
#include <cstdint>
#include <string>

#include "localbench/agent/report.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  auto submission = localbench::agent::ParseResults(bytes, "fuzz-input");
  if (!submission.ok()) return 0;
  (void)localbench::agent::FormatTable(*submission);
  (void)localbench::agent::FormatCsv(*submission);
  (void)localbench::agent::FormatJson(*submission);
  return 0;
}
