// The agent's time estimate for quantized decode (issue 15): each format the
// suite runs is calibrated on its own (a 4-bit GEMV is not the bf16 one), its
// creation counted per weight drawn and quantized, its step per byte it
// reads, and the 2027.01 CPU suite keeps Llama 3.1 8B's Q4_0 decode in the
// first pass when the 8B's bf16 points give way.
#include <gtest/gtest.h>

#include <algorithm>

#include "localbench/agent/estimate.h"
#include "localbench/agent/runner.h"
#include "localbench/agent/suite.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/presets.h"

namespace localbench::agent {
namespace {

constexpr std::uint64_t kGiB = 1024ull * 1024 * 1024;

std::size_t At(kernels::QuantFormat f) { return static_cast<std::size_t>(f); }

// This machine's kind (2-core EPYC, calibrated 2026-11-30): bf16 rates plus
// Q4_0 and Q8_0 decode and creation.
DeviceRates TwoCoreCpu() {
  DeviceRates r;
  r.flops_per_second = 30e9;
  r.bytes_per_second = 6.5e9;
  r.fill_bytes_per_second = 0.28e9;
  r.point_overhead_seconds = 0.02;
  r.quant_bytes_per_second[At(kernels::QuantFormat::kQ4_0)] = 5e9;
  r.quant_fill_params_per_second[At(kernels::QuantFormat::kQ4_0)] = 150e6;
  r.quant_bytes_per_second[At(kernels::QuantFormat::kQ8_0)] = 7e9;
  r.quant_fill_params_per_second[At(kernels::QuantFormat::kQ8_0)] = 150e6;
  return r;
}

kernels::WorkloadConfig Decode(const std::string& preset, v1::Precision precision) {
  auto c = ConfigOf({preset, {v1::WORKLOAD_KIND_DECODE, precision, 64, 4, 0, 0, {}}});
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

TEST(AgentQuantEstimate, SuitesNameTheirQuantizedFormats) {
  EXPECT_TRUE(QuantFormatsOf(CpuSuite()).empty());
  const auto formats = QuantFormatsOf(CpuSuite2027());
  ASSERT_EQ(formats.size(), 2u);
  EXPECT_EQ(formats[0], kernels::QuantFormat::kQ4_0);
  EXPECT_EQ(formats[1], kernels::QuantFormat::kQ8_0);
}

TEST(AgentQuantEstimate, CalibratesOnlyTheFormatsAsked) {
  auto backends = FindBackends(64 * kGiB);  // a counter, not an allocation
  auto cpu = SelectBackend(backends, "cpu");
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  auto rates = Calibrate(**cpu, {kernels::QuantFormat::kQ4_0});
  ASSERT_TRUE(rates.ok()) << rates.status();
  EXPECT_GT(rates->quant_bytes_per_second[At(kernels::QuantFormat::kQ4_0)], 0);
  EXPECT_GT(rates->quant_fill_params_per_second[At(kernels::QuantFormat::kQ4_0)], 0);
  EXPECT_EQ(rates->quant_bytes_per_second[At(kernels::QuantFormat::kQ8_0)], 0);
  EXPECT_EQ(rates->quant_fill_params_per_second[At(kernels::QuantFormat::kNf4)], 0);
}

// A step reads the quantized projections and head, or a tied head in bf16;
// the point costs creation per parameter and steps at the format's pace.
TEST(AgentQuantEstimate, QuantizedPointsCostTheirOwnBytesAndRates) {
  const DeviceRates rates = TwoCoreCpu();
  // Llama 3.1 8B (untied): every weight it reads is Q4_0 (18 bytes per 32).
  const kernels::WorkloadConfig eight = Decode("llama-3.1-8b", v1::PRECISION_Q4_0);
  const kernels::ModelPreset& p8 = eight.preset;
  const double quantized = static_cast<double>(p8.ParameterCount() - p8.vocab * p8.hidden - p8.hidden -
                                               p8.layers * 2 * p8.hidden) * 18.0 / 32.0;
  const StepCost step = EstimateStep(eight);
  EXPECT_GT(step.bytes, 4.0 * quantized);
  EXPECT_LT(step.bytes, 4.0 * quantized * 1.01);  // + the KV cache of 66 tokens
  const double want = 0.02 + static_cast<double>(p8.ParameterCount()) / 150e6 + 3.0 * step.bytes / 5e9;
  EXPECT_NEAR(EstimatePointSeconds(eight, rates, 1, 2), want, 1e-6 * want);
  // Llama 3.2 1B (tied): its head is the bf16 embedding table, read per token.
  const kernels::WorkloadConfig one = Decode("llama-3.2-1b", v1::PRECISION_Q4_0);
  EXPECT_GT(EstimateStep(one).bytes, 4.0 * 2.0 * static_cast<double>(one.preset.vocab * one.preset.hidden));
  // Uncalibrated (a GPU, an old rates file): each weight costs what a bf16
  // one costs to create, not the few bytes it ends in.
  DeviceRates plain = rates;
  plain.quant_bytes_per_second = {};
  plain.quant_fill_params_per_second = {};
  auto plan = kernels::PlanMemory(eight);
  ASSERT_TRUE(plan.ok());
  EXPECT_GT(EstimatePointSeconds(eight, plain, 1, 2),
            static_cast<double>(p8.ParameterCount()) * 2.0 / plain.fill_bytes_per_second);
}

// The 2027.01 CPU suite puts Q4_0 decode first in each preset's templates:
// when the budget cannot hold every batch 1, the 8B's bf16 prefill and
// decode and its Q8_0 decode give way, and its Q4_0 decode keeps its slot in
// the first pass.
TEST(AgentQuantEstimate, EightBQ4DecodeKeepsItsFirstPassSlot) {
  const Suite cpu = CpuSuite2027();
  ASSERT_GE(cpu.templates.size(), 2u);
  EXPECT_EQ(cpu.templates.front().precision, v1::PRECISION_Q4_0);
  EXPECT_EQ(cpu.templates.back().precision, v1::PRECISION_Q8_0);
  const DeviceRates rates = TwoCoreCpu();
  auto all = EstimateSuite(cpu, 20 * kGiB, rates, 1e9);
  ASSERT_TRUE(all.ok()) << all.status();
  // A budget for every batch 1 except the 8B's bf16 prefill, decode and
  // its Q8_0 decode.
  double budget = 0;
  for (const auto& s : all->sweeps) {
    if (!s.essential) continue;
    const bool eight = s.item.preset == "llama-3.1-8b";
    if (eight && s.item.shape.precision != v1::PRECISION_Q4_0) continue;
    budget += s.point_seconds[0];
  }
  auto e = EstimateSuite(cpu, 20 * kGiB, rates, budget * 1.02);
  ASSERT_TRUE(e.ok()) << e.status();
  int eight_checked = 0;
  for (const auto& s : e->sweeps) {
    if (s.item.preset != "llama-3.1-8b" || !s.essential) continue;
    SCOPED_TRACE(std::string(WorkloadName(s.item.shape.kind)) + " " + std::string(PrecisionName(s.item.shape.precision)));
    ++eight_checked;
    if (s.item.shape.precision == v1::PRECISION_Q4_0) {
      EXPECT_TRUE(s.batch_one_first);
      EXPECT_FALSE(s.skipped_for_time);
    } else {
      EXPECT_TRUE(s.skipped_for_time);
    }
  }
  EXPECT_EQ(eight_checked, 4);
  EXPECT_NE(DescribeEstimate(*e).find("llama-3.1-8b decode q8_0: skipped for time"), std::string::npos)
      << DescribeEstimate(*e);
}

// Q8_0 decode is deferred: its batch 1 comes after every preset's other
// batch-1 points and gives way first, so a budget short by the 3B's and the
// 8B's Q8_0 points keeps the 8B's bf16 decode. The canonical text (and so
// the hash) states it; suites without deferred templates keep their text.
TEST(AgentQuantEstimate, DeferredQ8BatchOneRunsLastAndGivesWayFirst) {
  const Suite cpu = CpuSuite2027();
  EXPECT_TRUE(cpu.templates.back().deferred);
  EXPECT_NE(cpu.CanonicalText().find("precision=q8_0 prompt_tokens=64 generated_tokens=4 sequence_tokens=0 "
                                     "lora_rank=0 batch_one=deferred"),
            std::string::npos)
      << cpu.CanonicalText();
  EXPECT_EQ(CpuSuite().CanonicalText().find("deferred"), std::string::npos);
  Suite undeferred = cpu;
  undeferred.templates.back().deferred = false;
  EXPECT_NE(undeferred.Hash(), cpu.Hash());

  const DeviceRates rates = TwoCoreCpu();
  auto all = EstimateSuite(cpu, 20 * kGiB, rates, 1e9);
  ASSERT_TRUE(all.ok()) << all.status();
  double last_primary = 0, first_deferred = 1e30, total = 0, q8_big = 0;
  for (const auto& s : all->sweeps) {
    if (!s.essential) continue;
    ASSERT_TRUE(s.batch_one_first);
    total += s.point_seconds[0];
    if (s.item.shape.deferred) {
      first_deferred = std::min(first_deferred, s.batch_one_end_seconds);
      if (s.item.preset == "llama-3.2-3b" || s.item.preset == "llama-3.1-8b") q8_big += s.point_seconds[0];
    } else {
      last_primary = std::max(last_primary, s.batch_one_end_seconds);
    }
  }
  EXPECT_GT(first_deferred, last_primary);
  auto e = EstimateSuite(cpu, 20 * kGiB, rates, total - q8_big + 0.01);
  ASSERT_TRUE(e.ok()) << e.status();
  for (const auto& s : e->sweeps) {
    if (!s.essential) continue;
    SCOPED_TRACE(s.item.preset + " " + std::string(PrecisionName(s.item.shape.precision)));
    const bool gives_way =
        s.item.shape.deferred && (s.item.preset == "llama-3.2-3b" || s.item.preset == "llama-3.1-8b");
    EXPECT_EQ(s.skipped_for_time, gives_way);
  }
}

}  // namespace
}  // namespace localbench::agent
