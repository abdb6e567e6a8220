// Parsing untrusted request bytes: invalid UTF-8 is reported with the path
// of the field that holds it, other malformed bytes as a malformed request.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "localbench/collector/validation.h"
#include "localbench/collector/wire.h"
#include "localbench/test_support/submission_builder.h"
#include "localbench/v1/ingest.pb.h"

namespace localbench::collector {
namespace {

using test_support::MakeSubmission;

// Serialises `r` even with invalid UTF-8 inside (protobuf only logs that on
// the way out), as a hostile or buggy client would send it.
std::string Bytes(const v1::SubmitRequest& r) { return r.SerializeAsString(); }

v1::SubmitRequest Request(uint64_t seed, int sweeps = 3) {
  v1::SubmitRequest r;
  *r.mutable_submission() = MakeSubmission(seed, sweeps);
  return r;
}

TEST(WireTest, ValidBytesParse) {
  const v1::SubmitRequest r = Request(1);
  v1::SubmitRequest parsed;
  ASSERT_TRUE(ParseUntrusted(Bytes(r), &parsed).ok());
  EXPECT_EQ(parsed.submission().submission_id(), r.submission().submission_id());
  EXPECT_EQ(FindInvalidUtf8(Bytes(r), *v1::SubmitRequest::descriptor()), "");
}

TEST(WireTest, NamesRepeatedNestedStringField) {
  v1::SubmitRequest r = Request(2);
  r.mutable_submission()->mutable_sweeps(2)->mutable_points(0)->set_error_message("bad \xc3\x28");
  v1::SubmitRequest parsed;
  const absl::Status st = ParseUntrusted(Bytes(r), &parsed);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "submission.sweeps[2].points[0].error_message: must be valid UTF-8");
}

TEST(WireTest, NamesFirstOffenderInWireOrder) {
  v1::SubmitRequest r = Request(3);
  r.mutable_submission()->mutable_hardware()->mutable_host()->set_os_name("\xff");
  r.mutable_submission()->mutable_sweeps(1)->mutable_workload()->set_model_preset("\xfe");
  EXPECT_EQ(FindInvalidUtf8(Bytes(r), *v1::SubmitRequest::descriptor()), "submission.hardware.host.os_name");
  r.mutable_submission()->mutable_hardware()->mutable_host()->set_os_name("ok");
  EXPECT_EQ(FindInvalidUtf8(Bytes(r), *v1::SubmitRequest::descriptor()),
            "submission.sweeps[1].workload.model_preset");
}

TEST(WireTest, TopLevelFieldOfAnotherMessage) {
  v1::EnrollRequest r;
  r.set_machine_fingerprint("\xed\xa0\x80");  // a UTF-16 surrogate
  v1::EnrollRequest parsed;
  EXPECT_EQ(ParseUntrusted(r.SerializeAsString(), &parsed).message(),
            "machine_fingerprint: must be valid UTF-8");
}

TEST(WireTest, UnknownFieldsAreNotChecked) {
  // Field 99 is unknown to SubmitRequest: kept as bytes, never text.
  std::string bytes = Bytes(Request(4));
  bytes += std::string("\x9a\x06\x02\xff\xfe", 5);  // tag (99, length-delimited), length 2
  v1::SubmitRequest parsed;
  EXPECT_TRUE(ParseUntrusted(bytes, &parsed).ok());
}

TEST(WireTest, MalformedBytesAreAMalformedRequest) {
  std::string bytes = Bytes(Request(5));
  bytes.resize(bytes.size() - 7);  // truncated inside the last field
  v1::SubmitRequest parsed;
  const absl::Status st = ParseUntrusted(bytes, &parsed);
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message().rfind("request: is not a valid localbench.v1.SubmitRequest", 0), 0u) << st;
  EXPECT_EQ(FindInvalidUtf8(bytes, *v1::SubmitRequest::descriptor()), "");
}

// The Submit fuzz target's seeds are real agent output that passes the whole
// path (tests/fuzz/submit_fuzz.cc's clock), so mutations start from inputs
// that reach every validation rule rather than dying in the parser.
TEST(WireTest, CommittedFuzzSeedsAreValidSubmissions) {
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1798761600));
  int seeds = 0;
  for (const auto& entry : std::filesystem::directory_iterator(LOCALBENCH_FUZZ_DIR "/corpus/submit")) {
    if (entry.path().extension() != ".bin") continue;
    SCOPED_TRACE(entry.path().string());
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    const std::string bytes = buffer.str();
    v1::SubmitRequest parsed;
    ASSERT_TRUE(ParseUntrusted(bytes, &parsed).ok());
    EXPECT_TRUE(ValidateSubmission(parsed.submission(), now).ok()) << ValidateSubmission(parsed.submission(), now);
    ++seeds;
  }
  EXPECT_GE(seeds, 2);
}

}  // namespace
}  // namespace localbench::collector
