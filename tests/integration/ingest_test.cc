// Ingest against a real PostgreSQL over real loopback gRPC: rows read back,
// exactly-once under repeats and concurrency, and hostile input rejected with
// nothing stored.
#include <barrier>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "localbench/collector/store.h"
#include "localbench/common/crypto.h"
#include "localbench/common/names.h"
#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/postgres_environment.h"
#include "localbench/test_support/submission_builder.h"

LOCALBENCH_USE_THROWAWAY_POSTGRES();

namespace localbench::test_support {
namespace {

using google::protobuf::util::MessageDifferencer;

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

struct Reply {
  grpc::Status status;
  v1::SubmitResponse response;
};

// MakeSubmission from the machine the fixture's agent enrolled for
// (InProcessCollector::Enroll's default: the builder's machine for seed 1).
v1::Submission Mine(uint64_t seed, int sweeps = 1, int points_per_sweep = 12) {
  v1::Submission s = MakeSubmission(seed, sweeps, points_per_sweep);
  s.set_machine_fingerprint(FingerprintFor(1));
  return s;
}

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = PostgresEnvironment::FreshDatabase();
    ASSERT_FALSE(url_.empty());
    auto c = InProcessCollector::Start(url_);
    ASSERT_TRUE(c.ok()) << c.status();
    collector_ = *std::move(c);
    auto agent = collector_->Enroll();
    ASSERT_TRUE(agent.ok()) << agent.status();
    token_ = agent->agent_token();
    agent_id_ = agent->agent_id();
    identity_ = collector::AgentIdentity{agent_id_, FingerprintFor(1)};
    conn_ = std::make_unique<pqxx::connection>(url_);
  }

  Reply Submit(const v1::Submission& s, const std::string& authorization) {
    auto stub = collector_->NewIngestStub();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
    v1::SubmitRequest req;
    *req.mutable_submission() = s;
    Reply r;
    r.status = stub->Submit(&ctx, req, &r.response);
    return r;
  }
  Reply Submit(const v1::Submission& s) { return Submit(s, "Bearer " + token_); }

  int64_t Count(const std::string& table) {
    pqxx::read_transaction tx(*conn_);
    // Table names come from the test itself, never from input.
    return tx.exec("SELECT count(*) FROM " + tx.quote_name(table))[0][0].as<int64_t>();
  }

  void ExpectNothingStored() {
    EXPECT_EQ(Count("submissions"), 0);
    EXPECT_EQ(Count("sweeps"), 0);
    EXPECT_EQ(Count("points"), 0);
  }

  std::string url_;
  std::unique_ptr<InProcessCollector> collector_;
  std::string token_;
  std::string agent_id_;
  collector::AgentIdentity identity_;
  std::unique_ptr<pqxx::connection> conn_;
};

TEST_F(IngestTest, SubmitStoresEveryRowAndReadsBack) {
  const v1::Submission s = Mine(42, /*sweeps=*/2, /*points_per_sweep=*/12);
  Reply r = Submit(s);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.response.submission_id(), s.submission_id());
  EXPECT_EQ(r.response.sweep_count(), 2u);
  EXPECT_EQ(r.response.point_count(), 24u);
  EXPECT_GT(r.response.received_at().seconds(), 1577836800);

  EXPECT_EQ(Count("submissions"), 1);
  EXPECT_EQ(Count("sweeps"), 2);
  EXPECT_EQ(Count("points"), 24);
  EXPECT_EQ(Count("machines"), 1);
  EXPECT_EQ(Count("devices"), 1);

  pqxx::read_transaction tx(*conn_);
  // The submission row, its raw payload and links.
  pqxx::row sub = tx.exec_params1(
      "SELECT s.agent_id::text, m.fingerprint, d.name, d.backend, d.memory_total_bytes, s.payload, "
      "s.payload_sha256, s.driver_version, s.cpu_logical_cores, s.started_at = $2::timestamptz "
      "FROM submissions s JOIN machines m USING (machine_id) JOIN devices d USING (device_id) "
      "WHERE s.submission_id = $1::uuid",
      s.submission_id(), "2025-06-01 12:00:00+00");
  EXPECT_EQ(sub[0].as<std::string>(), agent_id_);
  EXPECT_EQ(sub[1].as<std::string>(), s.machine_fingerprint());
  EXPECT_EQ(sub[2].as<std::string>(), "NVIDIA GeForce RTX 4090");
  EXPECT_EQ(sub[3].as<std::string>(), "cuda");
  EXPECT_EQ(sub[4].as<uint64_t>(), s.hardware().device().memory_total_bytes());
  const pqxx::binarystring payload(sub[5]);
  v1::Submission reparsed;
  ASSERT_TRUE(reparsed.ParseFromString(payload.str()));
  EXPECT_TRUE(MessageDifferencer::Equals(reparsed, s));
  EXPECT_EQ(sub[6].as<std::string>(), Sha256Hex(payload.str()));
  EXPECT_EQ(sub[7].as<std::string>(), "580.65.06");
  EXPECT_EQ(sub[8].as<int>(), 32);
  EXPECT_TRUE(sub[9].as<bool>());

  // Every point, compared field by field with what was sent.
  pqxx::result points = tx.exec_params(
      "SELECT sweep_index, batch_size, status, error_message, repetitions, tokens_per_second_median, "
      "tokens_per_second_min, step_seconds_mean, planned_bytes, device_delta_bytes, reproduce_command "
      "FROM points WHERE submission_id = $1::uuid ORDER BY sweep_index, batch_size",
      s.submission_id());
  ASSERT_EQ(points.size(), 24u);
  for (std::size_t i = 0; i < points.size(); ++i) {
    const v1::Point& p = s.sweeps(static_cast<int>(i / 12)).points(static_cast<int>(i % 12));
    const auto& row = points[static_cast<pqxx::result::size_type>(i)];
    EXPECT_EQ(row[0].as<int>(), static_cast<int>(i / 12));
    EXPECT_EQ(row[1].as<uint32_t>(), p.batch_size());
    EXPECT_EQ(row[2].as<std::string>(), PointStatusName(p.status()));
    EXPECT_EQ(row[3].as<std::string>(), p.error_message());
    EXPECT_EQ(row[4].as<uint32_t>(), p.repetitions());
    // Doubles survive the trip bit for bit.
    EXPECT_EQ(row[5].as<double>(), p.tokens_per_second_median());
    EXPECT_EQ(row[6].as<double>(), p.tokens_per_second_min());
    EXPECT_EQ(row[7].as<double>(), p.step_seconds_mean());
    EXPECT_EQ(row[8].as<uint64_t>(), p.planned_bytes());
    // Unknown telemetry (unset) is NULL; known figures are stored as sent.
    EXPECT_EQ(row[9].is_null(), !p.has_device_delta_bytes());
    if (p.has_device_delta_bytes()) {
      EXPECT_EQ(row[9].as<uint64_t>(), p.device_delta_bytes());
    }
    EXPECT_EQ(row[10].as<std::string>(), p.reproduce_command());
  }
  pqxx::row sweep = tx.exec_params1(
      "SELECT model_preset, kind, precision, prompt_tokens, generated_tokens, largest_ok_batch, "
      "smallest_failed_batch FROM sweeps WHERE submission_id = $1::uuid AND sweep_index = 0",
      s.submission_id());
  EXPECT_EQ(sweep[0].as<std::string>(), "llama-3.2-1b");
  EXPECT_EQ(sweep[1].as<std::string>(), "decode");
  EXPECT_EQ(sweep[2].as<std::string>(), "fp16");
  EXPECT_EQ(sweep[3].as<uint32_t>(), s.sweeps(0).workload().prompt_tokens());
  EXPECT_EQ(sweep[4].as<uint32_t>(), s.sweeps(0).workload().generated_tokens());
  EXPECT_EQ(sweep[5].as<uint32_t>(), s.sweeps(0).largest_ok_batch());
  EXPECT_EQ(sweep[6].as<uint32_t>(), s.sweeps(0).smallest_failed_batch());
}

// Issue 14's fields (schema/0006): a point skipped for time, the threshold
// source, sampled peaks and the runtime's share (NULL when unknown), the PCIe
// link and the count of other processes, stored as sent.
TEST_F(IngestTest, SecondPassFieldsAreStored) {
  v1::Submission s = Mine(43, /*sweeps=*/2, /*points_per_sweep=*/3);
  v1::Device* d = s.mutable_hardware()->mutable_device();
  d->set_pcie_generation_current(1);
  d->set_pcie_generation_max(4);
  d->set_pcie_width_current(16);
  d->set_pcie_width_max(16);
  d->set_other_processes_hold_memory(true);
  d->set_memory_used_by_others_bytes(512ull << 20);
  d->set_other_process_count(2);
  s.set_estimated_seconds(480.5);
  s.set_time_budget_seconds(600);
  v1::Sweep* sw = s.mutable_sweeps(0);
  sw->set_oom_threshold_source(v1::OOM_THRESHOLD_SOURCE_PLANNED);
  v1::Point* first = sw->mutable_points(0);
  first->set_process_peak_bytes(3ull << 30);
  first->set_runtime_memory_bytes(400ull << 20);
  first->clear_process_memory_bytes();
  v1::Point* cut = sw->add_points();
  cut->set_batch_size(sw->points(sw->points_size() - 2).batch_size() + 1);
  cut->set_status(v1::POINT_STATUS_SKIPPED_FOR_TIME);
  cut->set_error_message("not run: past the suite's time budget");
  Reply r = Submit(s);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();

  pqxx::read_transaction tx(*conn_);
  pqxx::row sub = tx.exec_params1(
      "SELECT pcie_generation_current, pcie_generation_max, pcie_width_current, pcie_width_max, "
      "other_process_count FROM submissions WHERE submission_id = $1::uuid",
      s.submission_id());
  EXPECT_EQ(sub[0].as<int>(), 1);
  EXPECT_EQ(sub[1].as<int>(), 4);
  EXPECT_EQ(sub[2].as<int>(), 16);
  EXPECT_EQ(sub[3].as<int>(), 16);
  EXPECT_EQ(sub[4].as<int>(), 2);
  pqxx::result sources = tx.exec_params(
      "SELECT oom_threshold_source FROM sweeps WHERE submission_id = $1::uuid ORDER BY sweep_index",
      s.submission_id());
  ASSERT_EQ(sources.size(), 2u);
  EXPECT_EQ(sources[0][0].as<std::string>(), "planned");
  EXPECT_EQ(sources[1][0].as<std::string>(), "unspecified");  // the builder states none
  pqxx::result points = tx.exec_params(
      "SELECT batch_size, status, process_peak_bytes, runtime_memory_bytes FROM points "
      "WHERE submission_id = $1::uuid AND sweep_index = 0 ORDER BY batch_size",
      s.submission_id());
  ASSERT_EQ(points.size(), 4u);
  EXPECT_EQ(points[0][2].as<uint64_t>(), 3ull << 30);
  EXPECT_EQ(points[0][3].as<uint64_t>(), 400ull << 20);
  EXPECT_TRUE(points[1][2].is_null());  // unknown stays NULL, not 0
  EXPECT_TRUE(points[1][3].is_null());
  EXPECT_EQ(points[3][0].as<uint32_t>(), cut->batch_size());
  EXPECT_EQ(points[3][1].as<std::string>(), "skipped_for_time");
}

TEST_F(IngestTest, TrainingDimensionsAreStoredNormalised) {
  // Sweeps: 0 decode, 1 prefill, 2 LoRA (fp32), 3 full fine-tune (fp16).
  v1::Submission s = Mine(44, /*sweeps=*/4, /*points_per_sweep=*/3);
  v1::Workload* lora = s.mutable_sweeps(2)->mutable_workload();
  lora->set_precision(v1::PRECISION_BF16);
  lora->set_activation_precision(v1::PRECISION_BF16);
  lora->set_gradient_checkpointing(true);
  lora->set_accumulation_steps(4);
  lora->set_loss_chunks(8);
  // The full fine-tune states no accounting: an agent before 2027.01 (lean).
  Reply r = Submit(s);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  pqxx::read_transaction tx(*conn_);
  pqxx::result rows = tx.exec_params(
      "SELECT activation_precision, gradient_checkpointing, accumulation_steps, full_finetune_accounting, "
      "loss_chunks FROM sweeps WHERE submission_id = $1::uuid ORDER BY sweep_index",
      s.submission_id());
  ASSERT_EQ(rows.size(), 4u);
  for (int i : {0, 1}) {  // inference: the defaults
    EXPECT_EQ(rows[i][0].as<std::string>(), "fp32");
    EXPECT_FALSE(rows[i][1].as<bool>());
    EXPECT_EQ(rows[i][2].as<int>(), 1);
    EXPECT_EQ(rows[i][3].as<std::string>(), "");
    EXPECT_EQ(rows[i][4].as<int>(), 0);
  }
  EXPECT_EQ(rows[2][0].as<std::string>(), "bf16");
  EXPECT_TRUE(rows[2][1].as<bool>());
  EXPECT_EQ(rows[2][2].as<int>(), 4);
  EXPECT_EQ(rows[2][3].as<std::string>(), "");
  EXPECT_EQ(rows[2][4].as<int>(), 8);
  EXPECT_EQ(rows[3][3].as<std::string>(), "lean");
}

TEST_F(IngestTest, SecondSubmissionReusesMachineAndDevice) {
  v1::Submission a = Mine(1);
  v1::Submission b = Mine(2);
  b.set_machine_fingerprint(a.machine_fingerprint());
  ASSERT_TRUE(Submit(a).status.ok());
  ASSERT_TRUE(Submit(b).status.ok());
  EXPECT_EQ(Count("submissions"), 2);
  EXPECT_EQ(Count("machines"), 1);
  EXPECT_EQ(Count("devices"), 1);
}

TEST_F(IngestTest, RepeatGetsTheSameReplyAndWritesNothing) {
  const v1::Submission s = Mine(7);
  Reply first = Submit(s);
  ASSERT_TRUE(first.status.ok()) << first.status.error_message();
  Reply again = Submit(s);
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  EXPECT_TRUE(MessageDifferencer::Equals(first.response, again.response))
      << first.response.DebugString() << " vs " << again.response.DebugString();
  EXPECT_EQ(Count("submissions"), 1);
  EXPECT_EQ(Count("points"), 12);
}

// 8 clients send the same submission at once to `collector`; all must get
// the same reply, and one copy must be stored.
void ExpectOneCopyFromEightClients(InProcessCollector& collector, const std::string& token,
                                   const std::function<int64_t(const std::string&)>& count) {
  const v1::Submission s = Mine(8, /*sweeps=*/3);
  constexpr int kClients = 8;
  std::vector<Reply> replies(kClients);
  std::vector<std::unique_ptr<v1::Ingest::Stub>> stubs;
  for (int i = 0; i < kClients; ++i) stubs.push_back(collector.NewIngestStub());
  std::barrier start(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      SetBearer(ctx, token);
      v1::SubmitRequest req;
      *req.mutable_submission() = s;
      start.arrive_and_wait();  // release all clients together
      replies[static_cast<std::size_t>(i)].status =
          stubs[static_cast<std::size_t>(i)]->Submit(&ctx, req, &replies[static_cast<std::size_t>(i)].response);
    });
  }
  for (auto& t : threads) t.join();
  for (const Reply& r : replies) {
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_TRUE(MessageDifferencer::Equals(r.response, replies[0].response));
  }
  EXPECT_EQ(count("submissions"), 1);
  EXPECT_EQ(count("sweeps"), 3);
  EXPECT_EQ(count("points"), 36);
  EXPECT_EQ(count("machines"), 1);
  EXPECT_EQ(count("devices"), 1);
}

TEST_F(IngestTest, EightConcurrentIdenticalSubmitsStoreOneCopy) {
  // Default writers: twins may share one group transaction or meet across two.
  ExpectOneCopyFromEightClients(*collector_, token_, [this](const std::string& t) { return Count(t); });
}

TEST_F(IngestTest, EightConcurrentIdenticalSubmitsStoreOneCopyWithOneWriter) {
  // One writer: every twin lands in a group after (or with) the first.
  collector::CollectorOptions options;
  options.group_commit_writers = 1;
  auto single = InProcessCollector::Start(url_, options);
  ASSERT_TRUE(single.ok()) << single.status();
  ExpectOneCopyFromEightClients(**single, token_, [this](const std::string& t) { return Count(t); });
}

TEST_F(IngestTest, ConcurrentDistinctSubmitsAreAllStored) {
  constexpr int kClients = 8;
  constexpr int kEach = 6;
  std::vector<grpc::Status> statuses(kClients * kEach);
  std::barrier start(kClients);
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      auto stub = collector_->NewIngestStub();
      start.arrive_and_wait();
      for (int k = 0; k < kEach; ++k) {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
        SetBearer(ctx, token_);
        v1::SubmitRequest req;
        *req.mutable_submission() = Mine(1000 + static_cast<uint64_t>(t * kEach + k));
        v1::SubmitResponse resp;
        statuses[static_cast<std::size_t>(t * kEach + k)] = stub->Submit(&ctx, req, &resp);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& st : statuses) EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(Count("submissions"), kClients * kEach);
  EXPECT_EQ(Count("points"), kClients * kEach * 12);
  EXPECT_EQ(Count("machines"), 1);  // one enrolled agent, one machine
}

TEST_F(IngestTest, ImpossibleRowFailsAloneEvenWhenBatched) {
  // Straight to the store, skipping validation: the schema's CHECKs refuse
  // the NaN. Whether or not it shared a group-commit transaction with the
  // good ones, it alone fails and they are stored.
  constexpr int kWriters = 6;
  std::vector<absl::StatusOr<v1::SubmitResponse>> results(kWriters, absl::UnknownError("not run"));
  std::barrier start(kWriters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      v1::Submission s = Mine(2000 + static_cast<uint64_t>(i));
      if (i == 3) s.mutable_sweeps(0)->mutable_points(2)->set_tokens_per_second_median(kNaN);
      start.arrive_and_wait();
      results[static_cast<std::size_t>(i)] = collector_->server().store().Submit(identity_, s);
    });
  }
  for (auto& th : threads) th.join();
  for (int i = 0; i < kWriters; ++i) {
    if (i == 3) {
      EXPECT_EQ(results[3].status().code(), absl::StatusCode::kInvalidArgument) << results[3].status();
    } else {
      EXPECT_TRUE(results[static_cast<std::size_t>(i)].ok()) << results[static_cast<std::size_t>(i)].status();
    }
  }
  EXPECT_EQ(Count("submissions"), kWriters - 1);
  EXPECT_EQ(Count("points"), (kWriters - 1) * 12);
}

TEST_F(IngestTest, GroupSharesOneStatementAndStaysExactlyOnce) {
  // What group commit does with concurrent submissions, made deterministic.
  const v1::Submission first = Mine(3000);
  Reply stored = Submit(first);  // machine and device become known
  ASSERT_TRUE(stored.status.ok()) << stored.status.error_message();
  std::vector<v1::Submission> group;
  for (uint64_t k = 1; k <= 5; ++k) {
    v1::Submission s = Mine(3000 + k, 2);
    s.set_machine_fingerprint(first.machine_fingerprint());
    group.push_back(s);
  }
  group.push_back(group[1]);  // a twin inside the group
  group.push_back(first);     // a repeat of a stored one
  v1::Submission conflicting = first;
  conflicting.mutable_software()->set_agent_version("v0.2.0");
  group.push_back(conflicting);
  const auto results = collector_->server().store().SubmitMany(identity_, group);
  ASSERT_EQ(results.size(), group.size());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(results[static_cast<std::size_t>(i)].ok()) << results[static_cast<std::size_t>(i)].status();
    EXPECT_EQ(results[static_cast<std::size_t>(i)]->submission_id(), group[static_cast<std::size_t>(i)].submission_id());
    EXPECT_EQ(results[static_cast<std::size_t>(i)]->point_count(), 24u);
    // One statement, one transaction: one received_at for all five.
    EXPECT_TRUE(MessageDifferencer::Equals(results[static_cast<std::size_t>(i)]->received_at(), results[0]->received_at()));
  }
  ASSERT_TRUE(results[5].ok()) << results[5].status();
  EXPECT_TRUE(MessageDifferencer::Equals(*results[5], *results[1]));
  ASSERT_TRUE(results[6].ok()) << results[6].status();
  EXPECT_TRUE(MessageDifferencer::Equals(*results[6], stored.response));
  EXPECT_EQ(results[7].status().code(), absl::StatusCode::kAlreadyExists) << results[7].status();
  EXPECT_EQ(Count("submissions"), 6);
  EXPECT_EQ(Count("sweeps"), 1 + 5 * 2);
  EXPECT_EQ(Count("points"), 12 + 5 * 24);
  // The stored rows read back like a lone submission's.
  pqxx::read_transaction tx(*conn_);
  const pqxx::binarystring payload(
      tx.exec_params1("SELECT payload FROM submissions WHERE submission_id = $1::uuid", group[3].submission_id())[0]);
  v1::Submission reparsed;
  ASSERT_TRUE(reparsed.ParseFromString(payload.str()));
  EXPECT_TRUE(MessageDifferencer::Equals(reparsed, group[3]));
  EXPECT_EQ(tx.exec_params1("SELECT tokens_per_second_median FROM points WHERE submission_id = $1::uuid AND "
                            "sweep_index = 1 AND batch_size = 4",
                            group[3].submission_id())[0]
                .as<double>(),
            group[3].sweeps(1).points(1).tokens_per_second_median());
}

TEST_F(IngestTest, GroupWithAnImpossibleRowWritesTheOthers) {
  // Straight to the store, skipping validation: the schema's CHECKs refuse
  // the NaN, the shared statement rolls back, and the others are written
  // one by one.
  const v1::Submission first = Mine(4000);
  ASSERT_TRUE(Submit(first).status.ok());
  std::vector<v1::Submission> group;
  for (uint64_t k = 1; k <= 4; ++k) {
    v1::Submission s = Mine(4000 + k);
    s.set_machine_fingerprint(first.machine_fingerprint());
    group.push_back(s);
  }
  group[2].mutable_sweeps(0)->mutable_points(3)->set_tokens_per_second_median(kNaN);
  const auto results = collector_->server().store().SubmitMany(identity_, group);
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kInvalidArgument) << results[2].status();
  for (std::size_t i : {0u, 1u, 3u}) EXPECT_TRUE(results[i].ok()) << results[i].status();
  EXPECT_EQ(Count("submissions"), 4);
  EXPECT_EQ(Count("points"), 4 * 12);
}

TEST_F(IngestTest, ConflictingDuplicateIsAlreadyExists) {
  const v1::Submission s = Mine(9);
  ASSERT_TRUE(Submit(s).status.ok());
  v1::Submission other = s;
  other.mutable_sweeps(0)->mutable_points(0)->set_tokens_per_second_median(
      s.sweeps(0).points(0).tokens_per_second_median() * 1.001);
  other.mutable_sweeps(0)->mutable_points(0)->set_tokens_per_second_max(
      s.sweeps(0).points(0).tokens_per_second_max() * 1.01);
  Reply r = Submit(other);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << r.status.error_message();
  EXPECT_NE(r.status.error_message().find(s.submission_id()), std::string::npos);
  EXPECT_EQ(Count("submissions"), 1);
  EXPECT_EQ(Count("points"), 12);
  // The stored copy is still the first.
  pqxx::read_transaction tx(*conn_);
  const double stored = tx.exec_params1("SELECT tokens_per_second_median FROM points WHERE batch_size = 1")[0]
                            .as<double>();
  EXPECT_EQ(stored, s.sweeps(0).points(0).tokens_per_second_median());
}

TEST_F(IngestTest, MissingOrWrongTokenIsUnauthenticated) {
  const v1::Submission s = Mine(10);
  for (const std::string& auth :
       {std::string(), std::string("Bearer "), std::string("Bearer ") + std::string(64, '0'),
        std::string("Basic ") + token_, token_, std::string("Bearer ") + token_ + "x"}) {
    Reply r = Submit(s, auth);
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << "authorization: " << auth;
  }
  ExpectNothingStored();
}

TEST_F(IngestTest, EnrollStoresOnlyTheTokenHash) {
  pqxx::read_transaction tx(*conn_);
  pqxx::row row = tx.exec_params1("SELECT token_sha256 FROM agents WHERE agent_id = $1::uuid", agent_id_);
  EXPECT_EQ(row[0].as<std::string>(), Sha256Hex(token_));
  EXPECT_EQ(token_.size(), 64u);
  // The token itself appears in no column of the agents table.
  EXPECT_EQ(tx.exec_params1("SELECT count(*) FROM agents a WHERE strpos(a::text, $1) > 0", token_)[0].as<int>(),
            0);
}

TEST_F(IngestTest, EnrollRejectsBadRequest) {
  auto r = collector_->Enroll("not-a-fingerprint");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(r.status().message()).find("machine_fingerprint"), std::string::npos);
}

TEST_F(IngestTest, SqlAndQuotesInStringsAreStoredVerbatim) {
  v1::Submission s = Mine(11);
  const std::string evil_name = "RTX 4090'); DROP TABLE submissions; -- \"quoted\" \\ back\\slash";
  const std::string evil_message = "'; DELETE FROM points WHERE '1'='1'; -- \t\n\xe2\x9c\x93 done";
  s.mutable_hardware()->mutable_device()->set_name(evil_name);
  s.mutable_sweeps(0)->mutable_points(11)->set_error_message(evil_message);
  s.mutable_sweeps(0)->mutable_points(0)->set_reproduce_command("$1 $2 ${x} $$ %s %n {}");
  Reply r = Submit(s);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(Count("submissions"), 1);
  EXPECT_EQ(Count("points"), 12);
  pqxx::read_transaction tx(*conn_);
  EXPECT_EQ(tx.exec1("SELECT name FROM devices")[0].as<std::string>(), evil_name);
  EXPECT_EQ(tx.exec1("SELECT error_message FROM points WHERE status = 'oom'")[0].as<std::string>(),
            evil_message);
  EXPECT_EQ(tx.exec1("SELECT reproduce_command FROM points WHERE batch_size = 1")[0].as<std::string>(),
            "$1 $2 ${x} $$ %s %n {}");
}

// One broken field each; every one must name its field and store nothing.
struct Hostile {
  const char* name;
  std::function<void(v1::Submission&)> mutate;
  const char* field;
};

class HostileInputTest : public IngestTest, public ::testing::WithParamInterface<Hostile> {};

TEST_P(HostileInputTest, RejectedWithFieldNameAndNothingStored) {
  v1::Submission s = Mine(12, 2);
  GetParam().mutate(s);
  Reply r = Submit(s);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << r.status.error_message();
  EXPECT_EQ(r.status.error_message().rfind(GetParam().field, 0), 0u)
      << "message should start with " << GetParam().field << ": " << r.status.error_message();
  ExpectNothingStored();
  EXPECT_EQ(Count("machines"), 0);
  EXPECT_EQ(Count("devices"), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Ingest, HostileInputTest,
    ::testing::Values(
        Hostile{"NulInDeviceName",
                [](v1::Submission& s) {
                  s.mutable_hardware()->mutable_device()->set_name(std::string("RTX\0 4090", 9));
                },
                "hardware.device.name:"},
        Hostile{"NulInErrorMessage",
                [](v1::Submission& s) {
                  s.mutable_sweeps(1)->mutable_points(11)->set_error_message(std::string("oom\0", 4));
                },
                "sweeps[1].points[11].error_message:"},
        Hostile{"NaNThroughput",
                [](v1::Submission& s) { s.mutable_sweeps(1)->mutable_points(2)->set_tokens_per_second_median(kNaN); },
                "sweeps[1].points[2].tokens_per_second_median:"},
        Hostile{"InfiniteLatency",
                [](v1::Submission& s) { s.mutable_sweeps(0)->mutable_points(0)->set_step_seconds_max(kInf); },
                "sweeps[0].points[0].step_seconds_max:"},
        Hostile{"NegativeLatency",
                [](v1::Submission& s) { s.mutable_sweeps(0)->mutable_points(3)->set_step_seconds_min(-0.5); },
                "sweeps[0].points[3].step_seconds_min:"},
        // A negative size sent as a signed varint arrives as a huge uint64.
        Hostile{"NegativeMemorySize",
                [](v1::Submission& s) {
                  s.mutable_hardware()->mutable_device()->set_memory_total_bytes(static_cast<uint64_t>(-1));
                },
                "hardware.device.memory_total_bytes:"},
        Hostile{"NegativePlannedBytes",
                [](v1::Submission& s) {
                  s.mutable_sweeps(0)->mutable_points(1)->set_planned_bytes(static_cast<uint64_t>(int64_t{-4096}));
                },
                "sweeps[0].points[1].planned_bytes:"},
        Hostile{"SqlInSubmissionId",
                [](v1::Submission& s) { s.set_submission_id("1'; DROP TABLE points; --"); },
                "submission_id:"},
        Hostile{"SqlInPreset",
                [](v1::Submission& s) {
                  s.mutable_sweeps(0)->mutable_workload()->set_model_preset("x' OR '1'='1");
                },
                "sweeps[0].workload.model_preset:"},
        Hostile{"BatchesOutOfOrder",
                [](v1::Submission& s) { s.mutable_sweeps(1)->mutable_points(5)->set_batch_size(1); },
                "sweeps[1].points[5].batch_size:"},
        Hostile{"BracketInconsistent",
                [](v1::Submission& s) { s.mutable_sweeps(0)->set_smallest_failed_batch(2); },
                "sweeps[0].smallest_failed_batch:"},
        Hostile{"NoSweeps", [](v1::Submission& s) { s.clear_sweeps(); }, "sweeps:"},
        Hostile{"HugeErrorMessage",
                [](v1::Submission& s) {
                  s.mutable_sweeps(0)->mutable_points(11)->set_error_message(std::string(100000, 'x'));
                },
                "sweeps[0].points[11].error_message:"}),
    [](const ::testing::TestParamInfo<Hostile>& param_info) { return std::string(param_info.param.name); });

TEST_F(IngestTest, TenMegabyteMessageIsResourceExhausted) {
  v1::Submission s = Mine(13);
  s.mutable_sweeps(0)->mutable_points(0)->set_reproduce_command(std::string(10 * 1000 * 1000, 'a'));
  Reply r = Submit(s);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << r.status.error_message();
  ExpectNothingStored();
  // The server is still healthy afterwards.
  EXPECT_TRUE(Submit(Mine(14)).status.ok());
}

TEST_F(IngestTest, MissingSubmissionIsInvalid) {
  auto stub = collector_->NewIngestStub();
  grpc::ClientContext ctx;
  SetBearer(ctx, token_);
  v1::SubmitRequest req;
  v1::SubmitResponse resp;
  grpc::Status st = stub->Submit(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message().rfind("submission", 0), 0u);
  ExpectNothingStored();
}

TEST_F(IngestTest, CancelledBeforeCommitStoresNothing) {
  // The store polls the client's liveness while the group forms and just
  // before committing; a client that has gone gets CANCELLED, nothing stored.
  const v1::Submission s = Mine(15);
  auto stored = collector_->server().store().Submit(identity_, s, [] { return true; });
  EXPECT_EQ(stored.status().code(), absl::StatusCode::kCancelled);
  ExpectNothingStored();
  // And the same submission goes through afterwards: nothing was half-stored.
  EXPECT_TRUE(Submit(s).status.ok());
  EXPECT_EQ(Count("points"), 12);
  // Once machine and device are known, the same.
  v1::Submission next = Mine(16);
  next.set_machine_fingerprint(s.machine_fingerprint());
  auto again = collector_->server().store().Submit(identity_, next, [] { return true; });
  EXPECT_EQ(again.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(Count("submissions"), 1);
  EXPECT_EQ(Count("points"), 12);
}

TEST_F(IngestTest, ClientGoneJustBeforeCommitStoresNothing) {
  // Still there when the group forms, gone once its rows are written: the
  // group transaction rolls back and is redone without it.
  int polls = 0;
  auto stored = collector_->server().store().Submit(identity_, Mine(17), [&polls] { return ++polls > 1; });
  EXPECT_EQ(stored.status().code(), absl::StatusCode::kCancelled) << stored.status();
  EXPECT_GE(polls, 2);
  ExpectNothingStored();
  pqxx::read_transaction tx(*conn_);
  EXPECT_EQ(tx.exec1("SELECT version FROM data_version_counter")[0].as<int64_t>(), 0);
}

}  // namespace
}  // namespace localbench::test_support
