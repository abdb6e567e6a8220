// The chart specs (collector/src/http/charts.cc): valid JSON, the data of
// the table inlined, the OOM line at the stored threshold, the device memory
// line at the device's memory, and what is left out when it is unknown.
#include <gtest/gtest.h>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "localbench/collector/http/charts.h"

namespace localbench::collector::http {
namespace {

using google::protobuf::Value;

Value Parse(const std::string& json) {
  Value v;
  auto st = google::protobuf::util::JsonStringToMessage(json, &v);
  EXPECT_TRUE(st.ok()) << st.message() << "\n" << json;
  return v;
}

const Value& At(const Value& v, const std::string& key) {
  static const Value kNull;
  if (v.kind_case() != Value::kStructValue) return kNull;
  auto it = v.struct_value().fields().find(key);
  return it == v.struct_value().fields().end() ? kNull : it->second;
}

// The layer named `name`, or null.
const Value* Layer(const Value& spec, const std::string& name) {
  for (const Value& l : At(spec, "layer").list_value().values()) {
    if (At(l, "name").string_value() == name) return &l;
  }
  return nullptr;
}

v1::BatchCurve Curve() {
  v1::BatchCurve c;
  c.mutable_version()->set_data_version(42);
  c.mutable_device_model()->set_slug("rtx-4090-24gb");
  c.mutable_device_model()->set_name("GeForce RTX 4090");
  c.mutable_device_model()->set_memory_bytes(24ULL << 30);
  c.mutable_workload()->set_model_preset("llama-3.2-1b");
  c.mutable_workload()->set_kind(v1::WORKLOAD_KIND_DECODE);
  for (uint32_t b : {1u, 2u, 4u, 8u}) {
    v1::CurvePoint* p = c.add_points();
    p->set_batch_size(b);
    p->set_planned_bytes(static_cast<uint64_t>(b) << 30);
    if (b < 8) {  // batch 8 ran out of memory on every machine
      p->mutable_support()->set_machine_count(2);
      p->mutable_peak_bytes()->set_median(static_cast<double>(b) * (1ULL << 30) * 1.1);
      p->mutable_tokens_per_second()->set_median(100.0 * b);
    } else {
      p->set_oom_machine_count(2);
    }
  }
  c.mutable_largest_ok_batch()->set_median(4);
  c.mutable_smallest_failed_batch()->set_median(8);
  return c;
}

TEST(ChartsTest, MemoryChartInlinesTheCurveWithOomAndMemoryLines) {
  const Value spec = Parse(MemoryChartSpec(Curve()));
  EXPECT_EQ(At(spec, "$schema").string_value(), "https://vega.github.io/schema/vega-lite/v5.json");
  EXPECT_EQ(At(At(spec, "usermeta"), "chart").string_value(), "memory");
  EXPECT_EQ(At(At(spec, "usermeta"), "data_version").number_value(), 42);
  const auto& values = At(At(spec, "data"), "values").list_value().values();
  ASSERT_EQ(values.size(), 4);
  EXPECT_EQ(At(At(spec, "usermeta"), "memory_unit").string_value(), "GiB");
  EXPECT_DOUBLE_EQ(At(values[2], "measured").number_value(), 4.4);
  EXPECT_DOUBLE_EQ(At(values[2], "planned").number_value(), 4.0);
  // The batch that only ran out of memory has a plan but no measurement.
  EXPECT_EQ(At(values[3], "measured").kind_case(), Value::kNullValue);
  EXPECT_DOUBLE_EQ(At(values[3], "planned").number_value(), 8.0);

  const Value* oom = Layer(spec, "oom_line");
  ASSERT_NE(oom, nullptr);
  EXPECT_EQ(At(At(*oom, "mark"), "type").string_value(), "rule");
  EXPECT_EQ(At(At(*oom, "data"), "values").list_value().values(0).struct_value().fields().at("batch_size").number_value(),
            8);
  const Value* memory = Layer(spec, "device_memory");
  ASSERT_NE(memory, nullptr);
  EXPECT_EQ(At(At(*memory, "data"), "values").list_value().values(0).struct_value().fields().at("memory").number_value(),
            24);
  const Value* planned = Layer(spec, "planned");
  ASSERT_NE(planned, nullptr);
  EXPECT_EQ(At(At(*planned, "mark"), "strokeDash").list_value().values_size(), 2) << "planned is dashed";
  EXPECT_NE(Layer(spec, "measured_points"), nullptr);
}

TEST(ChartsTest, MemoryChartLeavesOutLinesItCannotKnow) {
  v1::BatchCurve c = Curve();
  c.clear_smallest_failed_batch();        // the OOM line was not reached
  c.mutable_device_model()->set_memory_bytes(0);  // memory unknown
  const Value spec = Parse(MemoryChartSpec(c));
  EXPECT_EQ(Layer(spec, "oom_line"), nullptr);
  EXPECT_EQ(Layer(spec, "device_memory"), nullptr);
  EXPECT_NE(Layer(spec, "measured"), nullptr);
}

TEST(ChartsTest, TinyPeaksAreDrawnInKiB) {
  v1::BatchCurve c = Curve();
  c.mutable_device_model()->set_memory_bytes(0);
  for (auto& p : *c.mutable_points()) {
    p.set_planned_bytes(p.batch_size() * 2048);
    p.mutable_peak_bytes()->set_median(p.batch_size() * 2048.0);
  }
  const Value spec = Parse(MemoryChartSpec(c));
  EXPECT_EQ(At(At(spec, "usermeta"), "memory_unit").string_value(), "KiB");
  EXPECT_DOUBLE_EQ(At(At(At(spec, "data"), "values").list_value().values(1), "planned").number_value(), 4.0);
}

TEST(ChartsTest, ThroughputChartHasOneSeriesPerDeviceAndOnlyBatchesThatRan) {
  v1::BatchCurve a = Curve();
  v1::BatchCurve b = Curve();
  b.mutable_device_model()->set_slug("rtx-3090-24gb");
  b.mutable_device_model()->set_name("GeForce RTX 3090");
  const Value spec = Parse(ThroughputChartSpec({a, b}));
  const auto& values = At(At(spec, "data"), "values").list_value().values();
  ASSERT_EQ(values.size(), 6);  // 3 batches that ran, twice
  EXPECT_EQ(At(values[0], "device").string_value(), "GeForce RTX 4090");
  EXPECT_EQ(At(values[5], "device").string_value(), "GeForce RTX 3090");
  EXPECT_DOUBLE_EQ(At(values[5], "tokens_per_second").number_value(), 400);
  EXPECT_EQ(At(At(At(*Layer(spec, "throughput"), "encoding"), "color"), "field").string_value(), "device");
}

TEST(ChartsTest, CompareAndStackChartsAreBars) {
  v1::HardwareComparison cmp;
  cmp.mutable_version()->set_data_version(7);
  for (double speed : {200.0, 100.0}) {
    v1::ComparisonRow* r = cmp.add_rows();
    r->mutable_device_model()->set_slug(speed > 150 ? "fast" : "slow");
    r->mutable_tokens_per_second()->set_median(speed);
    r->set_relative_tokens_per_second(speed / 200.0);
  }
  const Value compare = Parse(CompareChartSpec(cmp));
  ASSERT_EQ(At(At(compare, "data"), "values").list_value().values_size(), 2);
  EXPECT_EQ(At(At(compare, "data"), "values").list_value().values(1).struct_value().fields().at("relative_label")
                .string_value(),
            "50%");
  EXPECT_EQ(At(At(*Layer(compare, "bars"), "mark"), "type").string_value(), "bar");

  v1::StackDeltaTable stack;
  stack.add_rows()->set_driver_version("550");
  stack.add_rows()->set_relative_change(-0.1);
  const Value s = Parse(StackChartSpec(stack));
  ASSERT_EQ(At(At(s, "data"), "values").list_value().values_size(), 2);
  // Only the driver differs: the axis label names only it, the tooltip all.
  EXPECT_EQ(At(At(At(s, "data"), "values").list_value().values(0), "label").string_value(), "driver 550");
  EXPECT_EQ(At(At(At(s, "data"), "values").list_value().values(0), "stack").string_value(),
            "driver 550 · runtime  · agent ");
  EXPECT_EQ(At(At(*Layer(s, "bars"), "mark"), "type").string_value(), "bar");
}

TEST(ChartsTest, SameResponseSameBytes) {
  EXPECT_EQ(MemoryChartSpec(Curve()), MemoryChartSpec(Curve()));
}

}  // namespace
}  // namespace localbench::collector::http
