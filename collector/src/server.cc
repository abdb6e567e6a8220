#include "localbench/collector/server.h"

#include <algorithm>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "localbench/collector/log.h"
#include "localbench/collector/migrations.h"

namespace localbench::collector {

absl::StatusOr<std::unique_ptr<CollectorServer>> CollectorServer::Start(CollectorOptions options) {
  if (options.max_threads < 2) return absl::InvalidArgumentError("max_threads must be >= 2");
  std::unique_ptr<CollectorServer> s(new CollectorServer());
  try {
    pqxx::connection conn(options.db_url);
    auto applied = ApplyMigrations(conn);
    if (!applied.ok()) return applied.status();
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL: ", e.what()));
  }
  if (options.db_connections < 1) return absl::InvalidArgumentError("db_connections must be >= 1");
  const int connections = std::min(options.db_connections, options.max_threads);
  auto pool = ConnectionPool::Create(options.db_url, static_cast<std::size_t>(connections),
                                     &SubmissionStore::Prepare);
  if (!pool.ok()) return pool.status();
  s->pool_ = *std::move(pool);
  if (options.group_commit_writers < 0) return absl::InvalidArgumentError("group_commit_writers must be >= 0");
  s->store_ = std::make_unique<SubmissionStore>(s->pool_.get(), std::min(options.group_commit_writers, connections));
  s->ingest_ = std::make_unique<IngestService>(s->store_.get());
  auto read_pool = ConnectionPool::Create(options.db_url, static_cast<std::size_t>(connections));
  if (!read_pool.ok()) return read_pool.status();
  s->read_pool_ = *std::move(read_pool);
  s->tables_ = std::make_unique<TableService>(s->read_pool_.get());
  s->query_ = std::make_unique<QueryService>(s->tables_.get());

  grpc::ServerBuilder builder;
  int port = 0;
  auto creds = options.credentials ? options.credentials : grpc::InsecureServerCredentials();
  builder.AddListeningPort(options.listen, creds, &port);
  builder.RegisterService(s->ingest_.get());
  builder.RegisterService(s->query_.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_receive_message_bytes));
  // Bounded threads: a burst of clients queues instead of spawning threads
  // (and database connections) without limit.
  grpc::ResourceQuota quota("localbench-collector");
  quota.SetMaxThreads(options.max_threads);
  builder.SetResourceQuota(quota);
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen,
                                               " (address in use or invalid?)"));
  }
  const std::string& listen = options.listen;
  const auto colon = listen.rfind(':');
  s->address_ = absl::StrCat(colon == std::string::npos ? listen : listen.substr(0, colon), ":", port);
  return s;
}

void CollectorServer::Shutdown(std::chrono::milliseconds grace) {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
}

CollectorServer::~CollectorServer() { Shutdown(); }

}  // namespace localbench::collector
