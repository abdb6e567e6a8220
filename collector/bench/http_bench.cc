// Tables over HTTP, the benchmark. The server process starts a
// throwaway PostgreSQL, fills it with ~1,000,000 generated points
// (collector/bench/tables_data.sql, as the tables benchmark) and runs the real
// collector (gRPC ingest + HTTP API served from its TableService). The load
// comes from a separate process (this binary re-executed with --client), so
// client CPU is not counted against the server:
//   cold-serial  one request at a time, each the first after a new data
//                version (a gRPC Submit in between): the table engine's cost;
//   cold-burst   a new version, then all clients at once, each a different
//                table: what a new version costs under load;
//   warm         every client loops over the mix at one version (cache hits);
//   raw-sql      the OOM-table / point-cell aggregates run directly as SQL
//                from as many threads: the "raw SQL rate";
//   ingest       gRPC Submit from a few agents alone, then while the HTTP
//                clients read, then alone again.
// Run: scripts/bench-http.sh. Figures: docs/BENCHMARKS.md, ## Tables over HTTP.
#include <httplib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "localbench/collector/migrations.h"
#include "localbench/collector/postgres_cluster.h"
#include "localbench/collector/server.h"
#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/submission_builder.h"

namespace lc = localbench::collector;
namespace ts = localbench::test_support;
namespace v1 = localbench::v1;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  int submissions = 5953;  // generator: x 24 sweeps x 7 batches = 1,000,104 points
  int clients = 16;        // HTTP clients (and raw-SQL threads)
  int seconds = 30;        // per timed phase
  int cold_rounds = 5;     // per route kind (serial) and bursts
  int ingest_clients = 4;  // gRPC agents in the ingest phases
  // --client only: where the server is.
  int http_port = 0;
  std::string grpc_address;
  std::string db_url;
};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const char* kPresets[] = {"qwen2.5-0.5b", "llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b", "qwen2.5-7b",
                          "mistral-7b-v0.3"};
const char* kKinds[] = {"prefill", "decode", "train_lora", "train_full"};
const char* kModels[] = {"rtx-4090-24gb", "h100-sxm-80gb", "a100-sxm4-80gb", "mi300x-192gb", "l40s-48gb",
                         "rtx-3090-24gb"};

// One request of the mix: the route kind (for per-route figures) and a path.
struct Target {
  std::string kind;
  std::string path;
};

// Request i of the mix; kinds cycle so every route is in every 8 requests.
Target MixTarget(int i) {
  const std::string p = kPresets[i % 6];
  const std::string k = kKinds[(i / 6) % 4];
  const std::string m = kModels[i % 6];
  const std::string w = absl::StrCat("model_preset=", p, "&kind=", k);
  switch (i % 8) {
    case 0: return {"oom (preset,kind)", absl::StrCat("/v1/tables/oom?", w)};
    case 1: return {"oom (unfiltered)", "/v1/tables/oom"};
    case 2: return {"curve", absl::StrCat("/v1/tables/curve?device_model=", m, "&", w)};
    case 3:
      return {"compare", absl::StrCat("/v1/tables/compare?device_models=", m,
                                      "&device_models=", kModels[(i + 1) % 6], "&", w)};
    case 4: return {"stack", absl::StrCat("/v1/tables/stack?device_model=", m, "&", w)};
    case 5: return {"will-it-run", absl::StrCat("/v1/will-it-run?device_model=", m, "&", w, "&batch_size=4")};
    case 6: return {"devices (measured)", "/v1/devices?measured_only=true"};
    default: return {"devices", "/v1/devices"};
  }
}

// Latencies of one phase, per route kind and in all.
struct Sample {
  std::map<std::string, std::vector<double>> by_kind;
  std::vector<double> all;
  long errors = 0;
  void Add(const std::string& kind, double ms) {
    by_kind[kind].push_back(ms);
    all.push_back(ms);
  }
  void Merge(const Sample& o) {
    for (const auto& [k, v] : o.by_kind) by_kind[k].insert(by_kind[k].end(), v.begin(), v.end());
    all.insert(all.end(), o.all.begin(), o.all.end());
    errors += o.errors;
  }
};

void Print(const std::string& phase, const Sample& s, double seconds, bool per_kind) {
  std::printf("%-22s %8zu req %9.1f req/s  p50 %8.2f ms  p99 %8.2f ms  errors %ld\n", phase.c_str(), s.all.size(),
              seconds > 0 ? static_cast<double>(s.all.size()) / seconds : 0.0, Percentile(s.all, 0.5),
              Percentile(s.all, 0.99), s.errors);
  if (!per_kind) return;
  for (const auto& [k, v] : s.by_kind) {
    std::printf("  %-20s %8zu req                  p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms\n", k.c_str(), v.size(),
                Percentile(v, 0.5), Percentile(v, 0.99), Percentile(v, 1.0));
  }
}

// GET `t` on `client`; records its latency (200 expected).
void Get(httplib::Client& client, const Target& t, Sample& s) {
  const auto start = Clock::now();
  auto r = client.Get(t.path.c_str());
  const double ms = Ms(Clock::now() - start);
  if (!r || r->status != 200) {
    if (s.errors++ == 0) {
      std::fprintf(stderr, "GET %s: %s\n", t.path.c_str(), r ? r->body.c_str() : "no answer");
    }
    return;
  }
  s.Add(t.kind, ms);
}

// One keep-alive connection per HTTP client, opened (one /healthz each, in
// turn) before any timed phase: the server's small listen backlog would
// otherwise add SYN retries (~1 s) to the first requests, which is
// connection setup, not table serving.
using Clients = std::vector<std::unique_ptr<httplib::Client>>;
Clients Connect(const Config& c) {
  Clients clients;
  for (int t = 0; t < c.clients; ++t) {
    clients.push_back(std::make_unique<httplib::Client>("127.0.0.1", c.http_port));
    clients.back()->set_keep_alive(true);
    clients.back()->set_read_timeout(120, 0);
    auto r = clients.back()->Get("/healthz");
    if (!r || r->status != 200) std::fprintf(stderr, "/healthz: no answer on connection %d\n", t);
  }
  return clients;
}

// HTTP clients looping over the mix until `stop`; client c starts at mix entry c.
Sample HttpLoad(const Config& c, Clients& clients, const std::atomic<bool>& stop) {
  std::vector<Sample> per(static_cast<std::size_t>(c.clients));
  std::vector<std::thread> threads;
  for (int t = 0; t < c.clients; ++t) {
    threads.emplace_back([&, t] {
      httplib::Client& client = *clients[static_cast<std::size_t>(t)];
      for (int i = t; !stop.load(); ++i) Get(client, MixTarget(i % c.clients), per[static_cast<std::size_t>(t)]);
    });
  }
  for (auto& th : threads) th.join();
  Sample all;
  for (const auto& s : per) all.Merge(s);
  return all;
}

// Lets a timed phase run for `seconds`, then raises `stop`.
void RunFor(int seconds, std::atomic<bool>& stop) {
  std::this_thread::sleep_for(std::chrono::seconds(seconds));  // the timed window itself, not synchronisation
  stop.store(true);
}

// gRPC agents submitting one-sweep submissions (12 points) back to back.
class Ingest {
 public:
  explicit Ingest(const Config& c) : c_(c) {
    for (int t = 0; t < c.ingest_clients; ++t) {
      stubs_.push_back(v1::Ingest::NewStub(grpc::CreateChannel(c.grpc_address, grpc::InsecureChannelCredentials())));
      v1::EnrollRequest enroll;
      enroll.set_machine_fingerprint(ts::FingerprintFor(1000000 + static_cast<uint64_t>(t)));
      enroll.set_agent_version("v0.1.0-bench");
      v1::EnrollResponse agent;
      grpc::ClientContext ctx;
      if (grpc::Status st = stubs_.back()->Enroll(&ctx, enroll, &agent); !st.ok()) {
        std::fprintf(stderr, "enroll failed: %s\n", st.error_message().c_str());
        std::abort();
      }
      tokens_.push_back(agent.agent_token());
    }
  }

  // One submission from agent t; false on failure. A new data version.
  bool SubmitOne(int t) {
    v1::SubmitRequest req;
    *req.mutable_submission() = ts::MakeSubmission(next_seed_.fetch_add(1), 1, kPoints);
    req.mutable_submission()->set_machine_fingerprint(ts::FingerprintFor(1000000 + static_cast<uint64_t>(t)));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    ts::SetBearer(ctx, tokens_[static_cast<std::size_t>(t)]);
    v1::SubmitResponse resp;
    grpc::Status st = stubs_[static_cast<std::size_t>(t)]->Submit(&ctx, req, &resp);
    if (!st.ok()) std::fprintf(stderr, "submit failed: %s\n", st.error_message().c_str());
    return st.ok();
  }

  // Submits from every agent until `stop`; returns stored points per second.
  double Run(std::atomic<bool>& stop) {
    std::atomic<long> stored{0};
    std::vector<std::thread> threads;
    const auto start = Clock::now();
    for (int t = 0; t < c_.ingest_clients; ++t) {
      threads.emplace_back([&, t] {
        while (!stop.load()) {
          if (SubmitOne(t)) stored.fetch_add(kPoints);
        }
      });
    }
    for (auto& th : threads) th.join();
    return static_cast<double>(stored.load()) / std::chrono::duration<double>(Clock::now() - start).count();
  }

  static constexpr int kPoints = 12;

 private:
  const Config& c_;
  std::vector<std::unique_ptr<v1::Ingest::Stub>> stubs_;
  std::vector<std::string> tokens_;
  std::atomic<uint64_t> next_seed_{7000000};
};

// The OOM-table and point-cell aggregates as SQL text, from as many threads
// as HTTP clients, for c.seconds; returns requests per second.
double RawSql(const Config& c) {
  const std::string dir = LOCALBENCH_TABLE_QUERIES_DIR;
  const std::string prefix = ReadFile(dir + "/filtered_sweeps.sql");
  const std::string oom_sql = prefix + ReadFile(dir + "/oom_cells.sql");
  const std::string point_sql = prefix + ReadFile(dir + "/point_cells.sql");
  pqxx::connection admin(c.db_url);
  const int64_t version =
      pqxx::nontransaction(admin).exec("SELECT version FROM data_version_counter")[0][0].as<int64_t>();
  std::vector<std::unique_ptr<pqxx::connection>> conns;
  for (int t = 0; t < c.clients; ++t) {
    conns.push_back(std::make_unique<pqxx::connection>(c.db_url));
    conns.back()->prepare("oom", oom_sql);
    conns.back()->prepare("point", point_sql);
  }
  std::atomic<bool> stop{false};
  std::vector<Sample> per(static_cast<std::size_t>(c.clients));
  std::vector<std::thread> threads;
  for (int t = 0; t < c.clients; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; !stop.load(); i += c.clients) {
        const auto start = Clock::now();
        pqxx::read_transaction tx(*conns[static_cast<std::size_t>(t)]);
        tx.exec("SET LOCAL plan_cache_mode = force_custom_plan");
        const std::string preset = kPresets[i % 6];
        const std::string kind = kKinds[(i / 6) % 4];
        const std::string slug = i % 2 ? kModels[i % 6] : "";
        tx.exec_prepared(i % 2 ? "point" : "oom", version, "", slug, 0, 0, preset, kind, "", 0, "", "", "", 0, 0, 0,
                         0, 0);
        per[static_cast<std::size_t>(t)].Add(i % 2 ? "point cells (model)" : "oom cells (preset,kind)",
                                             Ms(Clock::now() - start));
      }
    });
  }
  RunFor(c.seconds, stop);
  for (auto& th : threads) th.join();
  Sample all;
  for (const auto& s : per) all.Merge(s);
  Print("raw-sql", all, c.seconds, true);
  return static_cast<double>(all.all.size()) / c.seconds;
}

// The load generator (--client): every phase, figures on stdout.
int RunClient(const Config& c) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Ingest ingest(c);
  Clients clients = Connect(c);
  httplib::Client& probe = *clients[0];

  // Cold, serial: each route kind alone, right after a new version.
  Sample serial;
  for (int r = 0; r < c.cold_rounds; ++r) {
    for (int i = 0; i < 8; ++i) {
      if (!ingest.SubmitOne(0)) return 1;
      Get(probe, MixTarget(r * 8 + i), serial);
    }
  }
  Print("cold-serial", serial, 0, true);

  // Cold, burst: a new version, then every client its own table at once.
  Sample burst;
  for (int r = 0; r < c.cold_rounds; ++r) {
    if (!ingest.SubmitOne(0)) return 1;
    std::vector<Sample> per(static_cast<std::size_t>(c.clients));
    std::barrier go(c.clients);
    std::vector<std::thread> threads;
    for (int t = 0; t < c.clients; ++t) {
      threads.emplace_back([&, t] {
        go.arrive_and_wait();
        Get(*clients[static_cast<std::size_t>(t)], MixTarget(t), per[static_cast<std::size_t>(t)]);
      });
    }
    for (auto& th : threads) th.join();
    for (const auto& s : per) burst.Merge(s);
  }
  Print("cold-burst", burst, 0, true);

  // Warm: the last burst computed every table of the mix at this version.
  std::atomic<bool> stop{false};
  std::thread timer([&] { RunFor(c.seconds, stop); });
  Sample warm = HttpLoad(c, clients, stop);
  timer.join();
  Print("warm", warm, c.seconds, true);

  const double raw = RawSql(c);
  const double warm_rate = static_cast<double>(warm.all.size()) / c.seconds;
  std::printf("warm HTTP / raw SQL throughput: %.1fx (%.1f / %.1f req/s)\n", raw > 0 ? warm_rate / raw : 0.0,
              warm_rate, raw);

  // Ingest alone, with the HTTP clients reading, alone again.
  std::vector<double> alone;
  for (int round = 0; round < 3; ++round) {
    std::atomic<bool> done{false};
    std::thread t([&] { RunFor(c.seconds, done); });
    if (round == 1) {
      Sample reads;
      std::thread readers([&] { reads = HttpLoad(c, clients, done); });
      const double with = ingest.Run(done);
      readers.join();
      t.join();
      std::printf("ingest with %d HTTP clients: %8.0f points/s (readers: ", c.clients, with);
      std::printf("%.1f req/s, p50 %.2f ms, p99 %.2f ms, errors %ld)\n",
                  static_cast<double>(reads.all.size()) / c.seconds, Percentile(reads.all, 0.5),
                  Percentile(reads.all, 0.99), reads.errors);
      alone.push_back(-with);  // marked: the middle round
      continue;
    }
    const double rate = ingest.Run(done);
    t.join();
    std::printf("ingest alone:              %8.0f points/s (%d gRPC agents)\n", rate, c.ingest_clients);
    alone.push_back(rate);
  }
  const double base = (alone[0] + alone[2]) / 2;
  std::printf("ingest while reading / alone: %.2f (slowdown %.0f%%)\n", -alone[1] / base,
              100.0 * (1.0 + alone[1] / base));
  return (serial.errors + burst.errors + warm.errors) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured
  Config c;
  bool client = false;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--client") {
      client = true;
      continue;
    }
    if (i + 1 >= argc) flag.clear();
    const std::string value = i + 1 < argc ? argv[++i] : "";
    if (flag == "--submissions") c.submissions = std::atoi(value.c_str());
    else if (flag == "--clients") c.clients = std::atoi(value.c_str());
    else if (flag == "--seconds") c.seconds = std::atoi(value.c_str());
    else if (flag == "--cold-rounds") c.cold_rounds = std::atoi(value.c_str());
    else if (flag == "--ingest-clients") c.ingest_clients = std::atoi(value.c_str());
    else if (flag == "--http-port") c.http_port = std::atoi(value.c_str());
    else if (flag == "--grpc") c.grpc_address = value;
    else if (flag == "--db-url") c.db_url = value;
    else {
      std::fprintf(stderr,
                   "usage: %s [--submissions N] [--clients N] [--seconds N] [--cold-rounds N] [--ingest-clients N]\n",
                   argv[0]);
      return 2;
    }
  }
  if (c.clients < 1 || c.seconds < 1 || c.cold_rounds < 1 || c.ingest_clients < 1 || c.submissions < 1) {
    std::fprintf(stderr, "every count must be >= 1\n");
    return 2;
  }
  if (client) return RunClient(c);

  auto cluster = lc::PostgresCluster::StartThrowaway(false, {"shared_buffers = 512MB", "work_mem = 64MB"});
  if (!cluster.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n", std::string(cluster.status().message()).c_str());
    return 1;
  }
  const std::string url = (*cluster)->url();
  {
    pqxx::connection conn(url);
    if (auto applied = lc::ApplyMigrations(conn); !applied.ok()) {
      std::fprintf(stderr, "migrations: %s\n", std::string(applied.status().message()).c_str());
      return 1;
    }
    const auto start = Clock::now();
    pqxx::nontransaction tx(conn);
    tx.exec_params("SELECT set_config('lb.submissions', $1, false)", std::to_string(c.submissions));
    tx.exec(ReadFile(LOCALBENCH_TABLES_DATA_SQL));
    std::printf("generated %lld points in %.1f s\n",
                static_cast<long long>(tx.exec("SELECT count(*) FROM points")[0][0].as<int64_t>()),
                Ms(Clock::now() - start) / 1000);
  }
  lc::CollectorOptions options;
  options.listen = "127.0.0.1:0";
  options.db_url = url;
  options.http_listen = "127.0.0.1:0";
  options.http_threads = c.clients;
  auto server = lc::CollectorServer::Start(std::move(options));
  if (!server.ok()) {
    std::fprintf(stderr, "collector: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  const std::string http = (*server)->http_address();
  std::printf("machine: %u hardware threads, shared with PostgreSQL; %d HTTP clients in a separate process, "
              "%d s per timed phase, %d cold rounds\n",
              std::thread::hardware_concurrency(), c.clients, c.seconds, c.cold_rounds);
  // Only numbers, our loopback addresses and the throwaway cluster's URL
  // (a socket path and no password) reach the shell.
  const std::string cmd = absl::StrCat("/proc/", getpid(), "/exe --client --http-port ",
                                       http.substr(http.rfind(':') + 1), " --grpc ", (*server)->address(),
                                       " --db-url '", url, "' --clients ", c.clients, " --seconds ", c.seconds,
                                       " --cold-rounds ", c.cold_rounds, " --ingest-clients ", c.ingest_clients);
  FILE* child = popen(cmd.c_str(), "r");
  if (child == nullptr) return 1;
  char line[1024];
  while (std::fgets(line, sizeof line, child) != nullptr) std::fputs(line, stdout);
  return pclose(child) == 0 ? 0 : 1;
}
