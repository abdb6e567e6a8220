// Will it run, LargestModel and StackUp on a real PostgreSQL: the plan path
// (the seed's example), the measured path, speed scaled from other hardware,
// the accumulation advice, and bad input.
#include <cmath>
#include <string>

#include "localbench/kernels/plan.h"
#include "localbench/kernels/presets.h"
#include "tables_fixture.h"

namespace localbench::test_support {
namespace {

// The seed's example: Llama 3.1 8B LoRA, bf16, 256 tokens.
v1::WillItRunRequest SeedExample(uint32_t batch) {
  v1::WillItRunRequest req;
  req.set_device_model("rtx-4090-24gb");
  req.mutable_workload()->set_model_preset("llama-3.1-8b");
  req.mutable_workload()->set_kind(v1::WORKLOAD_KIND_TRAIN_LORA);
  req.mutable_workload()->set_precision(v1::PRECISION_BF16);
  req.mutable_workload()->set_sequence_tokens(256);
  req.set_batch_size(batch);
  return req;
}

// What the plan says for the seed example at `batch` (rank 16: the suite's).
uint64_t SeedPlan(int64_t batch) {
  kernels::WorkloadConfig c;
  c.kind = kernels::WorkloadKind::kTrainLora;
  c.preset = *kernels::FindPreset("llama-3.1-8b");
  c.precision = kernels::DType::kBF16;
  c.batch = batch;
  c.sequence_tokens = 256;
  c.lora_rank = 16;
  return kernels::PlanMemory(c)->total_bytes;
}

TEST_F(TablesTest, SeedExampleLlama8bLoraOn24GbCard) {
  // With no measurements, the runtime's reserve is the stated 512 MiB.
  const uint64_t memory = 24 * kGiB;
  const uint64_t reserve = 512ULL << 20;
  std::printf("plan: batch 1 %.2f GB, batch 2 %.2f GB, batch 4 %.2f GB\n", SeedPlan(1) / 1e9, SeedPlan(2) / 1e9,
              SeedPlan(4) / 1e9);
  ASSERT_LE(SeedPlan(1) + reserve, memory);  // the premise: batch 1 fits ...
  ASSERT_GT(SeedPlan(4) + reserve, memory);  // ... and batch 4 does not

  auto one = tables().WillItRun(SeedExample(1));
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_NE(one->fit(), v1::FIT_DOES_NOT_FIT);
  EXPECT_EQ(one->required_bytes().value(), static_cast<double>(SeedPlan(1) + reserve));
  EXPECT_EQ(one->required_bytes().basis(), v1::BASIS_PREDICTED);
  EXPECT_EQ(one->margin_bytes(), static_cast<int64_t>(memory - SeedPlan(1) - reserve));
  EXPECT_EQ(one->suggested_accumulation_steps(), 0u);

  auto four = tables().WillItRun(SeedExample(4));
  ASSERT_TRUE(four.ok()) << four.status();
  EXPECT_EQ(four->fit(), v1::FIT_DOES_NOT_FIT);
  EXPECT_LT(four->margin_bytes(), 0);
  // The advice is the largest micro-batch dividing 4 that the plan fits.
  const uint32_t micro = SeedPlan(2) + reserve <= memory ? 2 : 1;
  EXPECT_EQ(four->suggested_micro_batch(), micro);
  EXPECT_EQ(four->suggested_accumulation_steps(), 4 / micro);
  EXPECT_NE(four->advice().find(absl::StrCat("batch ", micro, " x accumulation ", 4 / micro)), std::string::npos)
      << four->advice();
  std::printf("advice: %s\n", four->advice().c_str());
  // Headroom from the same plan: the largest batch, the longest sequence.
  const double largest = four->largest_batch().value();
  EXPECT_GE(largest, 1);
  EXPECT_LE(SeedPlan(static_cast<int64_t>(largest)) + reserve, memory);
  EXPECT_GT(SeedPlan(static_cast<int64_t>(largest) + 1) + reserve, memory);
  EXPECT_GE(one->longest_sequence_tokens().value(), 256);
  // Every answer states its basis and how to measure it.
  EXPECT_EQ(four->largest_batch().basis(), v1::BASIS_PREDICTED);
  EXPECT_GT(four->required_bytes().error_band(), 0);
  bool says_rank = false, says_reserve = false;
  for (const auto& a : four->assumptions()) {
    says_rank |= a.find("LoRA rank 16") != std::string::npos;
    says_reserve |= a.find("assumed") != std::string::npos;
  }
  EXPECT_TRUE(says_rank && says_reserve);
  EXPECT_EQ(four->measure_command(),
            "localbench-agent run --device cuda --presets llama-3.1-8b --workloads train-lora --precisions bf16 "
            "--sequence-tokens 256 --activation-precision fp32 --gradient-checkpointing off "
            "--accumulation-steps 1 --loss-chunks 0 --batches 4");
  // No speed was measured anywhere: said so, not guessed.
  EXPECT_EQ(four->tokens_per_second().basis(), v1::BASIS_UNSPECIFIED);
  EXPECT_NE(four->tokens_per_second().method().find("unknown"), std::string::npos);
}

TEST_F(TablesTest, MeasuredFiguresComeFirstAndSpeedScalesFromNearestHardware) {
  Variant v3090;
  v3090.device_name = "NVIDIA GeForce RTX 3090";
  v3090.sweeps = 1;  // decode, fp16
  const v1::Submission measured = Build(1, 1, v3090);
  Store(measured);
  v1::WillItRunRequest req;
  req.set_device_model("rtx-3090-24gb");
  *req.mutable_workload() = KeyOf(measured, 0);
  req.set_batch_size(4);
  auto own = tables().WillItRun(req);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->tokens_per_second().basis(), v1::BASIS_MEASURED);
  EXPECT_EQ(own->tokens_per_second().machine_count(), 1u);
  const double tps4 = measured.sweeps(0).points(1).tokens_per_second_median();
  EXPECT_EQ(own->tokens_per_second().value(), tps4);
  EXPECT_EQ(own->largest_batch().basis(), v1::BASIS_MEASURED);
  EXPECT_EQ(own->largest_batch().value(), 9);

  // The RTX 4090 has no measurement: decode is bandwidth-bound, so the 3090's
  // figure scales by 1008 / 936 GB/s (both from the catalogue).
  req.set_device_model("rtx-4090-24gb");
  auto scaled = tables().WillItRun(req);
  ASSERT_TRUE(scaled.ok()) << scaled.status();
  EXPECT_EQ(scaled->tokens_per_second().basis(), v1::BASIS_PREDICTED);
  EXPECT_DOUBLE_EQ(scaled->tokens_per_second().value(), tps4 * 1008.0 / 936.0);
  EXPECT_NE(scaled->tokens_per_second().method().find("rtx-3090-24gb"), std::string::npos);
  EXPECT_NE(scaled->tokens_per_second().method().find("memory bandwidth"), std::string::npos);
  EXPECT_EQ(scaled->largest_batch().basis(), v1::BASIS_PREDICTED);

  // Measured process memory sets the runtime overhead instead of the reserve.
  bool measured_overhead = false;
  for (const auto& a : own->assumptions()) measured_overhead |= a.find("median over 1 machine") != std::string::npos;
  EXPECT_TRUE(measured_overhead);
}

TEST_F(TablesTest, WillItRunRejectsBadInput) {
  v1::WillItRunRequest req = SeedExample(1);
  req.set_device_model("no-such-gpu-1gb");
  EXPECT_EQ(tables().WillItRun(req).status().code(), absl::StatusCode::kNotFound);
  req = SeedExample(1);
  req.mutable_workload()->clear_model_preset();
  auto r = tables().WillItRun(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("workload.model_preset"), std::string::npos) << r.status();
  req = SeedExample(1);
  req.mutable_workload()->set_model_preset("gpt-9");
  EXPECT_EQ(tables().WillItRun(req).status().code(), absl::StatusCode::kNotFound);
  req = SeedExample(1);
  req.clear_device_model();
  r = tables().WillItRun(req);
  EXPECT_NE(r.status().message().find("device_model"), std::string::npos) << r.status();
  req.set_memory_bytes(24 * kGiB);  // a memory size alone is enough
  r = tables().WillItRun(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->fit(), v1::FIT_DOES_NOT_FIT);
  req = SeedExample(1);
  req.mutable_read()->set_as_of(1000);
  r = tables().WillItRun(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("read.as_of"), std::string::npos) << r.status();
}

TEST_F(TablesTest, LargestModelIsTheLargestPresetThatFits) {
  v1::LargestModelRequest req;
  req.set_memory_bytes(24 * kGiB);
  req.set_kind(v1::WORKLOAD_KIND_TRAIN_FULL);
  auto a = tables().LargestModel(req);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_GE(a->candidates_size(), 6);
  // Candidates run largest first; the answer is the first that fits.
  std::string first_fit;
  for (const auto& c : a->candidates()) {
    if (first_fit.empty() && c.fit() != v1::FIT_DOES_NOT_FIT) first_fit = c.measure_command();
  }
  ASSERT_FALSE(a->model_preset().empty());
  EXPECT_NE(first_fit.find("--presets " + a->model_preset() + " "), std::string::npos) << first_fit;
  // Full fine-tuning of an 8B model in bf16 with AdamW cannot fit in 24 GiB.
  EXPECT_EQ(a->candidates(0).fit(), v1::FIT_DOES_NOT_FIT);
  // A speed bound nobody has measured leaves no answer rather than a guess.
  req.set_min_tokens_per_second(1);
  a = tables().LargestModel(req);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(a->model_preset().empty());
  req.set_kind(v1::WORKLOAD_KIND_UNSPECIFIED);
  EXPECT_EQ(tables().LargestModel(req).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(TablesTest, StackUpGivesThePercentileAmongMachines) {
  Variant slow, mid, fast;
  slow.speed = 0.8;
  mid.speed = 1.0;
  fast.speed = 1.3;
  slow.sweeps = mid.sweeps = fast.sweeps = 1;
  const v1::Submission s = Build(1, 1, slow);
  Store(s);
  Store(Build(2, 2, mid));
  const v1::Submission f = Build(3, 3, fast);
  Store(f);
  v1::StackUpRequest req;
  req.set_submission_id(f.submission_id());
  auto top = tables().StackUp(req);
  ASSERT_TRUE(top.ok()) << top.status();
  EXPECT_EQ(top->device_model(), "rtx-4090-24gb");
  ASSERT_EQ(top->rows_size(), 3);  // batches 1, 4, 9 ran
  for (const auto& r : top->rows()) {
    EXPECT_EQ(r.machine_count(), 3u);
    EXPECT_NEAR(r.percentile(), 100.0 * 2.5 / 3, 1e-9);  // above two, level with itself
  }
  req.set_submission_id(s.submission_id());
  auto bottom = tables().StackUp(req);
  ASSERT_TRUE(bottom.ok()) << bottom.status();
  EXPECT_NEAR(bottom->rows(0).percentile(), 100.0 * 0.5 / 3, 1e-9);
  // Retracted: no longer public.
  Moderate(s.submission_id(), "retract");
  EXPECT_EQ(tables().StackUp(req).status().code(), absl::StatusCode::kNotFound);
  req.set_submission_id("not-a-uuid");
  EXPECT_EQ(tables().StackUp(req).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace localbench::test_support
