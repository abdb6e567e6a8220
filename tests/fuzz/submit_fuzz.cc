// libFuzzer target: the collector's Submit validation path as the Ingest
// service runs it on a request's raw bytes (collector/src/ingest.cc): parse
// with ParseUntrusted (which names the field of invalid UTF-8), then
// ValidateSubmission. Any input must end in OK or INVALID_ARGUMENT naming a
// field; a crash, a sanitizer report or another code is a finding.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "localbench/collector/validation.h"
#include "localbench/collector/wire.h"
#include "localbench/v1/ingest.pb.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  localbench::v1::SubmitRequest request;
  absl::Status st = localbench::collector::ParseUntrusted(bytes, &request);
  if (st.ok()) {
    // A fixed clock keeps each input's outcome reproducible (2027-01-01).
    const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1798761600));
    st = localbench::collector::ValidateSubmission(request.submission(), now);
  }
  // The contract: a refusal is INVALID_ARGUMENT with a message (the field).
  if (!st.ok() && (st.code() != absl::StatusCode::kInvalidArgument || st.message().empty())) std::abort();
  return 0;
}
