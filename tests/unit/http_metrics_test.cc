// The metrics registry and its Prometheus text rendering.
#include "localbench/collector/metrics.h"

#include <thread>

#include <gtest/gtest.h>

namespace localbench::collector {
namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(Metrics, RendersCountersGaugesAndHistograms) {
  MetricsRegistry r;
  r.GetCounter("requests_total", "Requests", {"route", "status"}, {"/v1/x", "200"}).Increment(3);
  r.GetGauge("version", "Data version").Set(17);
  Histogram& h = r.GetHistogram("latency_seconds", "Latency", {0.01, 0.1}, {"route"}, {"/v1/x"});
  h.Observe(0.005);
  h.Observe(0.05);
  h.Observe(5);
  const std::string text = r.Render();
  EXPECT_TRUE(Has(text, "# HELP requests_total Requests")) << text;
  EXPECT_TRUE(Has(text, "# TYPE requests_total counter")) << text;
  EXPECT_TRUE(Has(text, "requests_total{route=\"/v1/x\",status=\"200\"} 3")) << text;
  EXPECT_TRUE(Has(text, "# TYPE version gauge")) << text;
  EXPECT_TRUE(Has(text, "version 17")) << text;
  EXPECT_TRUE(Has(text, "# TYPE latency_seconds histogram")) << text;
  EXPECT_TRUE(Has(text, "latency_seconds_bucket{route=\"/v1/x\",le=\"0.01\"} 1")) << text;
  EXPECT_TRUE(Has(text, "latency_seconds_bucket{route=\"/v1/x\",le=\"0.1\"} 2")) << text;
  EXPECT_TRUE(Has(text, "latency_seconds_bucket{route=\"/v1/x\",le=\"+Inf\"} 3")) << text;
  EXPECT_TRUE(Has(text, "latency_seconds_sum{route=\"/v1/x\"} 5.055")) << text;
  EXPECT_TRUE(Has(text, "latency_seconds_count{route=\"/v1/x\"} 3")) << text;
}

TEST(Metrics, EscapesLabelValues) {
  MetricsRegistry r;
  r.GetCounter("c", "C", {"l"}, {"a\"b\\c\nd"}).Increment();
  EXPECT_TRUE(Has(r.Render(), "c{l=\"a\\\"b\\\\c\\nd\"} 1")) << r.Render();
}

TEST(Metrics, SameLabelsSameChild) {
  MetricsRegistry r;
  Counter& a = r.GetCounter("c", "C", {"l"}, {"x"});
  Counter& b = r.GetCounter("c", "C", {"l"}, {"x"});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &r.GetCounter("c", "C", {"l"}, {"y"}));
}

TEST(Metrics, RefreshRunsBeforeRender) {
  MetricsRegistry r;
  Gauge& g = r.GetGauge("pool_in_use", "In use");
  int calls = 0;
  r.AddRefresh([&] { g.Set(++calls); });
  EXPECT_TRUE(Has(r.Render(), "pool_in_use 1"));
  EXPECT_TRUE(Has(r.Render(), "pool_in_use 2"));
}

TEST(Metrics, CountsFromManyThreadsAddUp) {
  MetricsRegistry r;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&r, t] {
      for (int i = 0; i < 10000; ++i) {
        r.GetCounter("c", "C", {"t"}, {std::to_string(t % 2)}).Increment();
        r.GetHistogram("h", "H", {1.0}).Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = r.Render();
  EXPECT_TRUE(Has(text, "c{t=\"0\"} 20000")) << text;
  EXPECT_TRUE(Has(text, "c{t=\"1\"} 20000")) << text;
  EXPECT_TRUE(Has(text, "h_count 40000")) << text;
  EXPECT_TRUE(Has(text, "h_sum 20000")) << text;
}

TEST(Metrics, CollectorMetricsNameIngestOutcomes) {
  CollectorMetrics m;
  m.CountIngest(IngestOutcome::kAccepted);
  m.CountIngest(IngestOutcome::kAccepted);
  m.CountIngest(IngestOutcome::kRefused);
  m.SetDataVersion(12);
  const std::string text = m.registry().Render();
  EXPECT_TRUE(Has(text, "localbench_ingest_submissions_total{outcome=\"accepted\"} 2")) << text;
  EXPECT_TRUE(Has(text, "localbench_ingest_submissions_total{outcome=\"refused\"} 1")) << text;
  EXPECT_TRUE(Has(text, "localbench_data_version 12")) << text;
}

TEST(MetricsDeathTest, ReusingANameWithAnotherTypeCrashes) {
  MetricsRegistry r;
  r.GetCounter("x", "X");
  EXPECT_DEATH(r.GetGauge("x", "X"), "another type");
}

}  // namespace
}  // namespace localbench::collector
