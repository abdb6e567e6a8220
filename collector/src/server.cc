#include "localbench/collector/server.h"

#include <algorithm>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "localbench/collector/http/table_routes.h"
#include "localbench/collector/log.h"
#include "localbench/collector/migrations.h"

namespace localbench::collector {

absl::StatusOr<std::unique_ptr<CollectorServer>> CollectorServer::Start(CollectorOptions options) {
  if (options.db_connections < 1) return absl::InvalidArgumentError("db_connections must be >= 1");
  if (options.queue_depth < 1) return absl::InvalidArgumentError("queue_depth must be >= 1");
  if (options.group_commit_writers < 0) return absl::InvalidArgumentError("group_commit_writers must be >= 0");
  for (const auto& [name, rule] : {std::pair{"submit_per_token", options.ingest_limits.submit_per_token},
                                   std::pair{"submit_per_address", options.ingest_limits.submit_per_address},
                                   std::pair{"enroll_per_address", options.ingest_limits.enroll_per_address}}) {
    if (!(rule.per_second >= 0 && rule.per_second < 1e9) || !(rule.burst >= 1 && rule.burst < 1e9)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ingest_limits.", name, ": rate must be in [0, 1e9) and burst in [1, 1e9)"));
    }
  }
  if (absl::Status st = options.verify.Check(); !st.ok()) return st;
  if (options.max_concurrent_streams < 1) return absl::InvalidArgumentError("max_concurrent_streams must be >= 1");
  std::unique_ptr<CollectorServer> s(new CollectorServer());
  try {
    pqxx::connection conn(options.db_url);
    auto applied = ApplyMigrations(conn);
    if (!applied.ok()) return applied.status();
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL: ", e.what()));
  }
  const int connections = options.db_connections;
  auto pool = ConnectionPool::Create(options.db_url, static_cast<std::size_t>(connections),
                                     &SubmissionStore::Prepare);
  if (!pool.ok()) return pool.status();
  s->pool_ = *std::move(pool);
  ConnectionPool* pool_ptr = s->pool_.get();
  s->metrics_->WatchPool([pool_ptr] { return pool_ptr->InUse(); }, pool_ptr->size());
  s->store_ = std::make_unique<SubmissionStore>(s->pool_.get(), std::min(options.group_commit_writers, connections),
                                                options.plausibility);
  // One worker per connection: a worker holds at most one lease at a time,
  // so nothing ever waits inside the pool.
  s->queue_ = std::make_unique<WorkQueue>(connections, static_cast<std::size_t>(options.queue_depth));
  // Table reads (gRPC Query and HTTP) go through a pool of their own, on the
  // read URL when one is given (a streaming replica), so they never take
  // ingest's connections.
  auto read_pool = ConnectionPool::Create(options.db_read_url.empty() ? options.db_url : options.db_read_url,
                                          static_cast<std::size_t>(connections));
  if (!read_pool.ok()) return read_pool.status();
  s->read_pool_ = *std::move(read_pool);
  s->tables_ = std::make_unique<TableService>(s->read_pool_.get(), options.verify, options.verdict_threshold);
  if (!(options.verdict_threshold > 0 && options.verdict_threshold < 10)) {
    return absl::InvalidArgumentError("verdict_threshold must be a fraction in (0, 10), e.g. 0.1 for 10%");
  }
  // Editors write (moderation, verdicts, tokens): always the primary, on two
  // connections of their own so they never take an ingest worker's.
  auto admin_pool = ConnectionPool::Create(options.db_url, 2);
  if (!admin_pool.ok()) return admin_pool.status();
  s->admin_pool_ = *std::move(admin_pool);
  s->admin_tables_ = std::make_unique<TableService>(s->admin_pool_.get(), options.verify, options.verdict_threshold);
  SubmissionStore* store = s->store_.get();
  s->editors_ = std::make_unique<EditorStore>(s->admin_pool_.get(), s->admin_tables_.get(),
                                              [store](const std::string& agent_id) { store->ForgetAgent(agent_id); });

  grpc::ServerBuilder builder;
  int port = 0;
  auto creds = options.credentials ? options.credentials : grpc::InsecureServerCredentials();
  builder.AddListeningPort(options.listen, creds, &port);
  s->ingest_limits_ = options.ingest_limits;
  s->RegisterServices(builder);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_receive_message_bytes));
  auto ms = [](std::chrono::milliseconds d) { return static_cast<int>(d.count()); };
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, ms(options.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, ms(options.keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, ms(options.max_connection_idle));
  // Pings from clients: allowed without calls (agents keep channels warm)
  // but no more often than min_client_ping; a flood ends the connection.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, ms(options.min_client_ping));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.max_concurrent_streams);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(MakeRpcMetricsInterceptorFactory(s->metrics_.get()));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.listen,
                                               " (address in use or invalid?)"));
  }
  const std::string& listen = options.listen;
  const auto colon = listen.rfind(':');
  s->address_ = absl::StrCat(colon == std::string::npos ? listen : listen.substr(0, colon), ":", port);

  if (!options.http_listen.empty()) {
    // The HTTP side reads versions and health through a pool of its own.
    if (options.http_threads < 1) return absl::InvalidArgumentError("http_threads must be >= 1");
    // One connection per HTTP worker: the version look-up never queues.
    // Versions and health come from where the tables are read (a replica
    // names the version it has replayed, so latest never runs ahead of it).
    auto probe = http::DatabaseProbe::Create(options.db_read_url.empty() ? options.db_url : options.db_read_url,
                                             static_cast<std::size_t>(options.http_threads));
    if (!probe.ok()) return probe.status();
    s->probe_ = *std::move(probe);
    http::HttpOptions http_options;
    http_options.listen = options.http_listen;
    http_options.threads = options.http_threads;
    http_options.site_dir = options.http_site_dir;
    http::HttpBackends backends;
    http::DatabaseProbe* probe_ptr = s->probe_.get();
    backends.latest_version = [probe_ptr] { return probe_ptr->LatestVersion(); };
    backends.health = [probe_ptr] { return probe_ptr->Check(); };
    backends.metrics = s->metrics_.get();
    std::vector<http::Route> routes =
        options.http_routes.empty() ? http::TableRoutes(*s->tables_) : std::move(options.http_routes);
    auto http = http::HttpServer::Start(http_options, std::move(routes), std::move(backends));
    if (!http.ok()) return http.status();
    s->http_ = *std::move(http);
  }
  return s;
}

void CollectorServer::RegisterServices(grpc::ServerBuilder& builder) {
  ingest_ = std::make_unique<IngestService>(store_.get(), queue_.get(), metrics_.get(), ingest_limits_);
  builder.RegisterService(ingest_.get());
  query_ = std::make_unique<QueryService>(tables_.get());
  builder.RegisterService(query_.get());
  admin_ = std::make_unique<AdminService>(editors_.get());
  builder.RegisterService(admin_.get());
}

void CollectorServer::Shutdown(std::chrono::milliseconds grace) {
  if (http_) http_->Shutdown();
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  // Returns once every call has finished: the workers keep draining the
  // queue meanwhile (after `grace`, what is left finds its call cancelled).
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
  queue_->Stop();
}

CollectorServer::~CollectorServer() { Shutdown(); }

}  // namespace localbench::collector
