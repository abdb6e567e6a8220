// Load test (docs/RELIABILITY.md): many simulated agents against one real
// localbench-collector on this machine for a fixed time, while HTTP clients
// request tables. One process simulates the agents: each has its own gRPC
// channel (its own TCP connection), its own enrolment and machine, and
// submits finished results back to back (no think time: the worst case of a
// busy weekend), honouring rate-limit hints. Reported: Submit throughput and
// p50/p99, table request p50/p99, the collector's RSS and thread count every
// second, errors by code (only deliberate rate limiting is allowed), and
// from the database afterwards: acknowledged submissions lost and rows stored
// twice (both must be zero). Exit 0 only when that holds.
//
// Run through scripts/bench-load.sh; ctest runs a short smoke (label load).
#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <pqxx/pqxx>

#include "localbench/collector/postgres_cluster.h"
#include "localbench/test_support/submission_builder.h"
#include "localbench/v1/ingest.grpc.pb.h"

extern char** environ;

namespace lc = localbench::collector;
namespace ts = localbench::test_support;
namespace v1 = localbench::v1;
using Clock = std::chrono::steady_clock;

namespace {

struct Config {
  int agents = 200;
  int seconds = 30;
  int http_clients = 8;
  int think_ms = 0;
  bool durable = true;
  std::string collector_log = "load-collector.log";
};

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

// The collector binary: stdout on a pipe (for its addresses), stderr (one
// line per request) into a log file.
class Collector {
 public:
  Collector(const std::vector<std::string>& args, const std::string& log) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
  }
  ~Collector() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
    if (out_ != nullptr) fclose(out_);
  }
  // The next line matching `re` on stdout (its first group), or nullopt.
  std::optional<std::string> Await(const std::regex& re) {
    char line[512];
    while (out_ != nullptr && std::fgets(line, sizeof line, out_) != nullptr) {
      std::cmatch m;
      std::string s(line);
      while (!s.empty() && s.back() == '\n') s.pop_back();
      if (std::regex_match(s.c_str(), m, re)) return m[1].str();
    }
    return std::nullopt;
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
};

// VmRSS (MiB) and Threads of a process, from /proc/PID/status.
std::pair<double, int> RssAndThreads(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  double rss_kib = 0;
  int threads = 0;
  while (in >> key) {
    if (key == "VmRSS:") in >> rss_kib;
    else if (key == "Threads:") in >> threads;
    std::string rest;
    std::getline(in, rest);
  }
  return {rss_kib / 1024, threads};
}

// What every agent thread and HTTP thread adds up.
struct Totals {
  std::mutex mu;
  std::vector<double> submit_ms;
  std::vector<double> table_ms;
  std::map<std::string, std::vector<double>> table_ms_by_path;
  std::set<std::string> acked;
  std::map<std::string, long> errors;  // "grpc CODE" / "http STATUS" -> count
  long rate_limited = 0;
  std::string first_error;
  void Error(const std::string& kind, const std::string& detail) {
    std::lock_guard<std::mutex> lock(mu);
    ++errors[kind];
    if (first_error.empty()) first_error = kind + ": " + detail;
  }
};

const char* kTablePaths[] = {
    "/v1/devices",
    "/v1/devices?measured_only=true",
    "/v1/tables/oom",
    "/v1/tables/oom?model_preset=llama-3.2-1b&kind=decode",
    "/v1/will-it-run?device_model=rtx-4090-24gb&model_preset=llama-3.2-1b&kind=decode&batch_size=4",
    "/v1/largest-model?device_model=rtx-4090-24gb&kind=decode&batch_size=1",
};

int Run(const Config& c) {
  auto cluster = lc::PostgresCluster::StartThrowaway(c.durable);
  if (!cluster.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n", std::string(cluster.status().message()).c_str());
    return 1;
  }
  const std::string url = (*cluster)->url();
  Collector collector({LOCALBENCH_COLLECTOR_BINARY, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                       "--db", url},
                      c.collector_log);
  const auto grpc_address = collector.Await(std::regex(R"(^localbench-collector: listening on (\S+) .*$)"));
  const auto http_address = collector.Await(std::regex(R"(^localbench-collector: http listening on (\S+)$)"));
  if (!grpc_address || !http_address) {
    std::fprintf(stderr, "the collector did not start (log: %s)\n", c.collector_log.c_str());
    return 1;
  }
  const int http_port = std::stoi(http_address->substr(http_address->rfind(':') + 1));

  // Enrol every agent for a machine of its own.
  std::vector<std::string> tokens(static_cast<std::size_t>(c.agents));
  {
    auto stub = v1::Ingest::NewStub(grpc::CreateChannel(*grpc_address, grpc::InsecureChannelCredentials()));
    for (int a = 0; a < c.agents; ++a) {
      v1::EnrollRequest req;
      req.set_machine_fingerprint(ts::FingerprintFor(static_cast<uint64_t>(a) + 1));
      req.set_agent_version("v0.1.0-load");
      v1::EnrollResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      if (grpc::Status st = stub->Enroll(&ctx, req, &resp); !st.ok()) {
        std::fprintf(stderr, "enrol agent %d: %s\n", a, st.error_message().c_str());
        return 1;
      }
      tokens[static_cast<std::size_t>(a)] = resp.agent_token();
    }
  }
  std::printf("load: %d agents (one gRPC channel each) and %d HTTP table clients for %d s against one collector "
              "(pid %d); PostgreSQL %s; %u hardware threads shared by all\n",
              c.agents, c.http_clients, c.seconds, collector.pid(), c.durable ? "durable (fsync on)" : "fsync off",
              std::thread::hardware_concurrency());

  Totals totals;
  std::atomic<long> acked_count{0};
  // The clock starts when every agent is connected: the barrier's
  // completion sets it before any thread is released.
  Clock::time_point t0;
  Clock::time_point end;
  std::barrier start(c.agents + c.http_clients + 1, [&]() noexcept {
    t0 = Clock::now();
    end = t0 + std::chrono::seconds(c.seconds);
  });
  std::vector<std::thread> threads;
  for (int a = 0; a < c.agents; ++a) {
    threads.emplace_back([&, a] {
      grpc::ChannelArguments args;
      args.SetInt("localbench.load_agent", a);  // one connection per agent
      auto channel = grpc::CreateCustomChannel(*grpc_address, grpc::InsecureChannelCredentials(), args);
      channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(60));
      auto stub = v1::Ingest::NewStub(channel);
      std::vector<double> latencies;
      std::vector<std::string> acked;
      start.arrive_and_wait();
      for (uint64_t n = 0; Clock::now() < end; ++n) {
        v1::SubmitRequest req;
        *req.mutable_submission() = ts::MakeSubmission(static_cast<uint64_t>(a + 1) * 1000000 + n, 2, 8);
        req.mutable_submission()->set_machine_fingerprint(ts::FingerprintFor(static_cast<uint64_t>(a) + 1));
        for (;;) {  // the same submission again after a rate-limit hint
          v1::SubmitResponse resp;
          grpc::ClientContext ctx;
          ctx.AddMetadata("authorization", "Bearer " + tokens[static_cast<std::size_t>(a)]);
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
          const auto sent = Clock::now();
          const grpc::Status st = stub->Submit(&ctx, req, &resp);
          const double ms = Ms(Clock::now() - sent);
          if (st.ok()) {
            latencies.push_back(ms);
            acked.push_back(req.submission().submission_id());
            ++acked_count;
            break;
          }
          const auto& trailers = ctx.GetServerTrailingMetadata();
          const auto hint = trailers.find("retry-after-ms");
          if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED && hint != trailers.end()) {
            {
              std::lock_guard<std::mutex> lock(totals.mu);
              ++totals.rate_limited;
            }
            std::this_thread::sleep_for(
                std::chrono::milliseconds(std::atol(std::string(hint->second.data(), hint->second.size()).c_str())));
            if (Clock::now() >= end) break;
            continue;
          }
          totals.Error("grpc " + std::to_string(st.error_code()), st.error_message());
          break;
        }
        if (c.think_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(c.think_ms));
      }
      std::lock_guard<std::mutex> lock(totals.mu);
      totals.submit_ms.insert(totals.submit_ms.end(), latencies.begin(), latencies.end());
      totals.acked.insert(acked.begin(), acked.end());
    });
  }
  for (int h = 0; h < c.http_clients; ++h) {
    threads.emplace_back([&, h] {
      httplib::Client client("127.0.0.1", http_port);
      client.set_keep_alive(true);
      client.set_read_timeout(60, 0);
      std::vector<double> latencies;
      std::map<std::string, std::vector<double>> by_path;
      start.arrive_and_wait();
      for (std::size_t i = static_cast<std::size_t>(h); Clock::now() < end; ++i) {
        const char* path = kTablePaths[i % std::size(kTablePaths)];
        const auto sent = Clock::now();
        auto r = client.Get(path);
        const double ms = Ms(Clock::now() - sent);
        if (r && r->status == 200) {
          latencies.push_back(ms);
          by_path[path].push_back(ms);
        } else {
          totals.Error(r ? "http " + std::to_string(r->status) : std::string("http no answer"),
                       std::string(path) + (r ? " " + r->body : ""));
        }
      }
      std::lock_guard<std::mutex> lock(totals.mu);
      totals.table_ms.insert(totals.table_ms.end(), latencies.begin(), latencies.end());
      for (const auto& [path, v] : by_path) {
        auto& all = totals.table_ms_by_path[path];
        all.insert(all.end(), v.begin(), v.end());
      }
    });
  }

  // One sample a second.
  start.arrive_and_wait();
  std::printf("%6s %10s %10s %8s\n", "t (s)", "acked/s", "RSS MiB", "threads");
  double peak_rss = 0;
  int peak_threads = 0;
  long last = 0;
  for (int s = 1; s <= c.seconds; ++s) {
    std::this_thread::sleep_until(t0 + std::chrono::seconds(s));
    const auto [rss, nthreads] = RssAndThreads(collector.pid());
    const long now = acked_count.load();
    std::printf("%6d %10ld %10.1f %8d\n", s, now - last, rss, nthreads);
    last = now;
    peak_rss = std::max(peak_rss, rss);
    peak_threads = std::max(peak_threads, nthreads);
  }
  for (auto& t : threads) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();

  // The database's word on what was stored.
  long stored = 0, distinct = 0, points = 0, lost = 0;
  {
    pqxx::connection conn(url);
    pqxx::read_transaction tx(conn);
    std::set<std::string> ids;
    for (const auto& row : tx.exec("SELECT submission_id::text FROM submissions")) {
      ids.insert(row[0].as<std::string>());
      ++stored;
    }
    distinct = static_cast<long>(ids.size());
    points = tx.exec("SELECT count(*) FROM points")[0][0].as<long>();
    for (const auto& id : totals.acked) lost += ids.count(id) == 0 ? 1 : 0;
  }
  long errors = 0;
  for (const auto& [kind, n] : totals.errors) errors += n;
  const long acked = static_cast<long>(totals.acked.size());
  std::printf("submit: %ld acknowledged within the %d s window (%.1f/s); ", last, c.seconds,
              static_cast<double>(last) / c.seconds);
  std::printf("%ld acknowledged in %.1f s until every call in flight ended = %.1f/s; p50 %.1f ms, p99 %.1f ms, max %.1f ms; "
              "rate-limited (RESOURCE_EXHAUSTED with a hint, retried) %ld\n",
              acked, wall, static_cast<double>(acked) / wall, Percentile(totals.submit_ms, 0.5),
              Percentile(totals.submit_ms, 0.99), Percentile(totals.submit_ms, 1.0), totals.rate_limited);
  std::printf("tables: %zu requests = %.1f/s; p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", totals.table_ms.size(),
              static_cast<double>(totals.table_ms.size()) / wall, Percentile(totals.table_ms, 0.5),
              Percentile(totals.table_ms, 0.99), Percentile(totals.table_ms, 1.0));
  for (const auto& [path, v] : totals.table_ms_by_path) {
    std::printf("  %-95s %6zu req  p50 %8.1f ms  p99 %8.1f ms\n", path.c_str(), v.size(), Percentile(v, 0.5),
                Percentile(v, 0.99));
  }
  std::printf("collector: peak RSS %.1f MiB, peak threads %d\n", peak_rss, peak_threads);
  std::printf("errors: %ld", errors);
  for (const auto& [kind, n] : totals.errors) std::printf(" [%s: %ld]", kind.c_str(), n);
  std::printf("%s%s\n", totals.first_error.empty() ? "" : "; first: ", totals.first_error.c_str());
  const long duplicated = (stored - distinct) + (points - stored * 16);
  std::printf("database: %ld submissions stored (%ld acknowledged); acknowledged but lost %ld; stored twice %ld\n",
              stored, acked, lost, duplicated);
  return lost == 0 && duplicated == 0 && errors == 0 && acked > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const std::string value = i + 1 < argc ? argv[i + 1] : "";
    if (flag == "--no-fsync") {
      c.durable = false;
      continue;
    }
    ++i;
    if (flag == "--agents") c.agents = std::atoi(value.c_str());
    else if (flag == "--seconds") c.seconds = std::atoi(value.c_str());
    else if (flag == "--http-clients") c.http_clients = std::atoi(value.c_str());
    else if (flag == "--think-ms") c.think_ms = std::atoi(value.c_str());
    else if (flag == "--collector-log") c.collector_log = value;
    else {
      std::fprintf(stderr,
                   "usage: %s [--agents N] [--seconds N] [--http-clients N] [--think-ms N] [--no-fsync] "
                   "[--collector-log FILE]\n",
                   argv[0]);
      return 2;
    }
  }
  if (c.agents < 1 || c.seconds < 1 || c.http_clients < 0 || c.think_ms < 0) {
    std::fprintf(stderr, "load: --agents and --seconds must be >= 1\n");
    return 2;
  }
  return Run(c);
}
