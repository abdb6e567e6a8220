// Small collector helpers: URL redaction for logs, timestamp text, enum
// names matching the schema, and the canonical payload used for idempotency.
#include <gtest/gtest.h>

#include "localbench/collector/log.h"
#include <pqxx/pqxx>

#include "localbench/collector/db_errors.h"
#include "localbench/collector/rows.h"
#include "localbench/collector/store.h"
#include "localbench/common/names.h"
#include "localbench/test_support/submission_builder.h"

namespace localbench::collector {
namespace {

TEST(RedactUrlTest, RemovesPasswords) {
  EXPECT_EQ(RedactUrl("postgresql://lb:s3cret@db.example:5432/localbench"),
            "postgresql://lb:***@db.example:5432/localbench");
  EXPECT_EQ(RedactUrl("postgresql://db/localbench?user=lb&password=s3cret&sslmode=require"),
            "postgresql://db/localbench?user=lb&password=***&sslmode=require");
  EXPECT_EQ(RedactUrl("host=db user=lb password='a b c' dbname=x"), "host=db user=lb password=*** dbname=x");
  EXPECT_EQ(RedactUrl("postgresql://lb@/localbench?host=/tmp/s"), "postgresql://lb@/localbench?host=/tmp/s");
  for (const char* url : {"postgresql://lb:s3cret@h/d", "postgresql://h/d?password=s3cret",
                          "password=s3cret host=h"}) {
    EXPECT_EQ(RedactUrl(url).find("s3cret"), std::string::npos) << url;
  }
}

TEST(TimestampTextTest, MicrosecondsUtc) {
  google::protobuf::Timestamp t;
  t.set_seconds(1748779200);  // 2025-06-01T12:00:00Z
  t.set_nanos(123456789);
  EXPECT_EQ(TimestampText(t), "2025-06-01 12:00:00.123456+00");
}

TEST(EnumNamesTest, MatchTheSchema) {
  EXPECT_STREQ(BackendName(v1::BACKEND_HIP), "hip");
  EXPECT_STREQ(VendorName(v1::VENDOR_NVIDIA), "nvidia");
  EXPECT_STREQ(KindName(v1::WORKLOAD_KIND_TRAIN_LORA), "train_lora");
  EXPECT_STREQ(PrecisionName(v1::PRECISION_BF16), "bf16");
  EXPECT_STREQ(PointStatusName(v1::POINT_STATUS_SKIPPED_WONT_FIT), "skipped_wont_fit");
  EXPECT_STREQ(BackendName(v1::BACKEND_UNSPECIFIED), "unspecified");
}

TEST(DbErrorsTest, ConflictsAreAbortedSoClientsRetry) {
  // Before issue 8 these reached the client as INTERNAL.
  EXPECT_EQ(StatusFromDbError(pqxx::serialization_failure("could not serialize access"), "storing").code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(StatusFromDbError(pqxx::deadlock_detected("deadlock detected"), "storing").code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(StatusFromDbError(pqxx::in_doubt_error("connection lost during COMMIT"), "storing").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromDbError(pqxx::broken_connection("server closed the connection"), "storing").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromDbError(pqxx::check_violation("violates check constraint"), "storing").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(StatusFromDbError(pqxx::sql_error("syntax error"), "storing").code(), absl::StatusCode::kInternal);
  EXPECT_EQ(std::string(StatusFromDbError(pqxx::sql_error("boom"), "storing the agent").message())
                .rfind("storing the agent", 0),
            0u);
}

TEST(CanonicalPayloadTest, DeterministicAndContentSensitive) {
  const v1::Submission a = test_support::MakeSubmission(21, 3);
  const v1::Submission b = test_support::MakeSubmission(21, 3);
  EXPECT_EQ(SubmissionStore::CanonicalPayload(a), SubmissionStore::CanonicalPayload(b));
  v1::Submission c = a;
  c.mutable_sweeps(2)->mutable_points(0)->set_sm_clock_mhz(2521);
  EXPECT_NE(SubmissionStore::CanonicalPayload(a), SubmissionStore::CanonicalPayload(c));
  v1::Submission back;
  ASSERT_TRUE(back.ParseFromString(SubmissionStore::CanonicalPayload(a)));
  EXPECT_EQ(back.SerializeAsString(), a.SerializeAsString());
}

TEST(SubmissionBuilderTest, ReproducibleAndDistinct) {
  EXPECT_EQ(test_support::UuidFor(5), test_support::UuidFor(5));
  EXPECT_NE(test_support::UuidFor(5), test_support::UuidFor(6));
  EXPECT_EQ(test_support::MakeSubmission(5).sweeps(0).points_size(), 12);
  EXPECT_EQ(test_support::FingerprintFor(9).size(), 64u);
}

}  // namespace
}  // namespace localbench::collector
