// The public, read-only HTTP API of the collector (cpp-httplib): the table
// routes (JSON and CSV, ETag/304, Cache-Control, CORS, a response cache),
// /healthz and /metrics, one structured log line per request.
#ifndef LOCALBENCH_COLLECTOR_HTTP_SERVER_H_
#define LOCALBENCH_COLLECTOR_HTTP_SERVER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "localbench/collector/http/cache.h"
#include "localbench/collector/http/health.h"
#include "localbench/collector/http/params.h"
#include "localbench/collector/http/routes.h"
#include "localbench/collector/metrics.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace localbench::collector::http {

// How to run the HTTP API.
struct HttpOptions {
  // host:port to listen on; port 0 picks a free port (see address()).
  std::string listen = "127.0.0.1:0";
  // Worker threads (each serves one connection at a time); connections
  // beyond them wait in the accept queue.
  int threads = 8;
  // Response cache bound (keys + bodies); 0 disables the cache.
  std::size_t cache_bytes = std::size_t{64} << 20;
  // Cache-Control max-age of responses read at the newest version: a page
  // may show data this many seconds old.
  int latest_max_age_seconds = 5;
  // Cache-Control max-age of as_of responses, which never change.
  int as_of_max_age_seconds = 365 * 24 * 3600;
  // Folder whose files are served under /site/ (the example pages, built by
  // the CMake target `site`); empty serves no pages.
  std::string site_dir;
};

// What the server reads from the rest of the collector.
struct HttpBackends {
  // The newest data version (TableService::LatestVersion or DatabaseProbe).
  std::function<absl::StatusOr<std::int64_t>()> latest_version;
  // The /healthz verdict and body.
  std::function<Health()> health;
  // Where request metrics go and what /metrics renders; must outlive the server.
  CollectorMetrics* metrics = nullptr;
};

// A running HTTP API. Destroying it stops it.
class HttpServer {
 public:
  // Binds `options.listen` and serves `routes` on a bounded thread pool.
  // Fails when the address cannot be bound. Crashes when a route is
  // inconsistent (request leaf names not unique, unknown path field).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(HttpOptions options, std::vector<Route> routes,
                                                           HttpBackends backends);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "host:port" actually bound.
  const std::string& address() const { return address_; }

  // Stops accepting and waits for the workers. Idempotent.
  void Shutdown();

  // The response cache (for tests: entries and bytes).
  const ResponseCache& cache() const { return cache_; }

 private:
  struct BoundRoute {
    Route route;
    std::unique_ptr<RequestSchema> schema;
    std::vector<std::string> segments;  // path split at '/', "{id}" kept
  };
  HttpServer(HttpOptions options, HttpBackends backends);
  void Handle(const httplib::Request& req, httplib::Response& res);
  // Serves a table route; returns the cache outcome for the log line.
  std::string ServeRoute(const BoundRoute& route, const std::string& id, bool csv,
                         const httplib::Request& req, httplib::Response& res);
  // Serves a file of the example site (/site/...).
  void ServeSite(const httplib::Request& req, httplib::Response& res);
  // Serves a route whose body is built (a chart) rather than rendered.
  std::string ServeBody(const BoundRoute& route, const google::protobuf::Message& request, const std::string& key,
                        bool cacheable, std::int64_t version, httplib::Response& res);
  const BoundRoute* Match(const std::string& path, std::string* id) const;

  const HttpOptions options_;
  const HttpBackends backends_;
  ResponseCache cache_;
  std::vector<BoundRoute> routes_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> listen_returned_{false};  // the accept loop has ended
  std::string address_;
  bool shut_down_ = false;
};

}  // namespace localbench::collector::http

#endif  // LOCALBENCH_COLLECTOR_HTTP_SERVER_H_
