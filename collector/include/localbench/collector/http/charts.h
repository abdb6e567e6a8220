// Charts as data: Vega-Lite v5 specifications with the data inlined, built
// from the same table responses the /v1/tables routes serve, so a page can
// embed them with vega-embed and an editor can render them to SVG without a
// browser (vl2svg, scripts/chart-svg.sh). Layers carry names so pages and
// tests find them in the rendered SVG (Vega names the mark `<name>_marks`):
// memory: measured, measured_points, measured_spread, planned, device_memory,
// oom_line, oom_label; throughput: throughput, throughput_spread; compare
// and stack: bars (and bar_labels).
#ifndef LOCALBENCH_COLLECTOR_HTTP_CHARTS_H_
#define LOCALBENCH_COLLECTOR_HTTP_CHARTS_H_

#include <string>
#include <vector>

#include "localbench/collector/http/routes.h"
#include "localbench/v1/query.pb.h"

namespace localbench::collector::http {

// Peak memory against batch size on one device model: measured arena peak
// (solid, with its machine spread), the memory plan (dashed), the device's
// memory (a horizontal rule, when known) and the OOM line (a vertical rule at
// the median smallest failing batch, when reached).
std::string MemoryChartSpec(const v1::BatchCurve& curve);

// Tokens/s against batch size, one line per device model (one curve each,
// same workload), with each point's machine spread.
std::string ThroughputChartSpec(const std::vector<v1::BatchCurve>& curves);

// Device models side by side: tokens/s at one batch as bars, fastest first,
// labelled with their speed relative to the fastest.
std::string CompareChartSpec(const v1::HardwareComparison& comparison);

// One device model across software stacks: each stack's change in tokens/s
// against the oldest, as bars (faster green, slower red).
std::string StackChartSpec(const v1::StackDeltaTable& table);

// The builder for a ChartRouteSpecs() path; crashes for any other path (the
// route table and this file disagree: a programming error). The throughput
// chart takes a comma-separated list of slugs in `device_model` and asks the
// table once per slug.
BodyBuilder ChartBuilderFor(const std::string& path);

}  // namespace localbench::collector::http

#endif  // LOCALBENCH_COLLECTOR_HTTP_CHARTS_H_
