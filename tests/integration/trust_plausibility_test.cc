// Plausibility at ingest, end to end: real submissions over loopback gRPC
// into a real PostgreSQL. Each reason is provoked by one changed figure of
// an otherwise plausible submission; the submission must be stored, carry
// that reason (GetSubmission), be hidden from public data, and come back
// when an editor restores it. Outliers are judged against other machines.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "localbench/collector/tables.h"
#include "localbench/test_support/in_process_collector.h"
#include "localbench/test_support/postgres_environment.h"
#include "localbench/test_support/submission_builder.h"

LOCALBENCH_USE_THROWAWAY_POSTGRES();

namespace localbench::test_support {
namespace {

constexpr uint64_t kGiB = 1ULL << 30;

class PlausibilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = PostgresEnvironment::FreshDatabase();
    ASSERT_FALSE(url_.empty());
    auto c = InProcessCollector::Start(url_);
    ASSERT_TRUE(c.ok()) << c.status();
    collector_ = *std::move(c);
    stub_ = collector_->NewIngestStub();
    auto pool = collector::ConnectionPool::Create(url_, 1);
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = *std::move(pool);
  }

  // Submits `s` over gRPC with an agent enrolled for its machine; the
  // collector must accept it (implausible is stored, not refused).
  void Submit(const v1::Submission& s) {
    auto it = tokens_.find(s.machine_fingerprint());
    if (it == tokens_.end()) {
      auto agent = collector_->Enroll(s.machine_fingerprint());
      ASSERT_TRUE(agent.ok()) << agent.status();
      it = tokens_.emplace(s.machine_fingerprint(), agent->agent_token()).first;
    }
    grpc::ClientContext ctx;
    SetBearer(ctx, it->second);
    v1::SubmitRequest request;
    *request.mutable_submission() = s;
    v1::SubmitResponse response;
    grpc::Status st = stub_->Submit(&ctx, request, &response);
    ASSERT_TRUE(st.ok()) << st.error_code() << ": " << st.error_message();
  }

  v1::GetSubmissionResponse Get(const std::string& id) {
    v1::GetSubmissionRequest request;
    request.set_submission_id(id);
    auto r = collector_->server().tables().GetSubmission(request);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::GetSubmissionResponse();
  }

  std::vector<std::string> Reasons(const std::string& id) {
    std::vector<std::string> out;
    const v1::GetSubmissionResponse got = Get(id);
    for (const auto& f : got.plausibility_findings()) out.push_back(f.reason());
    return out;
  }

  // Whether `id` is in the public data at the newest version.
  bool Public(const std::string& id) {
    pqxx::connection conn(url_);
    pqxx::work tx(conn);
    return tx.exec_params1("SELECT count(*) FROM lb_visible_submissions((SELECT version FROM data_version_counter)) "
                           "WHERE submission_id = $1::uuid",
                           id)[0]
               .as<int>() == 1;
  }

  std::string url_;
  std::unique_ptr<InProcessCollector> collector_;
  std::unique_ptr<v1::Ingest::Stub> stub_;
  std::unique_ptr<collector::ConnectionPool> pool_;
  std::map<std::string, std::string> tokens_;  // machine fingerprint -> agent token
};

// The builder's submission (RTX 4090, llama-3.2-1b: decode fp16, prefill
// bf16, LoRA fp32, full fp16; batches 1, 4, 9 ok and 16 out of memory) is
// plausible as built: the baseline every case below departs from.
TEST_F(PlausibilityTest, PlausibleSubmissionIsPublicWithoutFindings) {
  const v1::Submission s = MakeSubmission(1, 4, 4);
  Submit(s);
  EXPECT_TRUE(Reasons(s.submission_id()).empty());
  EXPECT_FALSE(Get(s.submission_id()).flagged());
  EXPECT_TRUE(Public(s.submission_id()));
}

// Scales one OK point's speed, keeping its timings consistent.
void Speed(v1::Point* p, double factor) {
  p->set_tokens_per_second_median(p->tokens_per_second_median() * factor);
  p->set_tokens_per_second_min(p->tokens_per_second_min() * factor);
  p->set_tokens_per_second_max(p->tokens_per_second_max() * factor);
  p->set_step_seconds_median(p->step_seconds_median() / factor);
  p->set_step_seconds_min(p->step_seconds_min() / factor);
  p->set_step_seconds_max(p->step_seconds_max() / factor);
  p->set_step_seconds_mean(p->step_seconds_mean() / factor);
}

struct Case {
  const char* name;
  const char* reason;  // the finding it must produce
  const char* field;   // ... on this field
  std::function<void(v1::Submission&)> change;
};

class ReasonTest : public PlausibilityTest, public ::testing::WithParamInterface<Case> {};

TEST_P(ReasonTest, StoredFlaggedWithItsReasonAndRestorable) {
  v1::Submission s = MakeSubmission(7, 4, 4);
  GetParam().change(s);
  Submit(s);
  const v1::GetSubmissionResponse got = Get(s.submission_id());
  ASSERT_GT(got.plausibility_findings_size(), 0) << "no finding";
  bool found = false;
  for (const auto& f : got.plausibility_findings()) {
    found = found || (f.reason() == GetParam().reason && f.field() == GetParam().field);
    EXPECT_FALSE(f.detail().empty());
  }
  EXPECT_TRUE(found) << "expected " << GetParam().reason << " on " << GetParam().field << "; got "
                     << got.ShortDebugString();
  EXPECT_TRUE(got.flagged());
  EXPECT_NE(got.flag_reason().find(GetParam().reason), std::string::npos) << got.flag_reason();
  EXPECT_FALSE(Public(s.submission_id()));
  // The payload is stored as received.
  EXPECT_EQ(got.submission().sweeps_size(), 4);

  // An editor's restore makes it public; the findings stay on record.
  auto v = collector::RecordModeration(*pool_, s.submission_id(), "restore", "checked by hand", "editor@test");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_TRUE(Public(s.submission_id()));
  const v1::GetSubmissionResponse restored = Get(s.submission_id());
  EXPECT_FALSE(restored.flagged());
  EXPECT_EQ(restored.plausibility_findings_size(), got.plausibility_findings_size());
}

INSTANTIATE_TEST_SUITE_P(
    EachReason, ReasonTest,
    ::testing::Values(
        // A "4090" with 80 GiB: the catalogue's has 24.
        Case{"MemoryAboveDevice", "memory_above_device", "hardware.device.memory_total_bytes",
             [](v1::Submission& s) {
               s.mutable_hardware()->mutable_device()->set_memory_total_bytes(80 * kGiB);
               s.mutable_hardware()->mutable_device()->set_memory_free_at_start_bytes(79 * kGiB);
             }},
        // Decode at batch 9 a hundred times faster than the card's bandwidth allows.
        Case{"AboveRooflineDecode", "above_roofline", "sweeps[0].points[2].tokens_per_second_median",
             [](v1::Submission& s) { Speed(s.mutable_sweeps(0)->mutable_points(2), 100); }},
        // Prefill beyond the card's peak compute.
        Case{"AboveRooflinePrefill", "above_roofline", "sweeps[1].points[0].tokens_per_second_median",
             [](v1::Submission& s) { Speed(s.mutable_sweeps(1)->mutable_points(0), 1000); }},
        // Training beyond the card's peak compute.
        Case{"AboveRooflineTraining", "above_roofline", "sweeps[3].points[1].tokens_per_second_median",
             [](v1::Submission& s) { Speed(s.mutable_sweeps(3)->mutable_points(1), 100); }},
        // Batch 16 "ran out of memory" needing less than batch 9 used.
        Case{"OomBracket", "oom_bracket_inconsistent", "sweeps[0].smallest_failed_batch",
             [](v1::Submission& s) { s.mutable_sweeps(0)->mutable_points(3)->set_planned_bytes(2 * kGiB); }},
        // 1 GiB peak for 2.5 GB of fp16 weights (plan, arena and device agree).
        Case{"PeakBelowWeights", "peak_below_weights", "sweeps[0].points[0].arena_peak_bytes",
             [](v1::Submission& s) {
               v1::Point* p = s.mutable_sweeps(0)->mutable_points(0);
               p->set_planned_bytes(kGiB);
               p->set_arena_peak_bytes(kGiB);
               p->set_device_delta_bytes(kGiB);
               p->set_process_memory_bytes(2 * kGiB);
             }},
        // The arena used half again its own plan.
        Case{"PeakOffPlan", "peak_off_plan", "sweeps[1].points[1].arena_peak_bytes",
             [](v1::Submission& s) {
               v1::Point* p = s.mutable_sweeps(1)->mutable_points(1);
               p->set_arena_peak_bytes(p->planned_bytes() * 3 / 2);
               p->set_device_delta_bytes(p->arena_peak_bytes());
               p->set_process_memory_bytes(p->arena_peak_bytes() + kGiB);
             }},
        // The device gave less than the arena held.
        Case{"DeviceDeltaBelowArena", "peak_off_plan", "sweeps[0].points[1].device_delta_bytes",
             [](v1::Submission& s) { s.mutable_sweeps(0)->mutable_points(1)->set_device_delta_bytes(kGiB); }},
        // Twice the tokens/s its own step time gives.
        Case{"TokensPerSecondVsStep", "timings_inconsistent", "sweeps[0].points[1].tokens_per_second_median",
             [](v1::Submission& s) {
               v1::Point* p = s.mutable_sweeps(0)->mutable_points(1);
               p->set_step_seconds_median(p->step_seconds_median() / 2);
               p->set_step_seconds_min(p->step_seconds_median() * 0.99);
               p->set_step_seconds_mean(p->step_seconds_median());
             }},
        // 20 repetitions reported, 5 declared by the command that ran it.
        Case{"RepetitionsAsDeclared", "timings_inconsistent", "sweeps[2].points[0].repetitions",
             [](v1::Submission& s) {
               v1::Point* p = s.mutable_sweeps(2)->mutable_points(0);
               p->set_reproduce_command(p->reproduce_command() + " --repetitions 5");
             }},
        // One repetition with a spread.
        Case{"OneRepetitionWithSpread", "timings_inconsistent", "sweeps[0].points[0].step_seconds_max",
             [](v1::Submission& s) { s.mutable_sweeps(0)->mutable_points(0)->set_repetitions(1); }},
        // A 9 GHz GPU.
        Case{"ClockTooHigh", "clock_implausible", "sweeps[1].points[2].sm_clock_mhz",
             [](v1::Submission& s) { s.mutable_sweeps(1)->mutable_points(2)->set_sm_clock_mhz(9000); }},
        // Throttle bits no driver defines.
        Case{"UnknownThrottleBits", "clock_implausible", "sweeps[0].points[0].throttle_reasons",
             [](v1::Submission& s) { s.mutable_sweeps(0)->mutable_points(0)->set_throttle_reasons(1ULL << 40); }},
        // Hardware thermal slowdown during the run.
        Case{"ThermalThrottle", "throttled", "sweeps[3].points[2].throttle_reasons",
             [](v1::Submission& s) { s.mutable_sweeps(3)->mutable_points(2)->set_throttle_reasons(0x40); }}),
    [](const ::testing::TestParamInfo<Case>& p) { return std::string(p.param.name); });

// One machine's speed among `machines` others of the same model (no
// finding needed for them), then a machine at `factor` of their speed.
class OutlierTest : public PlausibilityTest {
 protected:
  std::string SubmitAgainst(int machines, double factor) {
    for (int m = 0; m < machines; ++m) {
      v1::Submission s = MakeSubmission(100 + static_cast<uint64_t>(m), 1, 4);
      Submit(s);
      EXPECT_TRUE(Reasons(s.submission_id()).empty()) << "peer " << m;
    }
    v1::Submission odd = MakeSubmission(500, 1, 4);
    for (auto& p : *odd.mutable_sweeps(0)->mutable_points()) {
      if (p.status() == v1::POINT_STATUS_OK) Speed(&p, factor);
    }
    Submit(odd);
    return odd.submission_id();
  }
};

TEST_F(OutlierTest, FarFromFiveMachinesIsFlagged) {
  // 2x the others' speed: well under the roofline, but no peer agrees.
  const std::string id = SubmitAgainst(5, 2.0);
  const std::vector<std::string> reasons = Reasons(id);
  EXPECT_EQ(std::count(reasons.begin(), reasons.end(), "outlier"), 3) << "each OK batch (1, 4, 9)";
  EXPECT_EQ(reasons.size(), 3u);
  EXPECT_FALSE(Public(id));
}

TEST_F(OutlierTest, SlowOutlierIsFlaggedToo) {
  const std::string id = SubmitAgainst(5, 0.5);
  EXPECT_FALSE(Reasons(id).empty());
  EXPECT_FALSE(Public(id));
}

TEST_F(OutlierTest, WithinTheBandIsPublic) {
  // 15% faster: beyond the peers' +-3% jitter, inside the 25% floor.
  const std::string id = SubmitAgainst(5, 1.15);
  EXPECT_TRUE(Reasons(id).empty());
  EXPECT_TRUE(Public(id));
}

TEST_F(OutlierTest, FourMachinesAreTooFewToJudge) {
  const std::string id = SubmitAgainst(4, 2.0);
  EXPECT_TRUE(Reasons(id).empty());
  EXPECT_TRUE(Public(id));
}

TEST_F(OutlierTest, AMachineIsNeverItsOwnBaseline) {
  // Five earlier runs of the same machine make no baseline for it.
  for (int i = 0; i < 5; ++i) {
    v1::Submission s = MakeSubmission(600 + static_cast<uint64_t>(i), 1, 4);
    s.set_machine_fingerprint(FingerprintFor(600));
    Submit(s);
  }
  v1::Submission again = MakeSubmission(700, 1, 4);
  again.set_machine_fingerprint(FingerprintFor(600));
  for (auto& p : *again.mutable_sweeps(0)->mutable_points()) {
    if (p.status() == v1::POINT_STATUS_OK) Speed(&p, 2.0);
  }
  Submit(again);
  EXPECT_TRUE(Reasons(again.submission_id()).empty());
}

TEST_F(OutlierTest, FlaggedDataIsNoBaseline) {
  // Five machines, all flagged for another reason, make no baseline.
  for (int m = 0; m < 5; ++m) {
    v1::Submission s = MakeSubmission(800 + static_cast<uint64_t>(m), 1, 4);
    s.mutable_sweeps(0)->mutable_points(0)->set_sm_clock_mhz(9000);
    Submit(s);
    ASSERT_FALSE(Reasons(s.submission_id()).empty());
  }
  v1::Submission odd = MakeSubmission(900, 1, 4);
  for (auto& p : *odd.mutable_sweeps(0)->mutable_points()) {
    if (p.status() == v1::POINT_STATUS_OK) Speed(&p, 2.0);
  }
  Submit(odd);
  EXPECT_TRUE(Reasons(odd.submission_id()).empty());
}

}  // namespace
}  // namespace localbench::test_support
