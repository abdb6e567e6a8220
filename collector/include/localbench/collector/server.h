// Server wiring: the connection pool, migrations, the store, the request
// queue and the gRPC server with its limits, behind one object that main()
// and tests start.
#ifndef LOCALBENCH_COLLECTOR_SERVER_H_
#define LOCALBENCH_COLLECTOR_SERVER_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "localbench/collector/admin_service.h"
#include "localbench/collector/connection_pool.h"
#include "localbench/collector/editors.h"
#include "localbench/collector/http/health.h"
#include "localbench/collector/http/routes.h"
#include "localbench/collector/http/server.h"
#include "localbench/collector/ingest.h"
#include "localbench/collector/metrics.h"
#include "localbench/collector/plausibility.h"
#include "localbench/collector/query_service.h"
#include "localbench/collector/store.h"
#include "localbench/collector/work_queue.h"

namespace localbench::collector {

// How to run a collector.
struct CollectorOptions {
  // host:port to listen on; port 0 picks a free port (see address()).
  std::string listen = "127.0.0.1:7411";
  // libpq URL of the database (migrated on start).
  std::string db_url;
  // libpq URL the tables are read from (gRPC Query and HTTP), e.g. a
  // streaming replica of db_url; empty reads from db_url.
  std::string db_read_url;
  // PostgreSQL connections, and as many workers that serve requests: this
  // bounds database concurrency, whatever the number of clients.
  int db_connections = 8;
  // Requests that may wait for a worker. gRPC's callback handlers only
  // queue a call and return, so a burst of agents waits here (in arrival
  // order) instead of being refused; a call that finds the queue full is
  // answered RESOURCE_EXHAUSTED at once (agents retry with backoff). Each
  // waiting call holds its request in memory (at most
  // max_receive_message_bytes; real submissions are tens of KiB).
  int queue_depth = 1024;
  // Group commit writers: each writes up to 64 queued submissions as one
  // transaction (COPY, one commit). 0 means the default, 1: the data-version
  // row lock serialises ingest commits anyway (docs/BENCHMARKS.md).
  int group_commit_writers = 0;
  // Largest request accepted; bigger ones get RESOURCE_EXHAUSTED before any
  // parsing or storage.
  std::size_t max_receive_message_bytes = 4 * 1024 * 1024;
  // Plausibility checks at ingest: an implausible submission is stored
  // with its findings and flagged (kept out of public tables until an
  // editor restores it).
  PlausibilityRules plausibility;
  // When a table cell counts as verified (quorum of machines, tolerance).
  VerifyRule verify;
  // Per-token and per-address rate limits on Ingest (RESOURCE_EXHAUSTED
  // with `retry-after-ms`); a rule with per_second 0 is off.
  IngestLimits ingest_limits;
  // HTTP/2 keepalive: the server pings a connection idle this long and
  // closes it when no answer comes within keepalive_timeout, so dead
  // clients do not hold connections; idle connections close after
  // max_connection_idle. Clients may ping at most every min_client_ping.
  std::chrono::milliseconds keepalive_time{std::chrono::seconds(60)};
  std::chrono::milliseconds keepalive_timeout{std::chrono::seconds(20)};
  std::chrono::milliseconds max_connection_idle{std::chrono::minutes(5)};
  std::chrono::milliseconds min_client_ping{std::chrono::seconds(10)};
  // Concurrent calls per HTTP/2 connection (one client cannot hold more).
  int max_concurrent_streams = 64;
  // Server credentials; null means plaintext (fine on loopback only).
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // host:port of the public read-only HTTP API; empty (default) serves none.
  // Port 0 picks a free port (see http_address()).
  std::string http_listen;
  // HTTP worker threads (one connection each at a time).
  int http_threads = 8;
  // The table routes the HTTP API serves; empty (default) serves every
  // public route from this collector's TableService (http::TableRoutes).
  // Tests may give their own. /healthz and /metrics are always there when
  // http_listen is set.
  std::vector<http::Route> http_routes;
  // Folder served under /site/ by the HTTP API (the example pages); empty
  // serves none.
  std::string http_site_dir;

  // A verdict is stale when a cited tokens/s figure moved by more than this
  // fraction since it was written (or confirmed).
  double verdict_threshold = TableService::kDefaultVerdictThreshold;
};

// A running collector. Destroying it shuts it down.
class CollectorServer {
 public:
  // Connects, applies migrations, and starts serving. Fails with a clear
  // message (database unreachable, port taken, migration mismatch).
  static absl::StatusOr<std::unique_ptr<CollectorServer>> Start(CollectorOptions options);

  ~CollectorServer();
  CollectorServer(const CollectorServer&) = delete;
  CollectorServer& operator=(const CollectorServer&) = delete;

  // "host:port" actually bound, e.g. "127.0.0.1:40123" when asked for port 0.
  const std::string& address() const { return address_; }

  // Stops accepting calls, lets in-flight and queued ones finish for up to
  // `grace`, then cancels the rest (queued calls then end CANCELLED without
  // touching the database), and stops the workers. Idempotent.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10));

  // The store behind the service (for tests and tools in the same process).
  SubmissionStore& store() { return *store_; }

  // The queue in front of the database workers (services added later share
  // it, so database concurrency stays bounded by the pool).
  WorkQueue& work_queue() { return *queue_; }

  // "host:port" the HTTP API is bound to; empty when it is off.
  std::string http_address() const { return http_ ? http_->address() : std::string(); }

  // Request, ingest, pool and data-version metrics (rendered at /metrics).
  CollectorMetrics& metrics() { return *metrics_; }

  // The tables behind the Query service (for the HTTP API and tests).
  TableService& tables() { return *tables_; }

 private:
  CollectorServer() = default;
  // Creates every gRPC service and registers it on `builder`: the one place
  // a new service is added.
  void RegisterServices(grpc::ServerBuilder& builder);

  // Declared in dependency order: destroyed server first, pool last.
  std::unique_ptr<CollectorMetrics> metrics_ = std::make_unique<CollectorMetrics>();
  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<http::DatabaseProbe> probe_;
  std::unique_ptr<SubmissionStore> store_;
  std::unique_ptr<WorkQueue> queue_;
  std::unique_ptr<IngestService> ingest_;
  std::unique_ptr<ConnectionPool> read_pool_;  // table reads, apart from ingest's connections
  std::unique_ptr<TableService> tables_;
  std::unique_ptr<QueryService> query_;
  // Editors: a small pool of their own on the primary (they write), tables
  // read from that primary for citations, the store and the Admin service.
  std::unique_ptr<ConnectionPool> admin_pool_;
  std::unique_ptr<TableService> admin_tables_;
  std::unique_ptr<EditorStore> editors_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<http::HttpServer> http_;  // after what it reads: stops first
  std::string address_;
  IngestLimits ingest_limits_;  // for RegisterServices
  bool shut_down_ = false;
};

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_SERVER_H_
