// Query parameters onto request messages by reflection.
#include "localbench/collector/http/params.h"

#include <gtest/gtest.h>

#include "localbench/v1/query.pb.h"

namespace localbench::collector::http {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

TEST(HttpParams, FlattensNestedMessagesIntoLeafNames) {
  RequestSchema schema(v1::OomTableRequest::descriptor());
  for (const char* name : {"as_of", "vendor", "device_models", "memory_min_bytes", "model_preset", "kind",
                           "precision", "sequence_tokens", "page_size", "page_token", "sort"}) {
    EXPECT_NE(schema.Find(name), nullptr) << name;
  }
  EXPECT_EQ(schema.Find("read"), nullptr);  // messages are not parameters themselves
  EXPECT_EQ(schema.Find("as_of")->path.size(), 2u);
}

TEST(HttpParams, SetsScalarsEnumsAndRepeatedFields) {
  RequestSchema schema(v1::OomTableRequest::descriptor());
  v1::OomTableRequest req;
  ASSERT_TRUE(ApplyParams(schema,
                          Params{{"as_of", "7"},
                                 {"kind", "train_lora"},
                                 {"precision", "PRECISION_BF16"},
                                 {"vendor", "nvidia"},
                                 {"device_models", "rtx-4090-24gb,mi300x-192gb"},
                                 {"device_models", "cpu-x"},
                                 {"memory_min_bytes", "25769803776"},
                                 {"page_size", "10"},
                                 {"sort", "-model_preset"}},
                          &req)
                  .ok());
  EXPECT_EQ(req.read().as_of(), 7);
  EXPECT_EQ(req.filter().kind(), v1::WORKLOAD_KIND_TRAIN_LORA);
  EXPECT_EQ(req.filter().precision(), v1::PRECISION_BF16);
  EXPECT_EQ(req.filter().vendor(), v1::VENDOR_NVIDIA);
  ASSERT_EQ(req.filter().device_models_size(), 3);
  EXPECT_EQ(req.filter().device_models(1), "mi300x-192gb");
  EXPECT_EQ(req.filter().device_models(2), "cpu-x");
  EXPECT_EQ(req.filter().memory_min_bytes(), 25769803776u);
  EXPECT_EQ(req.page().page_size(), 10u);
  EXPECT_EQ(req.page().sort(), "-model_preset");
  EXPECT_EQ(GetIntLeaf(schema, "as_of", req), 7);
}

// Each bad input is refused with a message naming the parameter.
TEST(HttpParams, RefusesBadInputNamingTheParameter) {
  RequestSchema schema(v1::WillItRunRequest::descriptor());
  const std::vector<std::pair<Params, std::string>> cases = {
      {{{"colour", "red"}}, "parameter colour: unknown"},
      {{{"batch_size", "-1"}}, "parameter batch_size:"},
      {{{"batch_size", "4294967296"}}, "parameter batch_size:"},
      {{{"batch_size", "12abc"}}, "parameter batch_size:"},
      {{{"memory_bytes", ""}}, "parameter memory_bytes:"},
      {{{"as_of", "1e3"}}, "parameter as_of:"},
      {{{"kind", "train_lorax"}}, "parameter kind: \"train_lorax\" is not one of prefill, decode, train_lora"},
      {{{"precision", "bf16"}, {"precision", "fp16"}}, "parameter precision: given more than once"},
  };
  for (const auto& [params, want] : cases) {
    v1::WillItRunRequest req;
    absl::Status st = ApplyParams(schema, params, &req);
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << params[0].first;
    EXPECT_NE(st.message().find(want), std::string::npos) << st.message();
  }
}

TEST(HttpParams, DoublesMustBeFinite) {
  RequestSchema schema(v1::LargestModelRequest::descriptor());
  v1::LargestModelRequest req;
  EXPECT_TRUE(ApplyParams(schema, Params{{"min_tokens_per_second", "12.5"}}, &req).ok());
  EXPECT_DOUBLE_EQ(req.min_tokens_per_second(), 12.5);
  v1::LargestModelRequest bad;
  EXPECT_FALSE(ApplyParams(schema, Params{{"min_tokens_per_second", "nan"}}, &bad).ok());
  EXPECT_FALSE(ApplyParams(schema, Params{{"min_tokens_per_second", "inf"}}, &bad).ok());
}

TEST(HttpParams, PathFieldsAreNotQueryParameters) {
  RequestSchema schema(v1::StackUpRequest::descriptor());
  v1::StackUpRequest req;
  absl::Status st = ApplyParams(schema, Params{{"submission_id", "x"}}, &req, {"submission_id"});
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("submission_id"), std::string::npos);
}

TEST(HttpParams, ShortEnumNamesDropTheTypePrefix) {
  EXPECT_EQ(ShortEnumName(v1::WorkloadKind_descriptor()->FindValueByName("WORKLOAD_KIND_TRAIN_LORA")),
            "train_lora");
  EXPECT_EQ(ShortEnumName(v1::Vendor_descriptor()->FindValueByName("VENDOR_AMD")), "amd");
  EXPECT_EQ(ShortEnumName(v1::Fit_descriptor()->FindValueByName("FIT_DOES_NOT_FIT")), "does_not_fit");
  EXPECT_EQ(FindEnumValue(v1::Precision_descriptor(), "fp32")->name(), "PRECISION_FP32");
  EXPECT_EQ(FindEnumValue(v1::Precision_descriptor(), "FP32"), nullptr);
}

// Every table request of the contract has unique leaf names (the schema
// would crash otherwise); this pins it for the whole service.
TEST(HttpParams, EveryQueryRequestFlattensUniquely) {
  const auto* service = v1::OomTableRequest::descriptor()->file()->FindServiceByName("Query");
  ASSERT_NE(service, nullptr);
  for (int i = 0; i < service->method_count(); ++i) {
    RequestSchema schema(service->method(i)->input_type());
    EXPECT_FALSE(schema.leaves().empty() && service->method(i)->input_type()->field_count() > 0);
  }
}

TEST(HttpParamsDeathTest, ClashingLeafNamesCrash) {
  // OomRow nests two Spreads, so "median" would name two fields: as a
  // request it breaks the invariant, and that must crash, not guess.
  EXPECT_DEATH(RequestSchema schema(v1::OomRow::descriptor()), "share the parameter name");
}

}  // namespace
}  // namespace localbench::collector::http
