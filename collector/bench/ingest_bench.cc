// Ingest benchmark. The collector (in this process, on a throwaway
// PostgreSQL cluster) is measured from a load generator in a separate
// process (this binary re-executed with --client), so the clients' protobuf
// building and gRPC work is not counted against the server. Figure: stored
// measurement rows (points) per second. In the same run, the same number of
// rows goes into the same tables by a raw COPY (libpqxx stream_to, one
// transaction): the ceiling for bulk loading; the ratio is the figure of
// merit (docs/BENCHMARKS.md, ## Ingest). A third figure, the store called
// directly from threads without gRPC, splits RPC from database costs.
// Rounds interleave the phases; every round is printed, then the medians.
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
#include "localbench/collector/rows.h"
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
  int submissions = 2000;   // per phase, over all clients
  int points = 12;          // per submission (one sweep)
  bool durable = true;      // fsync + synchronous_commit, as in production
  int rounds = 3;           // each round runs every phase once
  int writers = 0;          // group-commit writers; 0: the store's default
  uint64_t phase = 0;       // --client only: seeds of this phase's submissions
  std::string address;      // --client only: the collector to load
};

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// Submission `i` of a phase: one sweep of `points` points, reported by
// client (i % clients) from its own machine, as its own enrolled agent.
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

// Runs work(t, k) for client t's k-th item on `clients` threads released
// together; returns the wall time from the release.
template <typename Work>
double RunConcurrently(int clients, int per_client, Work work) {
  std::barrier start(clients + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int k = 0; k < per_client; ++k) work(t, k);
    });
  }
  start.arrive_and_wait();
  const auto begin = Clock::now();
  for (auto& th : threads) th.join();
  return Seconds(begin, Clock::now());
}

// --client: enrols one agent per client machine, builds every request, then
// (timed) sends them from `clients` threads; prints "seconds failures".
int RunClient(const Config& c) {
  auto channel_for = [&] { return grpc::CreateChannel(c.address, grpc::InsecureChannelCredentials()); };
  const int per_client = c.submissions / c.clients;
  std::vector<std::string> tokens;
  std::vector<std::unique_ptr<v1::Ingest::Stub>> stubs;
  std::vector<std::vector<v1::SubmitRequest>> requests(static_cast<std::size_t>(c.clients));
  for (int t = 0; t < c.clients; ++t) {
    stubs.push_back(v1::Ingest::NewStub(channel_for()));
    v1::EnrollRequest enroll;
    enroll.set_machine_fingerprint(ts::FingerprintFor(static_cast<uint64_t>(t)));
    enroll.set_agent_version("v0.1.0-bench");
    v1::EnrollResponse agent;
    grpc::ClientContext ctx;
    if (grpc::Status st = stubs.back()->Enroll(&ctx, enroll, &agent); !st.ok()) {
      std::fprintf(stderr, "enroll failed: %s\n", st.error_message().c_str());
      return 1;
    }
    tokens.push_back(agent.agent_token());
    for (int k = 0; k < per_client; ++k) {
      *requests[static_cast<std::size_t>(t)].emplace_back().mutable_submission() = Build(c, c.phase, k * c.clients + t);
    }
  }
  std::atomic<int> failures{0};
  const double secs = RunConcurrently(c.clients, per_client, [&](int t, int k) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    ts::SetBearer(ctx, tokens[static_cast<std::size_t>(t)]);
    v1::SubmitResponse resp;
    grpc::Status st = stubs[static_cast<std::size_t>(t)]->Submit(
        &ctx, requests[static_cast<std::size_t>(t)][static_cast<std::size_t>(k)], &resp);
    if (!st.ok() && failures.fetch_add(1) == 0) std::fprintf(stderr, "submit failed: %s\n", st.error_message().c_str());
  });
  std::printf("%.6f %d\n", secs, failures.load());
  return 0;
}

// Phase 1: gRPC Submit from a client process; returns its timed seconds.
double IngestOverGrpc(const Config& c, const std::string& address, uint64_t phase) {
  // Only numbers and our own loopback address reach the shell.
  const std::string cmd = absl::StrCat("/proc/", getpid(), "/exe --client ", address, " --clients ", c.clients,
                                       " --submissions ", c.submissions, " --points ", c.points, " --phase ", phase);
  FILE* child = popen(cmd.c_str(), "r");
  if (child == nullptr) return -1;
  double secs = -1;
  int failures = -1;
  if (std::fscanf(child, "%lf %d", &secs, &failures) != 2) secs = -1;
  if (pclose(child) != 0 || failures != 0) return -1;
  return secs;
}

// Phase 2: the store called directly (no gRPC), same concurrency.
double IngestDirect(const Config& c, lc::SubmissionStore& store, const std::vector<lc::AgentIdentity>& agents,
                    uint64_t phase) {
  const int per_client = c.submissions / c.clients;
  std::vector<v1::Submission> subs;
  for (int i = 0; i < per_client * c.clients; ++i) subs.push_back(Build(c, phase, i));
  return RunConcurrently(c.clients, per_client, [&](int t, int k) {
    auto r = store.Submit(agents[static_cast<std::size_t>(t)], subs[static_cast<std::size_t>(k * c.clients + t)]);
    if (!r.ok()) std::fprintf(stderr, "store failed: %s\n", std::string(r.status().message()).c_str());
  });
}

// Phase 3: raw COPY of the same rows into the same tables, one transaction
// at one new data version, through the store's own row encoders: the bulk
// load the store's group transactions are measured against.
double RawCopy(const Config& c, const std::string& url, const std::vector<lc::AgentIdentity>& agents, uint64_t phase) {
  const int total = c.submissions / c.clients * c.clients;
  std::vector<v1::Submission> subs;
  for (int i = 0; i < total; ++i) subs.push_back(Build(c, phase, i));
  pqxx::connection conn(url);
  const auto begin = Clock::now();
  pqxx::work tx(conn);
  std::vector<int64_t> machine_ids;
  for (int t = 0; t < c.clients; ++t) {
    machine_ids.push_back(tx.exec_params1("SELECT machine_id FROM machines WHERE fingerprint = $1",
                                          ts::FingerprintFor(static_cast<uint64_t>(t)))[0]
                              .as<int64_t>());
  }
  const int64_t device_id = tx.exec1("SELECT min(device_id) FROM devices")[0].as<int64_t>();
  const int64_t version = tx.exec1(
      "WITH v AS (UPDATE data_version_counter SET version = version + 1 RETURNING version) "
      "INSERT INTO data_versions (version, cause) SELECT version, 'ingest' FROM v RETURNING version")[0]
                              .as<int64_t>();
  {
    pqxx::stream_to out(tx, "submissions", lc::SubmissionColumns());
    for (int i = 0; i < total; ++i) {
      const v1::Submission& s = subs[static_cast<std::size_t>(i)];
      lc::SubmissionRecord r;
      r.agent_id = agents[static_cast<std::size_t>(i % c.clients)].agent_id;
      r.s = &s;
      r.payload = lc::SubmissionStore::CanonicalPayload(s);
      r.sha = localbench::Sha256Hex(r.payload);
      r.point_count = s.sweeps(0).points_size();
      lc::CopySubmission(out, r, machine_ids[static_cast<std::size_t>(i % c.clients)], device_id, version);
    }
    out.complete();
  }
  {
    pqxx::stream_to out(tx, "sweeps", lc::SweepColumns());
    for (const auto& s : subs) lc::CopySweeps(out, s);
    out.complete();
  }
  {
    pqxx::stream_to out(tx, "points", lc::PointColumns());
    for (const auto& s : subs) lc::CopyPoints(out, s);
    out.complete();
  }
  tx.commit();
  return Seconds(begin, Clock::now());
}

int64_t CountPoints(const std::string& url) {
  pqxx::connection conn(url);
  pqxx::read_transaction tx(conn);
  return tx.exec1("SELECT count(*) FROM points")[0].as<int64_t>();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--client") c.address = value;
    else if (flag == "--clients") c.clients = std::stoi(value);
    else if (flag == "--submissions") c.submissions = std::stoi(value);
    else if (flag == "--points") c.points = std::stoi(value);
    else if (flag == "--durable") c.durable = value != "0";
    else if (flag == "--rounds") c.rounds = std::stoi(value);
    else if (flag == "--writers") c.writers = std::stoi(value);
    else if (flag == "--phase") c.phase = std::stoull(value);
    else {
      std::fprintf(stderr, "usage: %s [--clients N] [--submissions N] [--points N] [--durable 0|1] [--rounds N] [--writers N]\n",
                   argv[0]);
      return 2;
    }
  }
  if (c.clients < 1 || c.submissions < c.clients || c.points < 1 || c.rounds < 1) {
    std::fprintf(stderr, "need clients >= 1, submissions >= clients, points >= 1, rounds >= 1\n");
    return 2;
  }
  if (!c.address.empty()) return RunClient(c);

  auto cluster = lc::PostgresCluster::StartThrowaway(c.durable, {});
  if (!cluster.ok()) {
    std::fprintf(stderr, "PostgreSQL: %s\n", std::string(cluster.status().message()).c_str());
    return 1;
  }
  const std::string url = (*cluster)->url();
  lc::CollectorOptions options;
  options.db_connections = c.clients;
  options.group_commit_writers = c.writers;
  auto collector = ts::InProcessCollector::Start(url, options);
  if (!collector.ok()) {
    std::fprintf(stderr, "collector: %s\n", std::string(collector.status().message()).c_str());
    return 1;
  }
  lc::SubmissionStore& store = (*collector)->server().store();
  std::vector<lc::AgentIdentity> agents;  // one per client machine, for the in-process phases
  for (int t = 0; t < c.clients; ++t) {
    v1::EnrollRequest enroll;
    enroll.set_machine_fingerprint(ts::FingerprintFor(static_cast<uint64_t>(t)));
    enroll.set_agent_version("v0.1.0-bench");
    auto agent = store.Enroll(enroll);
    if (!agent.ok()) return 1;
    agents.push_back({agent->agent_id(), enroll.machine_fingerprint()});
  }
  const int64_t rows = static_cast<int64_t>(c.submissions / c.clients * c.clients) * c.points;
  std::printf("machine: %s\n", MachineDescription().c_str());
  std::printf("postgres: throwaway cluster, %s; %d clients (separate process), %lld points per phase "
              "(%d per submission), group-commit writers %d (0: default)\n",
              c.durable ? "durable (fsync, synchronous_commit on)" : "not durable (fsync off)", c.clients,
              static_cast<long long>(rows), c.points, c.writers);
  // Warm-up: connections, prepared plans, reference rows, page cache.
  Config warm = c;
  warm.submissions = std::max(c.clients, c.submissions / 10);
  if (IngestOverGrpc(warm, (*collector)->address(), 9) < 0) {
    std::fprintf(stderr, "warm-up client failed\n");
    return 1;
  }

  std::vector<double> grpc_rates, direct_rates, copy_rates;
  for (int round = 0; round < c.rounds; ++round) {
    const uint64_t phase = 10 + 3 * static_cast<uint64_t>(round);
    const int64_t before = CountPoints(url);
    const double grpc_s = IngestOverGrpc(c, (*collector)->address(), phase);
    const int64_t after_grpc = CountPoints(url);
    const double direct_s = IngestDirect(c, store, agents, phase + 1);
    const int64_t after_direct = CountPoints(url);
    const double copy_s = RawCopy(c, url, agents, phase + 2);
    const int64_t after_copy = CountPoints(url);
    if (grpc_s < 0 || after_grpc - before != rows || after_direct - after_grpc != rows ||
        after_copy - after_direct != rows) {
      std::fprintf(stderr, "round %d: client failed or row counts do not add up: %lld %lld %lld (expected %lld)\n",
                   round + 1, static_cast<long long>(after_grpc - before),
                   static_cast<long long>(after_direct - after_grpc), static_cast<long long>(after_copy - after_direct),
                   static_cast<long long>(rows));
      return 1;
    }
    grpc_rates.push_back(static_cast<double>(rows) / grpc_s);
    direct_rates.push_back(static_cast<double>(rows) / direct_s);
    copy_rates.push_back(static_cast<double>(rows) / copy_s);
    std::printf("round %d: gRPC %.0f, store %.0f, COPY %.0f points/s; ratio gRPC/COPY %.2f\n", round + 1,
                grpc_rates.back(), direct_rates.back(), copy_rates.back(), grpc_rates.back() / copy_rates.back());
    std::fflush(stdout);
  }
  const double grpc_rate = Median(grpc_rates);
  const double direct_rate = Median(direct_rates);
  const double copy_rate = Median(copy_rates);
  std::printf("ingest over gRPC : %8.0f points/s  (%6.0f submissions/s)  median of %d\n", grpc_rate,
              grpc_rate / c.points, c.rounds);
  std::printf("store, no gRPC   : %8.0f points/s  (%6.0f submissions/s)\n", direct_rate, direct_rate / c.points);
  std::printf("raw COPY         : %8.0f points/s  (all rows in one transaction)\n", copy_rate);
  std::printf("ratio gRPC ingest / raw COPY: %.2f (target >= 0.5)\n", grpc_rate / copy_rate);
  (*collector)->server().Shutdown();
  return 0;
}
