// localbench-collector: receives benchmark submissions over gRPC and stores
// them in PostgreSQL exactly once. With no --db it runs its own private
// PostgreSQL cluster under --data-dir, so a local start needs nothing else.
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <libpq-fe.h>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "localbench/collector/editors.h"
#include "localbench/collector/log.h"
#include "localbench/collector/migrations.h"
#include "localbench/collector/postgres_cluster.h"
#include "localbench/collector/server.h"

namespace lc = localbench::collector;

namespace {

// SIGINT/SIGTERM arrive here, on whichever thread the kernel picks, and are
// passed to main() through a pipe. A handler, not a blocked mask and
// sigwait(): libraries loaded with the binary (OpenBLAS's thread pool, the
// HIP runtime) start threads before main() runs, with the signals
// unblocked, so a mask set in main() cannot cover them and the default
// action would kill the process mid-request.
int g_stop_pipe[2] = {-1, -1};

void OnStopSignal(int sig) {
  const unsigned char byte = static_cast<unsigned char>(sig);
  const int saved = errno;
  [[maybe_unused]] const ssize_t n = write(g_stop_pipe[1], &byte, 1);  // async-signal-safe
  errno = saved;
}

// Installs OnStopSignal for SIGINT and SIGTERM; false when it cannot.
bool CatchStopSignals() {
  if (pipe2(g_stop_pipe, O_CLOEXEC) != 0) return false;
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  return sigaction(SIGINT, &action, nullptr) == 0 && sigaction(SIGTERM, &action, nullptr) == 0;
}

// Blocks until SIGINT or SIGTERM has arrived; returns which.
int WaitForStopSignal() {
  unsigned char byte = 0;
  while (read(g_stop_pipe[0], &byte, 1) != 1) {
    if (errno != EINTR) return SIGTERM;  // the pipe broke: stop as if told to
  }
  return byte;
}

// Per-user default for the embedded cluster. Root gets a system location
// whose parents the postgres user can reach (root's home is mode 700).
std::string DefaultDataDir() {
  if (geteuid() == 0) return "/var/lib/localbench/collector";
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg != '\0') {
    return absl::StrCat(xdg, "/localbench/collector");
  }
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') {
    if (struct passwd* pw = getpwuid(geteuid()); pw != nullptr) home = pw->pw_dir;
  }
  return absl::StrCat(home != nullptr ? home : ".", "/.local/share/localbench/collector");
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// host:port with a port in [0, 65535] and a non-empty host ("[::1]:0" too).
bool ValidListen(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return false;
  const std::string port = address.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
  return std::stoi(port) <= 65535;
}

// A libpq connection string or URL that libpq itself can parse (nothing is
// connected to). The message never repeats the string: it may hold a password.
std::optional<std::string> ConninfoError(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options != nullptr) {
    PQconninfoFree(options);
    return std::nullopt;
  }
  std::string message = error != nullptr ? error : "not a libpq connection string";
  PQfreemem(error);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  return message;
}

int Fail(absl::string_view message) {
  lc::LogLine(absl::StrCat("error: ", message));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (!CatchStopSignals()) {
    std::perror("localbench-collector: cannot install signal handlers");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{"localbench-collector: stores benchmark submissions in PostgreSQL"};
  std::string listen = "127.0.0.1:7411";
  std::string db;
  std::string data_dir = DefaultDataDir();
  std::string tls_cert;
  std::string tls_key;
  int threads = 0;
  int connections = 8;
  int queue_depth = 1024;
  int group_commit_writers = 0;
  std::string http_listen;
  std::string db_read;
  std::string site_dir = LOCALBENCH_DEFAULT_SITE_DIR;
  bool check_config = false;
  app.set_config("--config", "",
                 "read options from FILE: `key = value` lines, keys are the long option names "
                 "(e.g. `db-connections = 8`); flags given on the command line win");
  app.add_flag("--check-config", check_config,
               "validate the options (and --config FILE) without connecting or serving; exit 0 when valid, "
               "2 with the reason otherwise");
  app.add_option("--listen", listen, "host:port to serve gRPC on (port 0: any free port)")
      ->envname("LOCALBENCH_LISTEN")
      ->capture_default_str();
  app.add_option("--db", db,
                 "PostgreSQL URL (libpq), e.g. postgresql://user@host/localbench; "
                 "without it, an embedded cluster runs under --data-dir")
      ->envname("LOCALBENCH_DB");
  app.add_option("--data-dir", data_dir, "embedded PostgreSQL's directory (used without --db)")
      ->envname("LOCALBENCH_DATA_DIR")
      ->capture_default_str();
  app.add_option("--tls-cert", tls_cert, "PEM certificate chain; enables TLS with --tls-key")
      ->envname("LOCALBENCH_TLS_CERT");
  app.add_option("--tls-key", tls_key, "PEM private key for --tls-cert")->envname("LOCALBENCH_TLS_KEY");
  // Kept so existing unit files still start: requests are served by
  // --db-connections workers behind a queue now, not by a thread per call.
  app.add_option("--threads", threads, "ignored (requests queue for --db-connections workers)")
      ->envname("LOCALBENCH_THREADS")
      ->check(CLI::Range(0, 256));
  app.add_option("--db-connections", connections,
                 "PostgreSQL connections, and as many workers serving requests")
      ->envname("LOCALBENCH_DB_CONNECTIONS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--queue-depth", queue_depth,
                 "requests that may wait for a worker; beyond it calls get RESOURCE_EXHAUSTED")
      ->envname("LOCALBENCH_QUEUE_DEPTH")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--group-commit-writers", group_commit_writers,
                 "transactions writing submissions at once, each carrying up to 64 queued meanwhile "
                 "(group commit); 0: the default, 1")
      ->envname("LOCALBENCH_GROUP_COMMIT_WRITERS")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  app.add_option("--http-listen", http_listen,
                 "host:port for the public read-only HTTP API (port 0: any free port); "
                 "off when empty (the default)")
      ->envname("LOCALBENCH_HTTP_LISTEN");
  app.add_option("--db-read", db_read,
                 "PostgreSQL URL the tables are read from (e.g. a streaming replica of --db); "
                 "default: --db")
      ->envname("LOCALBENCH_DB_READ");
  // Trust: rate limits on Ingest and the verification quorum of tables.
  lc::IngestLimits limits;
  lc::VerifyRule verify;
  app.add_option("--submit-rate-per-token", limits.submit_per_token.per_second,
                 "Submit calls per second per agent token (0: no limit); over it: RESOURCE_EXHAUSTED "
                 "with retry-after-ms")
      ->envname("LOCALBENCH_SUBMIT_RATE_PER_TOKEN")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--submit-burst-per-token", limits.submit_per_token.burst,
                 "Submit calls one agent token may make at once before the rate applies")
      ->envname("LOCALBENCH_SUBMIT_BURST_PER_TOKEN")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  app.add_option("--submit-rate-per-address", limits.submit_per_address.per_second,
                 "Submit calls per second per client IP address (0: no limit)")
      ->envname("LOCALBENCH_SUBMIT_RATE_PER_ADDRESS")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--submit-burst-per-address", limits.submit_per_address.burst,
                 "Submit calls one address may make at once before the rate applies")
      ->envname("LOCALBENCH_SUBMIT_BURST_PER_ADDRESS")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  app.add_option("--enroll-rate-per-address", limits.enroll_per_address.per_second,
                 "Enroll calls per second per client IP address (0: no limit)")
      ->envname("LOCALBENCH_ENROLL_RATE_PER_ADDRESS")
      ->check(CLI::Range(0.0, 1e6))
      ->capture_default_str();
  app.add_option("--enroll-burst-per-address", limits.enroll_per_address.burst,
                 "Enroll calls one address may make at once before the rate applies")
      ->envname("LOCALBENCH_ENROLL_BURST_PER_ADDRESS")
      ->check(CLI::Range(1.0, 1e6))
      ->capture_default_str();
  app.add_option("--verify-quorum", verify.quorum,
                 "distinct machines that must agree before a table cell shows \"verified\" (at least 2)")
      ->envname("LOCALBENCH_VERIFY_QUORUM")
      ->check(CLI::Range(2, 1000))
      ->capture_default_str();
  app.add_option("--verify-tolerance", verify.tolerance,
                 "how far the middle half of those machines' medians may spread (0.25: within 25%)")
      ->envname("LOCALBENCH_VERIFY_TOLERANCE")
      ->check(CLI::Range(0.001, 1.0))
      ->capture_default_str();
  app.add_option("--site-dir", site_dir,
                 "folder served under /site/ by the HTTP API (the example pages, CMake target `site`); "
                 "empty: no pages")
      ->envname("LOCALBENCH_SITE_DIR")
      ->capture_default_str();
  double verdict_threshold = lc::TableService::kDefaultVerdictThreshold;
  app.add_option("--verdict-threshold", verdict_threshold,
                 "a verdict is stale when a cited tokens/s figure moved by more than this fraction "
                 "(0.1 = 10%) since it was written or confirmed")
      ->envname("LOCALBENCH_VERDICT_THRESHOLD")
      ->check(CLI::Range(0.001, 9.999))
      ->capture_default_str();
  CLI::App* migrate = app.add_subcommand("migrate", "apply the schema migrations and exit");
  CLI::App* token = app.add_subcommand("token", "editor and admin tokens, straight in the database");
  token->require_subcommand(1);
  CLI::App* token_create = token->add_subcommand(
      "create", "issue a token (the first admin's, say); prints the secret once on stdout");
  std::string token_role;
  std::string token_name;
  token_create->add_option("--role", token_role, "editor or admin")
      ->required()
      ->check(CLI::IsMember({"editor", "admin"}));
  token_create->add_option("--name", token_name, "who holds it (recorded with their actions)")->required();
  CLI11_PARSE(app, argc, argv);

  if (check_config) {
    // Everything that can be known without a database or a port.
    std::vector<std::string> problems;
    if (!ValidListen(listen)) problems.push_back(absl::StrCat("listen: not host:port: ", listen));
    if (!http_listen.empty() && !ValidListen(http_listen)) {
      problems.push_back(absl::StrCat("http-listen: not host:port: ", http_listen));
    }
    if (!db.empty()) {
      if (auto e = ConninfoError(db)) problems.push_back(absl::StrCat("db: ", *e));
    }
    if (!db_read.empty()) {
      if (db.empty()) problems.push_back("db-read: needs db (the embedded PostgreSQL has no replica)");
      if (auto e = ConninfoError(db_read)) problems.push_back(absl::StrCat("db-read: ", *e));
    }
    if (tls_cert.empty() != tls_key.empty()) problems.push_back("tls-cert and tls-key go together");
    for (const std::string* f : {&tls_cert, &tls_key}) {
      if (!f->empty() && !ReadFile(*f)) problems.push_back(absl::StrCat("cannot read ", *f));
    }
    for (const std::string& p : problems) std::fprintf(stderr, "localbench-collector: config: %s\n", p.c_str());
    if (!problems.empty()) return 2;
    std::printf("localbench-collector: configuration valid\n");
    return 0;
  }
  if (tls_cert.empty() != tls_key.empty()) return Fail("--tls-cert and --tls-key go together");
  if (!db_read.empty() && db.empty()) return Fail("--db-read needs --db (the embedded PostgreSQL has no replica)");
  if (threads != 0) {
    lc::LogLine("--threads is ignored: requests queue (--queue-depth) for --db-connections workers");
  }

  std::unique_ptr<lc::PostgresCluster> cluster;
  std::string url = db;
  if (db.empty()) {
    lc::LogLine(absl::StrCat("no --db: starting embedded PostgreSQL in ", data_dir));
    lc::PostgresClusterOptions o;
    o.data_dir = data_dir;
    auto started = lc::PostgresCluster::Start(o);
    if (!started.ok()) {
      // `token create` beside a running collector: its cluster is locked,
      // but its socket directory is recorded and owner-only, so connect there.
      std::optional<std::string> socket_dir = ReadFile(data_dir + "/socket_dir");
      if (!token_create->parsed() || !socket_dir) return Fail(started.status().message());
      while (!socket_dir->empty() && socket_dir->back() == '\n') socket_dir->pop_back();
      url = absl::StrCat("postgresql://localbench@/localbench?host=", *socket_dir);
      lc::LogLine(absl::StrCat("data directory in use: using the running cluster at ", *socket_dir));
    } else {
      cluster = *std::move(started);
      url = cluster->url();
    }
  } else {
    lc::LogLine(absl::StrCat("database ", lc::RedactUrl(db)));
  }

  if (migrate->parsed()) {
    try {
      pqxx::connection conn(url);
      auto applied = lc::ApplyMigrations(conn);
      if (!applied.ok()) return Fail(applied.status().message());
      lc::LogLine(absl::StrCat("migrate: ", *applied, " applied, schema at version ",
                               lc::EmbeddedMigrations().back().version));
    } catch (const std::exception& e) {
      return Fail(absl::StrCat("cannot connect to PostgreSQL: ", e.what()));
    }
    return 0;  // the cluster (if any) stops as it goes out of scope
  }

  if (token_create->parsed()) {
    try {
      pqxx::connection conn(url);
      auto applied = lc::ApplyMigrations(conn);
      if (!applied.ok()) return Fail(applied.status().message());
      auto created = lc::CreateApiToken(conn, token_role == "admin" ? localbench::v1::ROLE_ADMIN
                                                                    : localbench::v1::ROLE_EDITOR,
                                        token_name);
      if (!created.ok()) return Fail(created.status().message());
      // The secret alone on stdout (TOKEN=$(... token create ...)); the rest
      // on stderr. It is never logged and cannot be shown again.
      std::fprintf(stderr, "localbench-collector: %s token %s for '%s' (shown once; store it now):\n",
                   token_role.c_str(), created->token_id().c_str(), token_name.c_str());
      std::printf("%s\n", created->token().c_str());
      std::fflush(stdout);
    } catch (const std::exception& e) {
      return Fail(absl::StrCat("cannot connect to PostgreSQL: ", e.what()));
    }
    return 0;  // the cluster (if any) stops as it goes out of scope
  }

  lc::CollectorOptions options;
  options.verdict_threshold = verdict_threshold;
  options.listen = listen;
  options.db_url = url;
  options.db_read_url = db_read;
  options.db_connections = connections;
  options.queue_depth = queue_depth;
  options.group_commit_writers = group_commit_writers;
  options.http_listen = http_listen;
  options.ingest_limits = limits;
  options.verify = verify;
  if (!http_listen.empty() && !site_dir.empty()) {
    std::error_code ec;
    if (std::filesystem::is_directory(site_dir, ec)) {
      options.http_site_dir = site_dir;
    } else {
      lc::LogLine(absl::StrCat("no site pages at ", site_dir, " (build the CMake target `site`, or --site-dir)"));
    }
  }
  if (!tls_cert.empty()) {
    auto cert = ReadFile(tls_cert);
    auto key = ReadFile(tls_key);
    if (!cert || !key) return Fail("cannot read --tls-cert or --tls-key");
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    options.credentials = grpc::SslServerCredentials(ssl);
  }
  auto server = lc::CollectorServer::Start(options);
  if (!server.ok()) return Fail(server.status().message());

  // The one line scripts and tests parse for the bound address.
  std::printf("localbench-collector: listening on %s (%s)\n", (*server)->address().c_str(),
              tls_cert.empty() ? "plaintext" : "tls");
  if (!(*server)->http_address().empty()) {
    std::printf("localbench-collector: http listening on %s\n", (*server)->http_address().c_str());
    if (!options.http_site_dir.empty()) {
      std::printf("localbench-collector: site pages at http://%s/site/\n", (*server)->http_address().c_str());
    }
  }
  std::fflush(stdout);
  if (tls_cert.empty()) {
    lc::LogLine("serving plaintext gRPC: use TLS (--tls-cert/--tls-key) beyond loopback");
  }

  const int sig = WaitForStopSignal();
  lc::LogLine(absl::StrCat("received ", sig == SIGINT ? "SIGINT" : "SIGTERM",
                           ": finishing in-flight requests"));
  (*server)->Shutdown(std::chrono::seconds(10));
  server->reset();
  if (cluster) {
    if (absl::Status st = cluster->Stop(); !st.ok()) return Fail(st.message());
    lc::LogLine("embedded PostgreSQL stopped");
  }
  lc::LogLine("stopped");
  return 0;
}
