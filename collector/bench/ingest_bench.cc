// Ingest benchmark. Several concurrent gRPC clients submit realistic
// submissions (12 points each by default) to an in-process collector backed
// by a throwaway PostgreSQL cluster; we report stored measurement rows (points)
// per second. In the same run, the same number of rows goes into the same
// tables by a raw COPY (libpqxx stream_to) in one transaction: the ceiling
// for bulk loading. The ratio of the two is the figure of merit
// (docs/BENCHMARKS.md, ## Ingest). A third figure, the store called directly
// from threads without gRPC, splits the gap between RPC and database costs.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "localbench/collector/postgres_cluster.h"
#include "localbench/collector/server.h"
#include "localbench/collector/store.h"
#include "localbench/common/crypto.h"
#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/submission_builder.h"

namespace lc = localbench::collector;
namespace ts = localbench::test_support;
namespace v1 = localbench::v1;

namespace {

struct Config {
  int clients = 8;
  int submissions = 2000;  // per phase, over all clients
  int points = 12;         // per submission (one sweep)
  bool durable = true;     // fsync + synchronous_commit, as in production
  int rounds = 3;          // each round runs every phase once; medians reported
  int writers = 2;         // writers of the second, group-commit collector
  int commit_delay_us = 0; // PostgreSQL commit_delay (its own group commit)
};

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Submission `i` of a phase: one sweep of `points` points; each client
// reports from its own machine.
v1::Submission Build(const Config& c, uint64_t phase, int i) {
  v1::Submission s = ts::MakeSubmission(phase * 1000000 + static_cast<uint64_t>(i), 1, c.points);
  s.set_machine_fingerprint(ts::FingerprintFor(static_cast<uint64_t>(i % c.clients)));
  return s;
}

std::string MachineDescription() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::string model = "unknown CPU";
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  return absl::StrCat(model, ", ", std::thread::hardware_concurrency(), " hardware threads");
}

// Runs `work(i)` for i in [0, total) on `clients` threads released together;
// returns the wall time.
template <typename Work>
double RunConcurrently(int clients, int total, Work work) {
  std::atomic<int> next{0};
  std::barrier start(clients + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = next.fetch_add(1); i < total; i = next.fetch_add(1)) work(t, i);
    });
  }
  start.arrive_and_wait();
  const auto begin = Clock::now();
  for (auto& th : threads) th.join();
  return Seconds(begin, Clock::now());
}

// Phase 1: gRPC Submit from `clients` concurrent clients.
double IngestOverGrpc(const Config& c, ts::InProcessCollector& collector, const std::string& token,
                      uint64_t phase) {
  std::vector<v1::SubmitRequest> requests(static_cast<std::size_t>(c.submissions));
  for (int i = 0; i < c.submissions; ++i) *requests[static_cast<std::size_t>(i)].mutable_submission() = Build(c, phase, i);
  std::vector<std::unique_ptr<v1::Ingest::Stub>> stubs;
  for (int t = 0; t < c.clients; ++t) stubs.push_back(collector.NewIngestStub());
  std::atomic<int> failures{0};
  const double secs = RunConcurrently(c.clients, c.submissions, [&](int t, int i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    ts::SetBearer(ctx, token);
    v1::SubmitResponse resp;
    grpc::Status st = stubs[static_cast<std::size_t>(t)]->Submit(&ctx, requests[static_cast<std::size_t>(i)], &resp);
    if (!st.ok() && failures.fetch_add(1) == 0) std::fprintf(stderr, "submit failed: %s\n", st.error_message().c_str());
  });
  if (failures > 0) std::fprintf(stderr, "%d submits failed\n", failures.load());
  return secs;
}

// Phase 2: the store called directly (no gRPC), same concurrency.
double IngestDirect(const Config& c, lc::SubmissionStore& store, const std::string& agent_id, uint64_t phase) {
  std::vector<v1::Submission> subs;
  for (int i = 0; i < c.submissions; ++i) subs.push_back(Build(c, phase, i));
  return RunConcurrently(c.clients, c.submissions, [&](int, int i) {
    auto r = store.Submit(agent_id, subs[static_cast<std::size_t>(i)]);
    if (!r.ok()) std::fprintf(stderr, "store failed: %s\n", std::string(r.status().message()).c_str());
  });
}

// Phase 3: raw COPY of the same kind of rows into the same tables, one
// transaction, from the submissions' protobufs.
double RawCopy(const Config& c, const std::string& url, const std::string& agent_id, uint64_t phase) {
  std::vector<v1::Submission> subs;
  for (int i = 0; i < c.submissions; ++i) subs.push_back(Build(c, phase, i));
  pqxx::connection conn(url);
  const auto begin = Clock::now();
  pqxx::work tx(conn);
  // Reference ids exist from the earlier phases (same machines and device).
  std::vector<int64_t> machine_ids;
  for (int t = 0; t < c.clients; ++t) {
    machine_ids.push_back(tx.exec_params1("SELECT machine_id FROM machines WHERE fingerprint = $1",
                                          ts::FingerprintFor(static_cast<uint64_t>(t)))[0]
                              .as<int64_t>());
  }
  const int64_t device_id = tx.exec1("SELECT min(device_id) FROM devices")[0].as<int64_t>();
  {
    pqxx::stream_to out(tx, "submissions",
                        std::vector<std::string>{
                            "submission_id", "agent_id", "machine_id", "device_id", "payload", "payload_sha256",
                            "sweep_count", "point_count", "started_at", "finished_at", "agent_version",
                            "kernel_source_hash", "suite_version", "suite_hash", "driver_version",
                            "runtime_version", "pcie_link", "memory_free_at_start_bytes",
                            "other_processes_hold_memory", "memory_used_by_others_bytes", "cpu_model",
                            "cpu_physical_cores", "cpu_logical_cores", "ram_total_bytes", "os_name", "os_kernel"});
    for (int i = 0; i < c.submissions; ++i) {
      const v1::Submission& s = subs[static_cast<std::size_t>(i)];
      const std::string payload = lc::SubmissionStore::CanonicalPayload(s);
      std::string hex = "\\x";
      static const char* kDigits = "0123456789abcdef";
      for (unsigned char b : payload) {
        hex.push_back(kDigits[b >> 4]);
        hex.push_back(kDigits[b & 15]);
      }
      const auto& d = s.hardware().device();
      const auto& h = s.hardware().host();
      const auto& sw = s.software();
      out << std::make_tuple(
          s.submission_id(), agent_id, machine_ids[static_cast<std::size_t>(i % c.clients)], device_id, hex,
          localbench::Sha256Hex(payload), s.sweeps_size(), s.sweeps(0).points_size(),
          lc::TimestampText(s.started_at()), lc::TimestampText(s.finished_at()), sw.agent_version(),
          sw.kernel_source_hash(), sw.suite_version(), sw.suite_hash(), d.driver_version(), d.runtime_version(),
          d.pcie_link(), static_cast<int64_t>(d.memory_free_at_start_bytes()), d.other_processes_hold_memory(),
          static_cast<int64_t>(d.memory_used_by_others_bytes()), h.cpu_model(), h.cpu_physical_cores(),
          h.cpu_logical_cores(), static_cast<int64_t>(h.ram_total_bytes()), h.os_name(), h.os_kernel());
    }
    out.complete();
  }
  const auto t_sub = Clock::now();
  {
    pqxx::stream_to out(tx, "sweeps",
                        std::vector<std::string>{"submission_id", "sweep_index", "model_preset", "kind", "precision",
                                                 "prompt_tokens", "generated_tokens", "sequence_tokens", "lora_rank",
                                                 "largest_ok_batch", "smallest_failed_batch", "planned_max_batch"});
    for (const auto& s : subs) {
      for (int k = 0; k < s.sweeps_size(); ++k) {
        const auto& sw = s.sweeps(k);
        const auto& w = sw.workload();
        out << std::make_tuple(s.submission_id(), k, w.model_preset(), std::string(lc::KindName(w.kind())),
                               std::string(lc::PrecisionName(w.precision())), w.prompt_tokens(),
                               w.generated_tokens(), w.sequence_tokens(), w.lora_rank(), sw.largest_ok_batch(),
                               sw.smallest_failed_batch(), sw.planned_max_batch());
      }
    }
    out.complete();
  }
  const auto t_sweeps = Clock::now();
  {
    pqxx::stream_to out(
        tx, "points",
        std::vector<std::string>{"submission_id", "sweep_index", "batch_size", "status", "error_message",
                                 "repetitions", "warmup_steps", "tokens_per_second_median", "tokens_per_second_min",
                                 "tokens_per_second_max", "step_seconds_median", "step_seconds_min",
                                 "step_seconds_max", "step_seconds_mean", "planned_bytes", "arena_peak_bytes",
                                 "device_delta_bytes", "process_memory_bytes", "sm_clock_mhz", "throttle_reasons",
                                 "reproduce_command"});
    for (const auto& s : subs) {
      for (int k = 0; k < s.sweeps_size(); ++k) {
        for (const auto& p : s.sweeps(k).points()) {
          out << std::make_tuple(
              s.submission_id(), k, p.batch_size(), std::string(lc::StatusName(p.status())), p.error_message(),
              p.repetitions(), p.warmup_steps(), p.tokens_per_second_median(), p.tokens_per_second_min(),
              p.tokens_per_second_max(), p.step_seconds_median(), p.step_seconds_min(), p.step_seconds_max(),
              p.step_seconds_mean(), static_cast<int64_t>(p.planned_bytes()),
              static_cast<int64_t>(p.arena_peak_bytes()), static_cast<int64_t>(p.device_delta_bytes()),
              static_cast<int64_t>(p.process_memory_bytes()), p.sm_clock_mhz(),
              static_cast<int64_t>(p.throttle_reasons()), p.reproduce_command());
        }
      }
    }
    out.complete();
  }
  const auto t_points = Clock::now();
  tx.commit();
  const auto t_commit = Clock::now();
  std::fprintf(stderr, "raw COPY: submissions %.2f s, sweeps %.2f s, points %.2f s, commit %.2f s\n",
               Seconds(begin, t_sub), Seconds(t_sub, t_sweeps), Seconds(t_sweeps, t_points),
               Seconds(t_points, t_commit));
  return Seconds(begin, t_commit);
}

int64_t CountPoints(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::read_transaction tx(conn);
  return tx.exec1("SELECT count(*) FROM points")[0].as<int64_t>();
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const int value = std::atoi(argv[i + 1]);
    if (flag == "--clients") c.clients = value;
    else if (flag == "--submissions") c.submissions = value;
    else if (flag == "--points") c.points = value;
    else if (flag == "--durable") c.durable = value != 0;
    else if (flag == "--rounds") c.rounds = value;
    else if (flag == "--writers") c.writers = value;
    else if (flag == "--commit-delay-us") c.commit_delay_us = value;
    else {
      std::fprintf(stderr, "usage: %s [--clients N] [--submissions N] [--points N] [--durable 0|1] [--rounds N] [--writers N] [--commit-delay-us N]\n",
                   argv[0]);
      return 2;
    }
  }
  if (c.clients < 1 || c.submissions < c.clients || c.points < 1 || c.rounds < 1) {
    std::fprintf(stderr, "need clients >= 1, submissions >= clients, points >= 1, rounds >= 1\n");
    return 2;
  }
  std::vector<std::string> settings;
  if (c.commit_delay_us > 0) {
    settings.push_back(absl::StrCat("commit_delay = ", c.commit_delay_us));
    settings.push_back("commit_siblings = 2");
  }
  auto cluster = lc::PostgresCluster::StartThrowaway(c.durable, settings);
  if (!cluster.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n", std::string(cluster.status().message()).c_str());
    return 1;
  }
  const std::string url = (*cluster)->url();
  lc::CollectorOptions options;
  options.db_connections = c.clients;
  auto collector = ts::InProcessCollector::Start(url, options);
  if (!collector.ok()) {
    std::fprintf(stderr, "collector: %s\n", std::string(collector.status().message()).c_str());
    return 1;
  }
  lc::CollectorOptions grouped_options = options;
  grouped_options.group_commit_writers = c.writers;
  auto grouped = ts::InProcessCollector::Start(url, grouped_options);
  if (!grouped.ok()) return 1;
  auto agent = (*collector)->Enroll(ts::FingerprintFor(0));
  if (!agent.ok()) return 1;

  const int64_t rows = static_cast<int64_t>(c.submissions) * c.points;
  std::printf("machine: %s\n", MachineDescription().c_str());
  std::printf("postgres: throwaway cluster, %s; %d clients, %d submissions x %d points per phase, "
              "group commit off (%d writers in the comparison), commit_delay %d us\n",
              c.durable ? "durable (fsync, synchronous_commit on)" : "not durable (fsync off)", c.clients,
              c.submissions, c.points, c.writers, c.commit_delay_us);
  // Warm-up: connections, prepared plans, reference rows, page cache.
  Config warm = c;
  warm.submissions = std::max(c.clients, c.submissions / 10);
  IngestOverGrpc(warm, **collector, agent->agent_token(), 9);
  IngestOverGrpc(warm, **grouped, agent->agent_token(), 8);

  // Rounds interleave the phases, so load from elsewhere on the machine hits
  // all of them alike; each phase's median over the rounds is reported.
  std::vector<double> grpc_rates, grouped_rates, direct_rates, copy_rates;
  for (int round = 0; round < c.rounds; ++round) {
    const uint64_t phase = 10 + 3 * static_cast<uint64_t>(round);
    const int64_t before_grouped = CountPoints(url);
    const double grouped_s = IngestOverGrpc(c, **grouped, agent->agent_token(), 1000 + phase);
    if (CountPoints(url) - before_grouped != rows) {
      std::fprintf(stderr, "gRPC with group commit stored the wrong number of rows\n");
      return 1;
    }
    grouped_rates.push_back(static_cast<double>(rows) / grouped_s);
    const int64_t before = CountPoints(url);
    const double grpc_s = IngestOverGrpc(c, **collector, agent->agent_token(), phase);
    const int64_t after_grpc = CountPoints(url);
    const double direct_s = IngestDirect(c, (*collector)->server().store(), agent->agent_id(), phase + 1);
    const int64_t after_direct = CountPoints(url);
    const double copy_s = RawCopy(c, url, agent->agent_id(), phase + 2);
    const int64_t after_copy = CountPoints(url);
    if (after_grpc - before != rows || after_direct - after_grpc != rows || after_copy - after_direct != rows) {
      std::fprintf(stderr, "row counts do not add up: %lld %lld %lld (expected %lld each)\n",
                   static_cast<long long>(after_grpc - before), static_cast<long long>(after_direct - after_grpc),
                   static_cast<long long>(after_copy - after_direct), static_cast<long long>(rows));
      return 1;
    }
    grpc_rates.push_back(static_cast<double>(rows) / grpc_s);
    direct_rates.push_back(static_cast<double>(rows) / direct_s);
    copy_rates.push_back(static_cast<double>(rows) / copy_s);
    std::printf("round %d: gRPC %.0f, gRPC group commit %.0f, store %.0f, COPY %.0f points/s\n", round + 1,
                grpc_rates.back(), grouped_rates.back(), direct_rates.back(), copy_rates.back());
    std::fflush(stdout);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  };
  const double grpc_rate = median(grpc_rates);
  const double grouped_rate = median(grouped_rates);
  const double direct_rate = median(direct_rates);
  const double copy_rate = median(copy_rates);
  const double per_submission = static_cast<double>(c.points);
  std::printf("ingest over gRPC : %8.0f points/s  (%6.0f submissions/s)  median of %d\n", grpc_rate,
              grpc_rate / per_submission, c.rounds);
  std::printf("  with group commit (%d writers): %8.0f points/s  (%6.0f submissions/s)\n", c.writers,
              grouped_rate, grouped_rate / per_submission);
  std::printf("store, no gRPC   : %8.0f points/s  (%6.0f submissions/s)\n", direct_rate,
              direct_rate / per_submission);
  std::printf("raw COPY         : %8.0f points/s  (all rows in one transaction)\n", copy_rate);
  std::printf("ratio gRPC ingest / raw COPY: %.2f (target >= 0.5)\n", grpc_rate / copy_rate);
  (*collector)->server().Shutdown();
  (*grouped)->server().Shutdown();
  return 0;
}
