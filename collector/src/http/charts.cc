#include "localbench/collector/http/charts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "localbench/collector/http/params.h"
#include "localbench/collector/workload_key.h"

namespace localbench::collector::http {
namespace {

// Insertion-ordered, so a spec reads top-down as written here and the same
// table response always gives the same bytes (the response cache and ETag
// rely on a pure function of the response).
using Json = nlohmann::ordered_json;

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr int kWidth = 560;   // pages override with "container"
constexpr int kHeight = 300;

// JSON numbers cannot be NaN or infinite; table figures never are, but a
// broken one must not produce an unparseable spec.
double Finite(double v) { return std::isfinite(v) ? v : 0.0; }

double GiB(double bytes) { return Finite(bytes / kGiB); }

// The unit a memory chart reads best in: GiB for real models, MiB or KiB
// for the tiny test shapes (whose peaks are a fraction of a MiB).
struct MemoryUnit {
  const char* name;
  double bytes;
};
MemoryUnit UnitFor(double largest_bytes) {
  if (largest_bytes >= kGiB) return {"GiB", kGiB};
  if (largest_bytes >= 1024.0 * 1024.0) return {"MiB", 1024.0 * 1024.0};
  return {"KiB", 1024.0};
}

// "llama-3.2-1b decode bf16" (+ lengths, + training dimensions) for titles.
std::string WorkloadLabel(const v1::WorkloadKey& w) {
  std::string label = absl::StrCat(w.model_preset(), " ", ShortEnumName(v1::WorkloadKind_descriptor()->FindValueByNumber(w.kind())));
  if (w.precision() != v1::PRECISION_UNSPECIFIED) {
    absl::StrAppend(&label, " ", ShortEnumName(v1::Precision_descriptor()->FindValueByNumber(w.precision())));
  }
  if (w.sequence_tokens() != 0) absl::StrAppend(&label, " seq ", w.sequence_tokens());
  if (w.prompt_tokens() != 0) absl::StrAppend(&label, " prompt ", w.prompt_tokens());
  if (w.generated_tokens() != 0) absl::StrAppend(&label, " gen ", w.generated_tokens());
  // Training dimensions away from the pre-2027.01 meaning: ", bf16 act, ckpt".
  if (const std::string dims = TrainingDimsLabel(w); !dims.empty()) absl::StrAppend(&label, ", ", dims);
  return label;
}

std::string DeviceLabel(const v1::DeviceModel& d) { return d.name().empty() ? d.slug() : d.name(); }

// The frame every chart shares: schema, title, size, provenance.
Json Frame(const std::string& chart, const std::string& title, const std::string& subtitle,
           std::int64_t data_version) {
  Json spec;
  spec["$schema"] = "https://vega.github.io/schema/vega-lite/v5.json";
  spec["description"] = absl::StrCat(title, " (localbench, data version ", data_version, ")");
  spec["title"] = {{"text", title}, {"subtitle", absl::StrCat(subtitle, " · data version ", data_version)}};
  spec["usermeta"] = {{"chart", chart}, {"data_version", data_version}};
  spec["width"] = kWidth;
  spec["height"] = kHeight;
  return spec;
}

Json Field(const std::string& field, const std::string& type, const std::string& title) {
  return {{"field", field}, {"type", type}, {"title", title}};
}

// A batch-size axis: powers of two are the sweep's steps, so a log2 scale
// spaces them evenly.
Json BatchAxis() {
  Json x = Field("batch_size", "quantitative", "batch size");
  x["scale"] = {{"type", "log"}, {"base", 2}};
  x["axis"] = {{"format", "d"}};
  return x;
}

std::int64_t VersionOf(const v1::DataVersion& v) { return v.data_version(); }

}  // namespace

std::string MemoryChartSpec(const v1::BatchCurve& curve) {
  Json spec = Frame("memory", "Peak memory vs batch size",
                    absl::StrCat(DeviceLabel(curve.device_model()), " · ", WorkloadLabel(curve.workload())),
                    VersionOf(curve.version()));
  double largest = static_cast<double>(curve.device_model().memory_bytes());
  for (const v1::CurvePoint& p : curve.points()) {
    largest = std::max({largest, p.peak_bytes().max(), p.peak_bytes().median(), static_cast<double>(p.planned_bytes())});
  }
  const MemoryUnit unit = UnitFor(largest);
  const auto in_unit = [&unit](double bytes) { return Finite(bytes / unit.bytes); };
  const std::string axis = absl::StrCat("peak memory (", unit.name, ")");
  spec["usermeta"]["memory_unit"] = unit.name;
  Json values = Json::array();
  for (const v1::CurvePoint& p : curve.points()) {
    // A batch every machine ran out of memory at has a plan but no measured
    // peak: null leaves it off the measured line (Vega-Lite drops nulls).
    const bool ran = p.support().machine_count() > 0;
    values.push_back({{"batch_size", p.batch_size()},
                      {"measured", ran ? Json(in_unit(p.peak_bytes().median())) : Json()},
                      {"measured_p25", ran ? Json(in_unit(p.peak_bytes().p25())) : Json()},
                      {"measured_p75", ran ? Json(in_unit(p.peak_bytes().p75())) : Json()},
                      {"planned", in_unit(static_cast<double>(p.planned_bytes()))},
                      {"machines", p.support().machine_count()},
                      {"oom_machines", p.oom_machine_count()},
                      {"reproduce_command", p.reproduce_command()}});
  }
  spec["data"] = {{"values", values}};
  const Json tooltip = Json::array({Field("batch_size", "quantitative", "batch"),
                                    Field("measured", "quantitative", absl::StrCat("measured ", unit.name)),
                                    Field("planned", "quantitative", absl::StrCat("planned ", unit.name)),
                                    Field("machines", "quantitative", "machines"),
                                    Field("reproduce_command", "nominal", "reproduce")});
  Json layers = Json::array();
  // The measured peak: a line, and one point per measured batch in a layer
  // of its own (named, so a page or test can count them).
  const Json measured = {{"x", BatchAxis()},
                         {"y", Field("measured", "quantitative", axis)},
                         {"color", {{"datum", "measured"}, {"title", nullptr}}},
                         {"tooltip", tooltip}};
  layers.push_back({{"name", "measured"}, {"mark", {{"type", "line"}}}, {"encoding", measured}});
  layers.push_back({{"name", "measured_points"}, {"mark", {{"type", "point"}, {"filled", true}}}, {"encoding", measured}});
  layers.push_back({{"name", "measured_spread"},
                    {"mark", {{"type", "rule"}, {"opacity", 0.5}}},
                    {"encoding",
                     {{"x", BatchAxis()},
                      {"y", Field("measured_p25", "quantitative", axis)},
                      {"y2", {{"field", "measured_p75"}}},
                      {"color", {{"datum", "measured"}, {"title", nullptr}}}}}});
  layers.push_back({{"name", "planned"},
                    {"mark", {{"type", "line"}, {"strokeDash", {6, 4}}}},
                    {"encoding",
                     {{"x", BatchAxis()},
                      {"y", Field("planned", "quantitative", axis)},
                      {"color", {{"datum", "planned"}, {"title", nullptr}}},
                      {"tooltip", tooltip}}}});
  const std::uint64_t memory = curve.device_model().memory_bytes();
  if (memory > 0) {
    const double amount = in_unit(static_cast<double>(memory));
    layers.push_back({{"name", "device_memory"},
                      {"data", {{"values", Json::array({{{"memory", amount},
                                                         {"label", absl::StrFormat("device memory %.1f %s", amount,
                                                                                   unit.name)}}})}}},
                      {"mark", {{"type", "rule"}, {"color", "#b00020"}}},
                      {"encoding", {{"y", {{"field", "memory"}, {"type", "quantitative"}}},
                                    {"tooltip", Json::array({Field("label", "nominal", "")})}}}});
  }
  if (curve.has_smallest_failed_batch()) {
    const double oom = Finite(curve.smallest_failed_batch().median());
    const std::string label = absl::StrCat("OOM at batch ", absl::StrFormat("%g", oom));
    layers.push_back({{"name", "oom_line"},
                      {"data", {{"values", Json::array({{{"batch_size", oom}, {"label", label}}})}}},
                      {"mark", {{"type", "rule"}, {"color", "#b00020"}, {"strokeDash", {4, 3}}, {"size", 2}}},
                      {"encoding", {{"x", BatchAxis()}, {"tooltip", Json::array({Field("label", "nominal", "")})}}}});
    layers.push_back({{"name", "oom_label"},
                      {"data", {{"values", Json::array({{{"batch_size", oom}, {"label", label}}})}}},
                      {"mark", {{"type", "text"}, {"align", "right"}, {"dx", -4}, {"dy", 8}, {"color", "#b00020"},
                                {"y", 0}}},
                      {"encoding", {{"x", BatchAxis()}, {"text", {{"field", "label"}}}}}});
  }
  spec["layer"] = layers;
  return spec.dump();
}

std::string ThroughputChartSpec(const std::vector<v1::BatchCurve>& curves) {
  std::string subtitle = curves.empty() ? std::string() : WorkloadLabel(curves.front().workload());
  Json spec = Frame("throughput", "Tokens/s vs batch size", subtitle,
                    curves.empty() ? 0 : VersionOf(curves.front().version()));
  Json values = Json::array();
  for (const v1::BatchCurve& c : curves) {
    for (const v1::CurvePoint& p : c.points()) {
      if (p.support().machine_count() == 0) continue;  // only out-of-memory results: no speed
      values.push_back({{"device_model", c.device_model().slug()},
                        {"device", DeviceLabel(c.device_model())},
                        {"batch_size", p.batch_size()},
                        {"tokens_per_second", Finite(p.tokens_per_second().median())},
                        {"tokens_per_second_p25", Finite(p.tokens_per_second().p25())},
                        {"tokens_per_second_p75", Finite(p.tokens_per_second().p75())},
                        {"machines", p.support().machine_count()},
                        {"reproduce_command", p.reproduce_command()}});
    }
  }
  spec["data"] = {{"values", values}};
  const Json color = Field("device", "nominal", "device");
  Json layers = Json::array();
  layers.push_back(
      {{"name", "throughput"},
       {"mark", {{"type", "line"}, {"point", true}}},
       {"encoding",
        {{"x", BatchAxis()},
         {"y", Field("tokens_per_second", "quantitative", "tokens/s (median over machines)")},
         {"color", color},
         {"tooltip", Json::array({Field("device", "nominal", "device"), Field("batch_size", "quantitative", "batch"),
                                  Field("tokens_per_second", "quantitative", "tokens/s"),
                                  Field("machines", "quantitative", "machines"),
                                  Field("reproduce_command", "nominal", "reproduce")})}}}});
  layers.push_back({{"name", "throughput_spread"},
                    {"mark", {{"type", "rule"}, {"opacity", 0.5}}},
                    {"encoding",
                     {{"x", BatchAxis()},
                      {"y", Field("tokens_per_second_p25", "quantitative", "tokens/s (median over machines)")},
                      {"y2", {{"field", "tokens_per_second_p75"}}},
                      {"color", color}}}});
  spec["layer"] = layers;
  return spec.dump();
}

std::string CompareChartSpec(const v1::HardwareComparison& comparison) {
  Json spec = Frame("compare", "Hardware comparison",
                    absl::StrCat(WorkloadLabel(comparison.workload()), " · batch ",
                                 comparison.batch_size() == 0 ? 1u : comparison.batch_size()),
                    VersionOf(comparison.version()));
  Json values = Json::array();
  for (const v1::ComparisonRow& r : comparison.rows()) {
    values.push_back({{"device_model", r.device_model().slug()},
                      {"device", DeviceLabel(r.device_model())},
                      {"tokens_per_second", Finite(r.tokens_per_second().median())},
                      {"relative", Finite(r.relative_tokens_per_second())},
                      {"relative_label", absl::StrFormat("%.0f%%", 100.0 * Finite(r.relative_tokens_per_second()))},
                      {"peak_gib", GiB(r.peak_bytes().median())},
                      {"machines", r.support().machine_count()},
                      {"reproduce_command", r.reproduce_command()}});
  }
  spec["data"] = {{"values", values}};
  spec["height"] = {{"step", 28}};
  const Json y = {{"field", "device"}, {"type", "nominal"}, {"title", nullptr}, {"sort", "-x"}};
  Json layers = Json::array();
  layers.push_back(
      {{"name", "bars"},
       {"mark", {{"type", "bar"}, {"color", "#3366aa"}}},
       {"encoding",
        {{"y", y},
         {"x", Field("tokens_per_second", "quantitative", "tokens/s (median over machines)")},
         {"tooltip", Json::array({Field("device", "nominal", "device"), Field("tokens_per_second", "quantitative", "tokens/s"),
                                  Field("relative_label", "nominal", "vs fastest"),
                                  Field("peak_gib", "quantitative", "peak GiB"),
                                  Field("machines", "quantitative", "machines"),
                                  Field("reproduce_command", "nominal", "reproduce")})}}}});
  layers.push_back({{"name", "bar_labels"},
                    {"mark", {{"type", "text"}, {"align", "left"}, {"dx", 3}}},
                    {"encoding",
                     {{"y", y},
                      {"x", Field("tokens_per_second", "quantitative", "tokens/s (median over machines)")},
                      {"text", {{"field", "relative_label"}}}}}});
  spec["layer"] = layers;
  return spec.dump();
}

std::string StackChartSpec(const v1::StackDeltaTable& table) {
  Json spec = Frame("stack", "Tokens/s across software stacks",
                    absl::StrCat(DeviceLabel(table.device_model()), " · ", WorkloadLabel(table.workload()),
                                 " · batch ", table.batch_size() == 0 ? 1u : table.batch_size()),
                    VersionOf(table.version()));
  // The axis names only the parts that differ between rows (the whole
  // stack is in the tooltip), so labels stay short enough for a phone.
  bool runtimes_differ = false;
  bool agents_differ = false;
  for (const v1::StackDeltaRow& r : table.rows()) {
    runtimes_differ |= r.runtime_version() != table.rows(0).runtime_version();
    agents_differ |= r.agent_version() != table.rows(0).agent_version();
  }
  Json values = Json::array();
  int index = 0;
  for (const v1::StackDeltaRow& r : table.rows()) {
    std::string label = absl::StrCat("driver ", r.driver_version());
    if (runtimes_differ) absl::StrAppend(&label, " · runtime ", r.runtime_version());
    if (agents_differ) absl::StrAppend(&label, " · agent ", r.agent_version());
    values.push_back({{"order", index++},
                      {"label", label},
                      {"stack", absl::StrCat("driver ", r.driver_version(), " · runtime ", r.runtime_version(),
                                             " · agent ", r.agent_version())},
                      {"relative_change", Finite(r.relative_change())},
                      {"tokens_per_second", Finite(r.tokens_per_second().median())},
                      {"machines", r.support().machine_count()}});
  }
  spec["data"] = {{"values", values}};
  spec["height"] = {{"step", 28}};
  Json x = Field("relative_change", "quantitative", "change in tokens/s vs the oldest stack");
  x["axis"] = {{"format", "+.0%"}};
  spec["layer"] = Json::array(
      {{{"name", "bars"},
        {"mark", {{"type", "bar"}}},
        {"encoding",
         {{"y", {{"field", "label"}, {"type", "nominal"}, {"title", nullptr}, {"sort", {{"field", "order"}}}}},
          {"x", x},
          {"color",
           {{"condition", {{"test", "datum.relative_change < 0"}, {"value", "#b00020"}}}, {"value", "#2e7d32"}}},
          {"tooltip", Json::array({Field("stack", "nominal", "stack"), Field("tokens_per_second", "quantitative", "tokens/s"),
                                   {{"field", "relative_change"}, {"type", "quantitative"}, {"title", "change"},
                                    {"format", "+.1%"}},
                                   Field("machines", "quantitative", "machines")})}}}}});
  return spec.dump();
}

namespace {

// Calls `table` and casts its answer to the RPC's response type.
template <typename Response>
absl::StatusOr<std::unique_ptr<Response>> Ask(const Handler& table, const google::protobuf::Message& request) {
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> out = table(request);
  if (!out.ok()) return out.status();
  if ((*out)->GetDescriptor() != Response::descriptor()) {
    std::fprintf(stderr, "localbench-collector: chart expected %s, table answered %s\n",
                 Response::descriptor()->full_name().c_str(), (*out)->GetDescriptor()->full_name().c_str());
    std::abort();
  }
  return std::unique_ptr<Response>(static_cast<Response*>(out->release()));
}

// A builder for a chart drawn from one table response.
template <typename Response>
BodyBuilder OneTable(std::string (*spec)(const Response&)) {
  return [spec](const google::protobuf::Message& request, const Handler& table) -> absl::StatusOr<JsonBody> {
    absl::StatusOr<std::unique_ptr<Response>> r = Ask<Response>(table, request);
    if (!r.ok()) return r.status();
    return JsonBody{spec(**r), (*r)->version().data_version()};
  };
}

// Several device models: one curve per slug of the comma-separated list.
absl::StatusOr<JsonBody> Throughput(const google::protobuf::Message& request, const Handler& table) {
  const auto& base = static_cast<const v1::BatchCurveRequest&>(request);
  std::vector<std::string> slugs = absl::StrSplit(base.device_model(), ',', absl::SkipWhitespace());
  if (slugs.empty()) slugs.emplace_back();  // the table names what is missing
  constexpr std::size_t kMaxModels = 8;
  if (slugs.size() > kMaxModels) {
    return absl::InvalidArgumentError(
        absl::StrCat("parameter device_model: at most ", kMaxModels, " device models per chart, got ", slugs.size()));
  }
  std::vector<v1::BatchCurve> curves;
  for (const std::string& slug : slugs) {
    v1::BatchCurveRequest one = base;
    one.set_device_model(std::string(absl::StripAsciiWhitespace(slug)));
    absl::StatusOr<std::unique_ptr<v1::BatchCurve>> c = Ask<v1::BatchCurve>(table, one);
    if (!c.ok()) return c.status();
    curves.push_back(std::move(**c));
  }
  return JsonBody{ThroughputChartSpec(curves), curves.front().version().data_version()};
}

}  // namespace

BodyBuilder ChartBuilderFor(const std::string& path) {
  if (path == "/v1/charts/memory") return OneTable<v1::BatchCurve>(&MemoryChartSpec);
  if (path == "/v1/charts/throughput") return Throughput;
  if (path == "/v1/charts/compare") return OneTable<v1::HardwareComparison>(&CompareChartSpec);
  if (path == "/v1/charts/stack") return OneTable<v1::StackDeltaTable>(&StackChartSpec);
  std::fprintf(stderr, "localbench-collector: no chart for route %s\n", path.c_str());
  std::abort();
}

}  // namespace localbench::collector::http
