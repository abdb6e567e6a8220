// HTTP API overhead benchmark: concurrent clients against the collector's
// HTTP server on a throwaway PostgreSQL cluster, in three phases:
//   warm        the same table URL again and again (response-cache hits:
//               one data-version read + the cached bytes),
//   revalidate  the same with If-None-Match (304s: no body),
//   uncached    a new query every request, so the handler runs every time
//               (here a stand-in table: one SQL aggregate building 200 rows;
//               the real tables' cold cost is the table engine's).
// Prints requests/s, p50 and p99 per phase. Run: scripts/bench-http.sh.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "localbench/collector/http/routes.h"
#include "localbench/collector/postgres_cluster.h"
#include "localbench/collector/server.h"
#include "localbench/v1/query.pb.h"

namespace lc = localbench::collector;
using Clock = std::chrono::steady_clock;

namespace {

// A stand-in table handler: one aggregate query per call, 200 rows out.
lc::http::Handler DeviceTable(const std::string& url) {
  return [url](const google::protobuf::Message& request) -> absl::StatusOr<std::unique_ptr<google::protobuf::Message>> {
    thread_local std::unique_ptr<pqxx::connection> conn;
    try {
      if (!conn) conn = std::make_unique<pqxx::connection>(url);
      pqxx::nontransaction tx(*conn);
      pqxx::result r = tx.exec(
          "SELECT i, 'model-' || i, (i % 5) + 1, i::bigint * 1073741824, sum(j)::float8 "
          "FROM generate_series(1, 200) i, generate_series(1, 50) j GROUP BY i ORDER BY i");
      auto out = std::make_unique<localbench::v1::DeviceModelList>();
      out->mutable_version()->set_data_version(
          static_cast<const localbench::v1::ListDeviceModelsRequest&>(request).read().as_of());
      for (const auto& row : r) {
        auto* m = out->add_models();
        m->set_slug(row[1].as<std::string>());
        m->set_vendor(static_cast<localbench::v1::Vendor>(row[2].as<int>()));
        m->set_memory_bytes(row[3].as<std::uint64_t>());
        m->set_bf16_tflops(row[4].as<double>());
      }
      return out;
    } catch (const std::exception& e) {
      conn.reset();
      return absl::UnavailableError(e.what());
    }
  };
}

struct Phase {
  std::string name;
  bool if_none_match;
  bool distinct_queries;
  std::string accept_encoding;  // what the client accepts ("" = httplib's default: br, gzip)
};

}  // namespace

int main(int argc, char** argv) {
  int clients = 16;
  int seconds = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if ((flag == "--clients" && absl::SimpleAtoi(argv[i + 1], &clients)) ||
        (flag == "--seconds" && absl::SimpleAtoi(argv[i + 1], &seconds))) {
      continue;
    }
    std::fprintf(stderr, "usage: localbench_http_bench [--clients N] [--seconds S]\n");
    return 2;
  }
  auto cluster = lc::PostgresCluster::StartThrowaway(false, {});
  if (!cluster.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n", std::string(cluster.status().message()).c_str());
    return 1;
  }
  const std::string url = (*cluster)->url();
  lc::CollectorOptions options;
  options.listen = "127.0.0.1:0";
  options.db_url = url;
  options.http_listen = "127.0.0.1:0";
  options.http_threads = clients;
  options.http_routes = lc::http::BindQueryRoutes([&url](const google::protobuf::MethodDescriptor& m) -> lc::http::Handler {
    if (m.name() == "ListDeviceModels") return DeviceTable(url);
    return [](const google::protobuf::Message&) -> absl::StatusOr<std::unique_ptr<google::protobuf::Message>> {
      return absl::UnimplementedError("not in this benchmark");
    };
  });
  auto server = lc::CollectorServer::Start(std::move(options));
  if (!server.ok()) {
    std::fprintf(stderr, "collector: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  const std::string address = (*server)->http_address();
  const int port = std::stoi(address.substr(address.rfind(':') + 1));
  std::printf("http bench: %d clients, %d s per phase, %d server threads, 2 x %u cores shared with the database\n",
              clients, seconds, clients, std::thread::hardware_concurrency() / 2);

  httplib::Client probe("127.0.0.1", port);
  auto first = probe.Get("/v1/devices");
  if (!first || first->status != 200) {
    std::fprintf(stderr, "first request failed: %s\n", first ? first->body.c_str() : "no answer");
    return 1;
  }
  const std::string etag = first->get_header_value("ETag");
  std::printf("%-11s %10s %9s %9s %9s %8s\n", "phase", "requests", "req/s", "p50 ms", "p99 ms", "errors");
  for (const Phase& phase : {Phase{"warm", false, false, ""}, Phase{"warm-plain", false, false, "identity"},
                             Phase{"revalidate", true, false, ""}, Phase{"uncached", false, true, ""}}) {
    std::atomic<long> next_query{0};
    std::atomic<long> errors{0};
    std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
    const auto end = Clock::now() + std::chrono::seconds(seconds);
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] {
        httplib::Client client("127.0.0.1", port);
        client.set_keep_alive(true);
        httplib::Headers headers;
        if (phase.if_none_match) headers.emplace("If-None-Match", etag);
        if (!phase.accept_encoding.empty()) headers.emplace("Accept-Encoding", phase.accept_encoding);
        const int want = phase.if_none_match ? 304 : 200;
        while (Clock::now() < end) {
          const std::string path = phase.distinct_queries
                                       ? absl::StrCat("/v1/devices?page_token=q", next_query.fetch_add(1))
                                       : std::string("/v1/devices");
          const auto t0 = Clock::now();
          auto r = client.Get(path.c_str(), headers);
          const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
          if (!r || r->status != want) {
            errors.fetch_add(1);
            continue;
          }
          latencies[static_cast<std::size_t>(c)].push_back(ms);
        }
      });
    }
    for (auto& t : threads) t.join();
    std::vector<double> all;
    for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    std::sort(all.begin(), all.end());
    auto pct = [&](double p) { return all.empty() ? 0.0 : all[static_cast<std::size_t>(p * (all.size() - 1))]; };
    std::printf("%-11s %10zu %9.0f %9.3f %9.3f %8ld\n", phase.name.c_str(), all.size(),
                static_cast<double>(all.size()) / seconds, pct(0.50), pct(0.99), errors.load());
  }
  return 0;
}
