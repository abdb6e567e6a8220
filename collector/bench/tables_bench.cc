// Tables benchmark. Fills a throwaway PostgreSQL with ~1,000,000 realistic
// points (collector/bench/tables_data.sql), then times a mix of table
// requests through TableService with N threads: cold (the first call after
// a new data version) and warm (repeated), next to the same aggregate SQL run
// directly in the same run. Run through scripts/bench-tables.sh; the HTTP
// side (and its cache) is timed by the HTTP benchmark.
#include <algorithm>
#include <atomic>
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
#include "localbench/collector/connection_pool.h"
#include "localbench/collector/migrations.h"
#include "localbench/collector/postgres_cluster.h"
#include "localbench/collector/tables.h"

namespace lc = localbench::collector;
namespace v1 = localbench::v1;

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  int submissions = 5953;  // x 24 sweeps x 7 batches = 1,000,104 points
  int threads = 16;
  int seconds = 10;        // per timed phase
  int cold_rounds = 5;
  std::string db_url;      // empty: a throwaway cluster
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

// One request kind of the mix: a TableService call for request number i.
struct Kind {
  std::string name;
  std::function<bool(lc::TableService&, int)> call;
};

const char* kPresets[] = {"qwen2.5-0.5b", "llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b", "qwen2.5-7b",
                          "mistral-7b-v0.3"};
const v1::WorkloadKind kKinds[] = {v1::WORKLOAD_KIND_PREFILL, v1::WORKLOAD_KIND_DECODE,
                                   v1::WORKLOAD_KIND_TRAIN_LORA, v1::WORKLOAD_KIND_TRAIN_FULL};
const char* kSqlKinds[] = {"prefill", "decode", "train_lora", "train_full"};
const char* kModels[] = {"rtx-4090-24gb", "h100-sxm-80gb", "a100-sxm4-80gb", "mi300x-192gb", "l40s-48gb",
                         "rtx-3090-24gb"};

std::vector<Kind> Mix() {
  std::vector<Kind> mix;
  mix.push_back({"oom_table(preset,kind)", [](lc::TableService& t, int i) {
                   v1::OomTableRequest r;
                   r.mutable_filter()->set_model_preset(kPresets[i % 6]);
                   r.mutable_filter()->set_kind(kKinds[(i / 6) % 4]);
                   return t.GetOomTable(r).ok();
                 }});
  mix.push_back({"batch_curve(model,workload)", [](lc::TableService& t, int i) {
                   v1::BatchCurveRequest r;
                   r.set_device_model(kModels[i % 6]);
                   r.mutable_workload()->set_model_preset(kPresets[(i / 6) % 6]);
                   r.mutable_workload()->set_kind(kKinds[i % 4]);
                   return t.GetBatchCurve(r).ok();
                 }});
  mix.push_back({"compare(workload,batch 1)", [](lc::TableService& t, int i) {
                   v1::CompareHardwareRequest r;
                   r.add_device_models(kModels[i % 6]);
                   r.add_device_models(kModels[(i + 1) % 6]);
                   r.mutable_workload()->set_model_preset(kPresets[i % 6]);
                   r.mutable_workload()->set_kind(kKinds[i % 4]);
                   return t.CompareHardware(r).ok();
                 }});
  mix.push_back({"stack_deltas(model,workload)", [](lc::TableService& t, int i) {
                   v1::StackDeltaRequest r;
                   r.set_device_model(kModels[i % 6]);
                   r.mutable_workload()->set_model_preset(kPresets[i % 6]);
                   r.mutable_workload()->set_kind(kKinds[(i / 6) % 4]);
                   return t.GetStackDeltas(r).ok();
                 }});
  mix.push_back({"will_it_run(model,workload)", [](lc::TableService& t, int i) {
                   v1::WillItRunRequest r;
                   r.set_device_model(kModels[i % 6]);
                   r.mutable_workload()->set_model_preset(kPresets[(i / 6) % 6]);
                   r.mutable_workload()->set_kind(kKinds[i % 4]);
                   r.set_batch_size(4);
                   return t.WillItRun(r).ok();
                 }});
  mix.push_back({"device_models", [](lc::TableService& t, int) {
                   v1::ListDeviceModelsRequest r;
                   r.set_measured_only(true);
                   return t.ListDeviceModels(r).ok();
                 }});
  return mix;
}

// Runs `op(thread, i)` from `threads` threads for `seconds`; latencies in ms.
std::vector<double> Hammer(int threads, int seconds, const std::function<bool(int, int)>& op, int* failures) {
  std::vector<std::vector<double>> per(static_cast<std::size_t>(threads));
  std::atomic<int> failed{0};
  const auto end = Clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = t; Clock::now() < end; i += threads) {
        const auto start = Clock::now();
        if (!op(t, i)) failed.fetch_add(1);
        per[static_cast<std::size_t>(t)].push_back(Ms(Clock::now() - start));
      }
    });
  }
  for (auto& th : pool) th.join();
  std::vector<double> all;
  for (auto& v : per) all.insert(all.end(), v.begin(), v.end());
  *failures = failed.load();
  return all;
}

void Report(const std::string& what, const std::vector<double>& ms, int seconds, int failures) {
  std::printf("%-34s %8.1f req/s  p50 %8.1f ms  p99 %8.1f ms  (%zu requests, %d failed)\n", what.c_str(),
              static_cast<double>(ms.size()) / seconds, Percentile(ms, 0.5), Percentile(ms, 0.99), ms.size(),
              failures);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured
  Config c;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--submissions") c.submissions = std::atoi(value.c_str());
    else if (flag == "--threads") c.threads = std::atoi(value.c_str());
    else if (flag == "--seconds") c.seconds = std::atoi(value.c_str());
    else if (flag == "--cold-rounds") c.cold_rounds = std::atoi(value.c_str());
    else if (flag == "--db-url") c.db_url = value;
    else {
      std::fprintf(stderr, "usage: %s [--submissions N] [--threads N] [--seconds N] [--cold-rounds N] [--db-url URL]\n",
                   argv[0]);
      return 2;
    }
  }
  std::unique_ptr<lc::PostgresCluster> cluster;
  std::string url = c.db_url;
  if (url.empty()) {
    auto started = lc::PostgresCluster::StartThrowaway(false, {"shared_buffers = 512MB", "work_mem = 64MB"});
    if (!started.ok()) {
      std::fprintf(stderr, "PostgreSQL: %s\n", std::string(started.status().message()).c_str());
      return 1;
    }
    cluster = *std::move(started);
    url = cluster->url();
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
  auto pool = lc::ConnectionPool::Create(url, static_cast<std::size_t>(c.threads));
  if (!pool.ok()) return 1;
  lc::TableService tables(pool->get());
  const std::vector<Kind> mix = Mix();
  std::printf("threads %d, %d s per phase\n", c.threads, c.seconds);

  // Cold: the first call of each kind after a new data version (a
  // moderation event), on an otherwise idle database.
  pqxx::connection admin(url);
  const std::string some_submission =
      pqxx::nontransaction(admin).exec("SELECT submission_id::text FROM submissions LIMIT 1")[0][0].as<std::string>();
  for (const Kind& k : mix) {
    std::vector<double> ms;
    for (int r = 0; r < c.cold_rounds; ++r) {
      if (!lc::RecordModeration(**pool, some_submission, r % 2 ? "restore" : "flag", "bench", "bench").ok()) return 1;
      const auto start = Clock::now();
      if (!k.call(tables, r * 7)) std::fprintf(stderr, "%s failed\n", k.name.c_str());
      ms.push_back(Ms(Clock::now() - start));
    }
    std::printf("cold %-29s p50 %8.1f ms  max %8.1f ms  (%d rounds)\n", k.name.c_str(), Percentile(ms, 0.5),
                Percentile(ms, 1.0), c.cold_rounds);
  }

  // Warm: every thread loops over the mix.
  int failures = 0;
  auto warm = Hammer(c.threads, c.seconds, [&](int, int i) { return mix[static_cast<std::size_t>(i) % mix.size()].call(tables, i / 6); },
                     &failures);
  Report("warm mix via TableService", warm, c.seconds, failures);

  // The same OOM-table and point aggregates, run directly as SQL text.
  const std::string dir = LOCALBENCH_TABLE_QUERIES_DIR;
  const std::string prefix = ReadFile(dir + "/filtered_sweeps.sql");
  const std::string oom_sql = prefix + ReadFile(dir + "/oom_cells.sql");
  const std::string point_sql = prefix + ReadFile(dir + "/point_cells.sql");
  std::vector<std::unique_ptr<pqxx::connection>> conns;
  for (int t = 0; t < c.threads; ++t) {
    conns.push_back(std::make_unique<pqxx::connection>(url));
    conns.back()->prepare("oom", oom_sql);
    conns.back()->prepare("point", point_sql);
  }
  const int64_t version =
      pqxx::nontransaction(admin).exec("SELECT version FROM data_version_counter")[0][0].as<int64_t>();
  auto raw = Hammer(c.threads, c.seconds, [&](int t, int i) {
    pqxx::read_transaction tx(*conns[static_cast<std::size_t>(t)]);
    tx.exec("SET LOCAL plan_cache_mode = force_custom_plan");
    const std::string preset = kPresets[i % 6];
    const std::string kind = kSqlKinds[(i / 6) % 4];
    const std::string slug = i % 2 ? kModels[i % 6] : "";
    auto r = tx.exec_prepared(i % 2 ? "point" : "oom", version, "", slug, 0, 0, preset, kind, "", 0, "", "", "", 0,
                              0, 0, 0, 0);
    return true;
  }, &failures);
  Report("raw SQL (oom / point cells)", raw, c.seconds, failures);
  std::printf("warm/raw throughput ratio %.2f\n",
              raw.empty() ? 0.0 : static_cast<double>(warm.size()) / static_cast<double>(raw.size()));
  return 0;
}
