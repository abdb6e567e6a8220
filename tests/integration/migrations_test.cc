// Migrations on a real PostgreSQL: empty database, already-migrated database,
// concurrent starts, an edited migration, and the schema's CHECK constraints.
#include <atomic>
#include <barrier>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "localbench/collector/migrations.h"
#include "localbench/collector/store.h"
#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/postgres_environment.h"
#include "localbench/test_support/submission_builder.h"

namespace localbench::test_support {
namespace {

using collector::ApplyMigrations;
using collector::EmbeddedMigrations;

int64_t CountRows(pqxx::connection& conn, const std::string& sql) {
  pqxx::read_transaction tx(conn);
  return tx.exec(sql)[0][0].as<int64_t>();
}

TEST(MigrationsTest, EmbeddedMigrationsAreNumberedInOrder) {
  auto all = EmbeddedMigrations();
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all[0].version, 1);
  for (std::size_t i = 1; i < all.size(); ++i) EXPECT_GT(all[i].version, all[i - 1].version);
}

TEST(MigrationsTest, AppliesEverythingToAnEmptyDatabase) {
  const std::string url = PostgresEnvironment::FreshDatabase();
  pqxx::connection conn(url);
  EXPECT_EQ(CountRows(conn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), 0);
  auto applied = ApplyMigrations(conn);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, static_cast<int>(EmbeddedMigrations().size()));
  EXPECT_EQ(CountRows(conn, "SELECT count(*) FROM schema_migrations"),
            static_cast<int64_t>(EmbeddedMigrations().size()));
  for (const char* table : {"devices", "machines", "agents", "submissions", "sweeps", "points"}) {
    pqxx::read_transaction tx(conn);
    EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM pg_tables WHERE tablename = $1", std::string(table))[0]
                  .as<int>(),
              1)
        << table;
  }
}

TEST(MigrationsTest, AlreadyMigratedDatabaseIsLeftAlone) {
  const std::string url = PostgresEnvironment::FreshDatabase();
  pqxx::connection conn(url);
  ASSERT_TRUE(ApplyMigrations(conn).ok());
  // Data written after the first run survives the second.
  auto collector = InProcessCollector::Start(url);
  ASSERT_TRUE(collector.ok()) << collector.status();
  auto agent = (*collector)->Enroll();
  ASSERT_TRUE(agent.ok());
  auto again = ApplyMigrations(conn);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(CountRows(conn, "SELECT count(*) FROM agents"), 1);
  EXPECT_EQ(CountRows(conn, "SELECT count(*) FROM schema_migrations"),
            static_cast<int64_t>(EmbeddedMigrations().size()));
}

TEST(MigrationsTest, ConcurrentStartsApplyEachMigrationOnce) {
  const std::string url = PostgresEnvironment::FreshDatabase();
  constexpr int kStarters = 4;
  std::atomic<int> total{0};
  std::atomic<int> failures{0};
  std::barrier start(kStarters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kStarters; ++i) {
    threads.emplace_back([&] {
      pqxx::connection conn(url);
      start.arrive_and_wait();
      auto applied = ApplyMigrations(conn);
      if (applied.ok()) {
        total += *applied;
      } else {
        ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(total.load(), static_cast<int>(EmbeddedMigrations().size()));
}

TEST(MigrationsTest, EditedMigrationIsRefused) {
  const std::string url = PostgresEnvironment::FreshDatabase();
  pqxx::connection conn(url);
  ASSERT_TRUE(ApplyMigrations(conn).ok());
  std::vector<collector::Migration> edited(EmbeddedMigrations().begin(), EmbeddedMigrations().end());
  const std::string changed = std::string(edited[0].sql) + "\n-- edited";
  edited[0].sql = changed;
  auto applied = ApplyMigrations(conn, edited);
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(applied.status().message()).find(std::string(edited[0].name)), std::string::npos);
}

TEST(MigrationsTest, NewerDatabaseIsRefused) {
  const std::string url = PostgresEnvironment::FreshDatabase();
  pqxx::connection conn(url);
  ASSERT_TRUE(ApplyMigrations(conn).ok());
  // An older collector (knowing fewer migrations) must not run against it.
  std::vector<collector::Migration> older(EmbeddedMigrations().begin(), EmbeddedMigrations().end());
  const collector::Migration newer{older.back().version + 1, "9999_future", "SELECT 1"};
  std::vector<collector::Migration> newer_set = older;
  newer_set.push_back(newer);
  ASSERT_TRUE(ApplyMigrations(conn, newer_set).ok());
  auto applied = ApplyMigrations(conn, older);
  EXPECT_EQ(applied.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(MigrationsTest, FailedMigrationLeavesNoTrace) {
  const std::string url = PostgresEnvironment::FreshDatabase();
  pqxx::connection conn(url);
  std::vector<collector::Migration> set(EmbeddedMigrations().begin(), EmbeddedMigrations().end());
  set.push_back({set.back().version + 1, "9998_broken", "CREATE TABLE half_done (x int); SELECT 1/0;"});
  auto applied = ApplyMigrations(conn, set);
  EXPECT_FALSE(applied.ok());
  // Its own transaction rolled back: no table, no record; the earlier ones stay.
  EXPECT_EQ(CountRows(conn, "SELECT count(*) FROM pg_tables WHERE tablename = 'half_done'"), 0);
  EXPECT_EQ(CountRows(conn, "SELECT count(*) FROM schema_migrations"),
            static_cast<int64_t>(EmbeddedMigrations().size()));
}

// The schema rejects impossible values even from a writer that skipped
// validation.
class SchemaChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = PostgresEnvironment::FreshDatabase();
    auto c = InProcessCollector::Start(url_);
    ASSERT_TRUE(c.ok()) << c.status();
    collector_ = *std::move(c);
    auto agent = collector_->Enroll();
    ASSERT_TRUE(agent.ok());
    v1::Submission s = MakeSubmission(5);
    s.set_machine_fingerprint(FingerprintFor(1));  // the machine Enroll() used
    auto stored = collector_->server().store().Submit({agent->agent_id(), FingerprintFor(1)}, s);
    ASSERT_TRUE(stored.ok()) << stored.status();
    conn_ = std::make_unique<pqxx::connection>(url_);
  }

  // True when `sql` is refused by a CHECK (or NOT NULL / key) constraint.
  bool Rejected(const std::string& sql) {
    try {
      pqxx::work tx(*conn_);
      tx.exec(sql);
      tx.commit();
      return false;
    } catch (const pqxx::integrity_constraint_violation&) {
      return true;
    }
  }

  std::string url_;
  std::unique_ptr<InProcessCollector> collector_;
  std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(SchemaChecksTest, RejectsImpossibleValues) {
  EXPECT_TRUE(Rejected("UPDATE points SET tokens_per_second_median = 'NaN' WHERE batch_size = 1"));
  EXPECT_TRUE(Rejected("UPDATE points SET tokens_per_second_max = 'Infinity' WHERE batch_size = 1"));
  EXPECT_TRUE(Rejected("UPDATE points SET step_seconds_min = -1 WHERE batch_size = 1"));
  EXPECT_TRUE(Rejected("UPDATE points SET planned_bytes = -1 WHERE batch_size = 1"));
  EXPECT_TRUE(Rejected("UPDATE points SET batch_size = 0 WHERE batch_size = 1"));
  // Status consistency: an OK point needs throughput; an OOM point has none.
  EXPECT_TRUE(Rejected("UPDATE points SET tokens_per_second_median = 0 WHERE status = 'ok'"));
  EXPECT_TRUE(Rejected("UPDATE points SET tokens_per_second_median = 5 WHERE status = 'oom'"));
  EXPECT_TRUE(Rejected("UPDATE points SET status = 'error', error_message = '', "
                       "tokens_per_second_median = 0 WHERE status = 'oom'"));
  EXPECT_TRUE(Rejected("UPDATE points SET status = 'exploded'"));
  // The OOM bracket is ordered.
  EXPECT_TRUE(Rejected("UPDATE sweeps SET smallest_failed_batch = largest_ok_batch"));
  EXPECT_TRUE(Rejected("UPDATE sweeps SET lora_rank = 8 WHERE kind = 'decode'"));
  // Training dimensions (0007; the builder's one sweep is an fp16 decode):
  // none on inference, the accounting only on full fine-tunes, in range.
  EXPECT_TRUE(Rejected("UPDATE sweeps SET gradient_checkpointing = true WHERE kind = 'decode'"));
  EXPECT_TRUE(Rejected("UPDATE sweeps SET loss_chunks = 8 WHERE kind = 'decode'"));
  EXPECT_TRUE(Rejected("UPDATE sweeps SET full_finetune_accounting = 'mixed' WHERE kind = 'decode'"));
  EXPECT_TRUE(Rejected("UPDATE sweeps SET accumulation_steps = 0"));
  // On a training row, 16-bit activations need a run of that precision.
  EXPECT_TRUE(Rejected("UPDATE sweeps SET kind = 'train_lora', lora_rank = 8, sequence_tokens = 64, "
                       "prompt_tokens = 0, generated_tokens = 0, activation_precision = 'bf16'"));
  EXPECT_FALSE(Rejected("UPDATE sweeps SET kind = 'train_lora', lora_rank = 8, sequence_tokens = 64, "
                        "prompt_tokens = 0, generated_tokens = 0, activation_precision = 'fp16', "
                        "gradient_checkpointing = true, accumulation_steps = 4"));
  EXPECT_TRUE(Rejected("UPDATE submissions SET finished_at = started_at - interval '1 second'"));
  EXPECT_TRUE(Rejected("UPDATE submissions SET payload_sha256 = 'not hex'"));
  EXPECT_TRUE(Rejected("UPDATE devices SET memory_total_bytes = 0"));
  EXPECT_TRUE(Rejected("UPDATE devices SET vendor = 'amd'"));  // CUDA needs NVIDIA
  EXPECT_TRUE(Rejected("UPDATE machines SET fingerprint = 'ABC'"));
  // A valid change passes, so the checks above fail for the reasons named.
  EXPECT_FALSE(Rejected("UPDATE points SET tokens_per_second_max = tokens_per_second_max + 1 "
                        "WHERE status = 'ok'"));
}

// 0008 (issue 15): quantized weight formats are precisions, but never of a
// full fine-tune (quantized weights are frozen).
TEST_F(SchemaChecksTest, QuantizedPrecisionsAreStoredButNotForFullFineTunes) {
  ASSERT_GT(CountRows(*conn_, "SELECT count(*) FROM sweeps WHERE kind <> 'train_full'"), 0);
  EXPECT_FALSE(Rejected("UPDATE sweeps SET precision = 'q4_0' WHERE kind <> 'train_full'"));
  EXPECT_FALSE(Rejected("UPDATE sweeps SET precision = 'q8_0' WHERE kind <> 'train_full'"));
  EXPECT_FALSE(Rejected("UPDATE sweeps SET precision = 'nf4' WHERE kind <> 'train_full'"));
  EXPECT_TRUE(Rejected("UPDATE sweeps SET precision = 'q5_k'"));
  // The same sweep as a full fine-tune: fine in bf16, refused in q4_0.
  const std::string full =
      "UPDATE sweeps SET kind = 'train_full', lora_rank = 0, prompt_tokens = 0, generated_tokens = 0, "
      "sequence_tokens = 16, full_finetune_accounting = 'mixed', precision = ";
  EXPECT_TRUE(Rejected(full + "'q4_0'"));
  EXPECT_FALSE(Rejected(full + "'bf16'"));
}

// 0009 (issue 13): QLoRA over quantized weights may keep bf16 activations
// (it computes in bf16); fp16 ones stay refused there, as before.
TEST_F(SchemaChecksTest, QloraMayHaveBf16Activations) {
  const std::string qlora =
      "UPDATE sweeps SET kind = 'train_lora', lora_rank = 8, sequence_tokens = 64, prompt_tokens = 0, "
      "generated_tokens = 0, precision = 'nf4', activation_precision = ";
  EXPECT_FALSE(Rejected(qlora + "'bf16'"));
  EXPECT_TRUE(Rejected(qlora + "'fp16'"));
  EXPECT_FALSE(Rejected(qlora + "'fp32'"));
}

}  // namespace
}  // namespace localbench::test_support
