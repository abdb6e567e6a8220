#include "localbench/collector/metrics.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"

namespace localbench::collector {
namespace {

// Shortest text that reads back as `v` (Prometheus accepts Go float syntax).
std::string FormatDouble(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) std::abort();  // 64 bytes always hold a double
  return std::string(buf, end);
}

// Label values may hold any text; the format escapes \, " and newline.
std::string EscapeLabel(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Help text escapes \ and newline.
std::string EscapeHelp(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// {a="x",b="y"} plus an optional extra pair (histograms' le); "" when empty.
std::string LabelText(const std::vector<std::string>& names, const MetricsRegistry::Labels& values,
                      const std::string& extra_name = "", const std::string& extra_value = "") {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "" : ",", names[i], "=\"", EscapeLabel(values[i]), "\"");
  }
  if (!extra_name.empty()) {
    absl::StrAppend(&out, out.empty() ? "" : ",", extra_name, "=\"", extra_value, "\"");
  }
  return out.empty() ? out : absl::StrCat("{", out, "}");
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "localbench-collector: metrics: %s\n", message.c_str());
  std::abort();
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i + 1 < bounds_.size(); ++i) {
    if (!(bounds_[i] < bounds_[i + 1])) Die("histogram bounds must increase strictly");
  }
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;  // a dozen bounds: a scan beats a search
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::uint64_t Histogram::CumulativeCount(std::size_t i) const {
  std::uint64_t total = 0;
  for (std::size_t j = 0; j <= i && j <= bounds_.size(); ++j) total += buckets_[j].load(std::memory_order_relaxed);
  return total;
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
}

MetricsRegistry::Family& MetricsRegistry::FamilyLocked(const std::string& name, Type type,
                                                       const std::string& help,
                                                       const std::vector<std::string>& label_names,
                                                       std::size_t label_count) {
  if (label_count != label_names.size()) {
    Die(absl::StrCat(name, ": ", label_count, " label values for ", label_names.size(), " names"));
  }
  auto [it, inserted] = families_.try_emplace(name);
  Family& f = it->second;
  if (inserted) {
    f.type = type;
    f.help = help;
    f.label_names = label_names;
  } else if (f.type != type || f.label_names != label_names) {
    Die(absl::StrCat(name, ": registered again with another type or other labels"));
  }
  return f;
}

Counter& MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                     const std::vector<std::string>& label_names, const Labels& labels) {
  absl::MutexLock lock(&mu_);
  Family& f = FamilyLocked(name, Type::kCounter, help, label_names, labels.size());
  auto& slot = f.counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& MetricsRegistry::GetGauge(const std::string& name, const std::string& help,
                                 const std::vector<std::string>& label_names, const Labels& labels) {
  absl::MutexLock lock(&mu_);
  Family& f = FamilyLocked(name, Type::kGauge, help, label_names, labels.size());
  auto& slot = f.gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         const std::vector<double>& bounds,
                                         const std::vector<std::string>& label_names,
                                         const Labels& labels) {
  absl::MutexLock lock(&mu_);
  Family& f = FamilyLocked(name, Type::kHistogram, help, label_names, labels.size());
  if (f.bounds.empty()) f.bounds = bounds;
  auto& slot = f.histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(f.bounds);
  return *slot;
}

void MetricsRegistry::AddRefresh(std::function<void()> refresh) {
  absl::MutexLock lock(&mu_);
  refreshes_.push_back(std::move(refresh));
}

std::string MetricsRegistry::Render() {
  std::vector<std::function<void()>> refreshes;
  {
    absl::MutexLock lock(&mu_);
    refreshes = refreshes_;
  }
  for (auto& r : refreshes) r();  // outside the lock: they update gauges
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::kCounter ? "counter" : f.type == Type::kGauge ? "gauge" : "histogram";
    absl::StrAppend(&out, "# HELP ", name, " ", EscapeHelp(f.help), "\n# TYPE ", name, " ", type, "\n");
    for (const auto& [labels, c] : f.counters) {
      absl::StrAppend(&out, name, LabelText(f.label_names, labels), " ", c->value(), "\n");
    }
    for (const auto& [labels, g] : f.gauges) {
      absl::StrAppend(&out, name, LabelText(f.label_names, labels), " ", FormatDouble(g->value()), "\n");
    }
    for (const auto& [labels, h] : f.histograms) {
      for (std::size_t i = 0; i <= h->bounds().size(); ++i) {
        // Bounds read as written ("0.0005", not "5e-04"): six significant digits suffice.
        const std::string le = i < h->bounds().size() ? absl::StrCat(h->bounds()[i]) : "+Inf";
        absl::StrAppend(&out, name, "_bucket", LabelText(f.label_names, labels, "le", le), " ",
                        h->CumulativeCount(i), "\n");
      }
      absl::StrAppend(&out, name, "_sum", LabelText(f.label_names, labels), " ", FormatDouble(h->sum()), "\n");
      absl::StrAppend(&out, name, "_count", LabelText(f.label_names, labels), " ", h->count(), "\n");
    }
  }
  return out;
}

CollectorMetrics::CollectorMetrics() {
  const std::string ingest = "localbench_ingest_submissions_total";
  const std::string ingest_help = "Submissions received by Ingest.Submit, by outcome";
  ingest_accepted_ = &registry_.GetCounter(ingest, ingest_help, {"outcome"}, {"accepted"});
  ingest_refused_ = &registry_.GetCounter(ingest, ingest_help, {"outcome"}, {"refused"});
  const std::string cache = "localbench_http_cache_total";
  const std::string cache_help = "HTTP table responses served from the response cache (hit) or computed (miss)";
  cache_hits_ = &registry_.GetCounter(cache, cache_help, {"result"}, {"hit"});
  cache_misses_ = &registry_.GetCounter(cache, cache_help, {"result"}, {"miss"});
  data_version_ = &registry_.GetGauge("localbench_data_version", "Newest public data version seen");
}

void CollectorMetrics::ObserveHttp(const std::string& route, int status, double seconds) {
  const std::string code = std::to_string(status);
  registry_
      .GetCounter("localbench_http_requests_total", "HTTP requests answered, by route and status",
                  {"route", "status"}, {route, code})
      .Increment();
  registry_
      .GetHistogram("localbench_http_request_duration_seconds", "HTTP request latency, by route",
                    LatencyBucketsSeconds(), {"route"}, {route})
      .Observe(seconds);
}

void CollectorMetrics::ObserveRpc(const std::string& method, int code, double seconds) {
  registry_
      .GetCounter("localbench_grpc_requests_total", "gRPC calls finished, by method and status code",
                  {"method", "code"}, {method, std::to_string(code)})
      .Increment();
  registry_
      .GetHistogram("localbench_grpc_request_duration_seconds", "gRPC call latency, by method",
                    LatencyBucketsSeconds(), {"method"}, {method})
      .Observe(seconds);
}

void CollectorMetrics::CountIngest(IngestOutcome outcome) {
  switch (outcome) {
    case IngestOutcome::kAccepted:
      ingest_accepted_->Increment();
      return;
    case IngestOutcome::kRefused:
      ingest_refused_->Increment();
      return;
  }
}

void CollectorMetrics::CountCache(bool hit) { (hit ? cache_hits_ : cache_misses_)->Increment(); }

void CollectorMetrics::SetDataVersion(std::int64_t version) {
  data_version_->Set(static_cast<double>(version));
}

void CollectorMetrics::WatchPool(std::function<std::size_t()> in_use, std::size_t size) {
  Gauge& used = registry_.GetGauge("localbench_db_connections_in_use", "PostgreSQL connections leased now");
  registry_.GetGauge("localbench_db_connections", "PostgreSQL connections in the pool").Set(static_cast<double>(size));
  registry_.AddRefresh([&used, in_use = std::move(in_use)] { used.Set(static_cast<double>(in_use())); });
}

namespace {

// Times one call from its creation to the status it sends.
class RpcMetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(CollectorMetrics* metrics, std::string method)
      : metrics_(metrics), method_(std::move(method)), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      metrics_->ObserveRpc(method_, static_cast<int>(methods->GetSendStatus().error_code()), seconds);
    }
    methods->Proceed();
  }

 private:
  CollectorMetrics* const metrics_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
};

class RpcMetricsFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsFactory(CollectorMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(metrics_, info->method());
  }

 private:
  CollectorMetrics* const metrics_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> MakeRpcMetricsInterceptorFactory(
    CollectorMetrics* metrics) {
  return std::make_unique<RpcMetricsFactory>(metrics);
}

}  // namespace localbench::collector
