// Server wiring: the connection pool, migrations, the store, the request
// queue and the gRPC server with its limits, behind one object that main()
// and tests start.
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
#include "localbench/collector/store.h"
#include "localbench/collector/work_queue.h"

namespace localbench::collector {

// How to run a collector.
struct CollectorOptions {
  // host:port to listen on; port 0 picks a free port (see address()).
  std::string listen = "127.0.0.1:7411";
  // libpq URL of the database (migrated on start).
  std::string db_url;
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

  // Stops accepting calls, lets in-flight and queued ones finish for up to
  // `grace`, then cancels the rest (queued calls then end CANCELLED without
  // touching the database), and stops the workers. Idempotent.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10));

  // The store behind the service (for tests and tools in the same process).
  SubmissionStore& store() { return *store_; }

  // The queue in front of the database workers (services added later share
  // it, so database concurrency stays bounded by the pool).
  WorkQueue& work_queue() { return *queue_; }

 private:
  CollectorServer() = default;
  // Creates every gRPC service and registers it on `builder`: the one place
  // a new service is added.
  void RegisterServices(grpc::ServerBuilder& builder);

  // Declared in dependency order: destroyed server first, pool last.
  std::unique_ptr<ConnectionPool> pool_;
  std::unique_ptr<SubmissionStore> store_;
  std::unique_ptr<WorkQueue> queue_;
  std::unique_ptr<IngestService> ingest_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
  bool shut_down_ = false;
};

}  // namespace localbench::collector

#endif  // LOCALBENCH_COLLECTOR_SERVER_H_
