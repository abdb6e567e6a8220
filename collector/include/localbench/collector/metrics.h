// Operational metrics in the Prometheus text format: a small thread-safe
// registry (counters, gauges, fixed-bucket histograms) and the collector's
// own metric set (HTTP routes, gRPC methods, ingest outcomes, the connection
// pool, the data version). There is no Debian package for a Prometheus
// client, and the exposition format is a few lines, so it is written here.
#ifndef LOCALBENCH_COLLECTOR_METRICS_H_
#define LOCALBENCH_COLLECTOR_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/support/server_interceptor.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace localbench::collector {

// A monotonically increasing count. Lock-free to update.
class Counter {
 public:
  // Adds `n` (default 1).
  void Increment(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  // The current count.
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A value that goes up and down. Lock-free to update.
class Gauge {
 public:
  // Replaces the value.
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  // The current value.
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (cumulative on output, as
// Prometheus expects), with their sum and count. Lock-free to update.
class Histogram {
 public:
  // `bounds`: strictly increasing upper bounds; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  // Records one observation.
  void Observe(double v);
  // Upper bounds, without +Inf.
  const std::vector<double>& bounds() const { return bounds_; }
  // Observations <= bounds()[i] (cumulative); index bounds().size() is +Inf.
  std::uint64_t CumulativeCount(std::size_t i) const;
  // Sum of all observations.
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  // Number of observations.
  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds_.size() + 1, not cumulative
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

// Latency buckets in seconds, 0.5 ms .. 10 s: table requests are expected
// in single milliseconds warm and around 100 ms cold.
std::vector<double> LatencyBucketsSeconds();

// Named metric families with labelled children. Children live as long as
// the registry and never move, so callers may keep references and update
// them without any lock; only the first lookup of a label set locks.
class MetricsRegistry {
 public:
  // Label values in the order of the family's label names.
  using Labels = std::vector<std::string>;

  // The counter of family `name` (created on first use with `help` and
  // `label_names`) for `labels`. A name reused with another type or other
  // label names is a programming error and crashes.
  Counter& GetCounter(const std::string& name, const std::string& help,
                      const std::vector<std::string>& label_names = {}, const Labels& labels = {});
  // As GetCounter, for a gauge.
  Gauge& GetGauge(const std::string& name, const std::string& help,
                  const std::vector<std::string>& label_names = {}, const Labels& labels = {});
  // As GetCounter, for a histogram with `bounds` (the family's first call
  // decides them).
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          const std::vector<double>& bounds,
                          const std::vector<std::string>& label_names = {}, const Labels& labels = {});

  // Runs `refresh` before every Render, e.g. to read a pool's usage into a
  // gauge. Must not call Render.
  void AddRefresh(std::function<void()> refresh);

  // Every family in the Prometheus text exposition format 0.0.4, families
  // and children in name order (stable output for tests and diffs).
  std::string Render();

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    std::vector<std::string> label_names;
    std::vector<double> bounds;  // histograms
    std::map<Labels, std::unique_ptr<Counter>> counters;
    std::map<Labels, std::unique_ptr<Gauge>> gauges;
    std::map<Labels, std::unique_ptr<Histogram>> histograms;
  };
  Family& FamilyLocked(const std::string& name, Type type, const std::string& help,
                       const std::vector<std::string>& label_names, std::size_t label_count)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> refreshes_ ABSL_GUARDED_BY(mu_);
};

// What happened to one submission sent to Ingest.Submit.
enum class IngestOutcome {
  kAccepted,  // stored, or a repeat of a stored one answered with its reply
  kRefused,   // invalid, unauthenticated, or refused by the store
};

// The collector's metrics, over one registry. Thread-safe.
class CollectorMetrics {
 public:
  CollectorMetrics();

  // The registry behind these metrics (rendered at /metrics).
  MetricsRegistry& registry() { return registry_; }

  // One HTTP request answered: `route` is the route's pattern (never the raw
  // path, which would make unbounded label values), `status` its code.
  void ObserveHttp(const std::string& route, int status, double seconds);
  // One gRPC call finished: `method` is the full method name.
  void ObserveRpc(const std::string& method, int code, double seconds);
  // One submission's outcome; the ingest code calls this.
  void CountIngest(IngestOutcome outcome);
  // HTTP responses served from the response cache, and those computed.
  void CountCache(bool hit);
  // The newest data version seen.
  void SetDataVersion(std::int64_t version);
  // Reads the pool's usage at every scrape: `in_use` connections of `size`.
  void WatchPool(std::function<std::size_t()> in_use, std::size_t size);

 private:
  MetricsRegistry registry_;
  Counter* ingest_accepted_ = nullptr;
  Counter* ingest_refused_;
  Counter* cache_hits_;
  Counter* cache_misses_;
  Gauge* data_version_;
};

// A gRPC server interceptor factory that records every RPC's count, status
// code and latency into `metrics` (which must outlive the server). Register
// it with ServerBuilder::experimental().SetInterceptorCreators.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcMetricsInterceptorFactory(
    CollectorMetrics* metrics);

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_METRICS_H_
