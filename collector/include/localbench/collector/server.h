// Server wiring: the connection pool, migrations, the store and the gRPC
// server with its limits, behind one object that main() and tests start.
#ifndef LOCALBENCH_COLLECTOR_SERVER_H_
#define LOCALBENCH_COLLECTOR_SERVER_H_

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "localbench/collector/connection_pool.h"
#include "localbench/collector/ingest.h"
#include "localbench/collector/query_service.h"
#include "localbench/collector/store.h"

namespace localbench::collector {

// How to run a collector.
struct CollectorOptions {
  // host:port to listen on; port 0 picks a free port (see address()).
  std::string listen = "127.0.0.1:7411";
  // libpq URL of the database (migrated on start).
  std::string db_url;
  // Upper bound on gRPC server threads (pollers included). The sync server
  // answers RESOURCE_EXHAUSTED ("Server Threadpool Exhausted", retryable)
  // when all are busy, so keep it well above the expected concurrent clients.
  int max_threads = 32;
  // PostgreSQL connections, one per concurrently storing request; handlers
  // beyond this wait for a free one (briefly: a submission is one round
  // trip plus commit). Capped at max_threads.
  int db_connections = 8;
  // Group commit: concurrent submissions share one statement (one commit,
  // one WAL flush), at most this many such writers at once. 0 (default):
  // one statement per submission, which measured faster on the 2-core
  // development machines, where CPU rather than WAL flushes is the limit
  // and PostgreSQL already coalesces concurrent flushes (docs/BENCHMARKS.md).
  int group_commit_writers = 0;
  // Largest request accepted; bigger ones get RESOURCE_EXHAUSTED before any
  // parsing or storage.
  std::size_t max_receive_message_bytes = 4 * 1024 * 1024;
  // Server credentials; null means plaintext (fine on loopback only).
  std::shared_ptr<grpc::ServerCredentials> credentials;
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

  // Stops accepting calls, lets in-flight ones finish for up to `grace`, then
  // cancels the rest. Idempotent.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10));

  // The store behind the service (for tests and tools in the same process).
  SubmissionStore& store() { return *store_; }

  // The tables behind the Query service (for the HTTP API and tests).
  TableService& tables() { return *tables_; }

 private:
  CollectorServer() = default;

  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<SubmissionStore> store_;
  std::unique_ptr<IngestService> ingest_;
  std::unique_ptr<ConnectionPool> read_pool_;  // table reads, apart from ingest's connections
  std::unique_ptr<TableService> tables_;
  std::unique_ptr<QueryService> query_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  bool shut_down_ = false;
};

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_SERVER_H_
