#include "localbench/agent/estimate.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "localbench/agent/options.h"
#include "localbench/agent/progress.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/presets.h"
#include "localbench/kernels/workload.h"

namespace localbench::agent {
namespace {

using kernels::WorkloadKind;

double DTypeBytes(kernels::DType t) { return t == kernels::DType::kF32 ? 4.0 : 2.0; }

// Matmul parameters of one transformer block.
double LayerParams(const kernels::ModelPreset& p) {
  const double h = static_cast<double>(p.hidden);
  return h * static_cast<double>(p.q_dim() + 2 * p.kv_dim()) + static_cast<double>(p.q_dim()) * h +
         3.0 * h * static_cast<double>(p.intermediate);
}

// Forward FLOPs of `tokens` tokens whose attention spans `context` keys on
// average, plus `head_tokens` rows through the LM head.
double ForwardFlops(const kernels::ModelPreset& p, double tokens, double context, double head_tokens) {
  const double layers = static_cast<double>(p.layers);
  const double matmul = 2.0 * layers * LayerParams(p) * tokens;
  const double attention = 4.0 * layers * static_cast<double>(p.q_dim()) * context * tokens;
  const double head = 2.0 * static_cast<double>(p.hidden) * static_cast<double>(p.vocab) * head_tokens;
  return matmul + attention + head;
}

// A model small enough to calibrate in about a second on two cores, wide
// enough that its GEMMs and GEMVs run at the pace of the real ones.
kernels::ModelPreset CalibrationModel() {
  kernels::ModelPreset p = *kernels::FindPreset("tiny-llama");
  p.name = "calibration";
  p.vocab = 8192;
  p.hidden = 1024;
  p.intermediate = 2816;
  p.layers = 2;
  p.heads = 16;
  p.kv_heads = 4;
  p.head_dim = 64;
  p.tied_embeddings = false;
  return p;
}

// The quantized calibration: wide enough that its weights (60 MB in Q4_0)
// stream from memory rather than from the caches, as a real model's do.
kernels::ModelPreset QuantCalibrationModel() {
  kernels::ModelPreset p = CalibrationModel();
  p.name = "calibration-quantized";
  p.hidden = 2048;
  p.intermediate = 5632;
  p.heads = 32;
  p.kv_heads = 8;
  return p;
}

// Weight bytes one forward pass reads: with quantized weights, the
// quantized projections and LM head, or the head in `precision` when it is
// the (tied) embedding table; the embedding rows a step reads are few.
double WeightBytesRead(const kernels::WorkloadConfig& c) {
  const kernels::ModelPreset& p = c.preset;
  if (!c.weight_format) return static_cast<double>(p.ParameterCount()) * DTypeBytes(c.precision);
  const double per_weight = static_cast<double>(kernels::QuantizedBytes(*c.weight_format, 1, 1024)) / 1024.0;
  const double head = static_cast<double>(p.vocab) * static_cast<double>(p.hidden);
  return static_cast<double>(p.layers) * LayerParams(p) * per_weight +
         head * (p.tied_embeddings ? DTypeBytes(c.precision) : per_weight);
}

std::size_t FormatIndex(kernels::QuantFormat f) { return static_cast<std::size_t>(f); }

}  // namespace

std::vector<kernels::QuantFormat> QuantFormatsOf(const Suite& suite) {
  std::vector<kernels::QuantFormat> out;
  for (const SuiteTemplate& t : suite.templates) {
    SuiteItem item{"tiny-llama", t};
    auto c = ConfigOf(item);
    if (c.ok() && c->weight_format && std::find(out.begin(), out.end(), *c->weight_format) == out.end())
      out.push_back(*c->weight_format);
  }
  return out;
}

absl::StatusOr<kernels::WorkloadConfig> ConfigOf(const SuiteItem& item) {
  auto preset = kernels::FindPreset(item.preset);
  if (!preset.ok()) return preset.status();
  kernels::WorkloadConfig c;
  switch (item.shape.kind) {
    case v1::WORKLOAD_KIND_DECODE: c.kind = WorkloadKind::kDecode; break;
    case v1::WORKLOAD_KIND_TRAIN_LORA: c.kind = WorkloadKind::kTrainLora; break;
    case v1::WORKLOAD_KIND_TRAIN_FULL: c.kind = WorkloadKind::kTrainFull; break;
    default: c.kind = WorkloadKind::kPrefill; break;
  }
  c.preset = *preset;
  c.precision = item.shape.precision == v1::PRECISION_FP16   ? kernels::DType::kF16
                : item.shape.precision == v1::PRECISION_BF16 ? kernels::DType::kBF16
                                                             : kernels::DType::kF32;
  // Quantized weights (issue 15): the format named, bf16 for the rest.
  switch (item.shape.precision) {
    case v1::PRECISION_Q8_0: c.weight_format = kernels::QuantFormat::kQ8_0; break;
    case v1::PRECISION_Q4_0: c.weight_format = kernels::QuantFormat::kQ4_0; break;
    case v1::PRECISION_NF4: c.weight_format = kernels::QuantFormat::kNf4; break;
    default: break;
  }
  if (c.weight_format) c.precision = kernels::DType::kBF16;
  c.batch = 1;
  c.prompt_tokens = item.shape.prompt_tokens;
  c.generated_tokens = item.shape.generated_tokens;
  c.sequence_tokens = item.shape.sequence_tokens;
  c.lora_rank = item.shape.lora_rank;
  c.train = KernelTrainOptions(item.shape.train, item.shape.kind);
  return c;
}

StepCost EstimateStep(const kernels::WorkloadConfig& c) {
  const kernels::ModelPreset& p = c.preset;
  const double b = static_cast<double>(c.batch);
  const double weight_bytes = WeightBytesRead(c);
  const double kv_per_token = 2.0 * static_cast<double>(p.layers * p.kv_dim()) * DTypeBytes(c.precision);
  StepCost s;
  switch (c.kind) {
    case WorkloadKind::kPrefill: {
      const double prompt = static_cast<double>(c.prompt_tokens);
      // Logits of each prompt's last token only.
      s.flops = ForwardFlops(p, b * prompt, prompt / 2, b);
      s.bytes = weight_bytes + b * prompt * kv_per_token;
      break;
    }
    case WorkloadKind::kDecode: {
      const double prompt = static_cast<double>(c.prompt_tokens);
      const double gen = static_cast<double>(c.generated_tokens);
      const double context = prompt + gen / 2;
      s.flops = gen * ForwardFlops(p, b, context, b);
      // Every generated token streams the weights and the batch's cache.
      s.bytes = gen * (weight_bytes + b * context * kv_per_token);
      break;
    }
    case WorkloadKind::kTrainLora:
    case WorkloadKind::kTrainFull: {
      const double seq = static_cast<double>(c.sequence_tokens);
      const double forward = ForwardFlops(p, b * seq, seq / 2, b * seq);
      // LoRA: forward + input gradients (the base is frozen); full: + weight
      // gradients and AdamW over every weight.
      const bool full = c.kind == WorkloadKind::kTrainFull;
      s.flops = forward * (full ? 3.0 : 2.0);
      // Checkpointing recomputes the forward once; accumulation repeats the
      // forward and backward per micro-batch (the update stays one).
      if (c.train.gradient_checkpointing) s.flops += forward;
      s.flops *= static_cast<double>(c.train.accumulation_steps);
      s.bytes = weight_bytes * (full ? 6.0 : 2.0);
      break;
    }
  }
  return s;
}

double EstimatePointSeconds(const kernels::WorkloadConfig& config, const DeviceRates& rates, int warmup_steps,
                            int repetitions) {
  const StepCost step = EstimateStep(config);
  double compute = rates.flops_per_second > 0 ? step.flops / rates.flops_per_second : 0;
  double memory = rates.bytes_per_second > 0 ? step.bytes / rates.bytes_per_second : 0;
  absl::StatusOr<kernels::MemoryPlan> plan = kernels::PlanMemory(config);
  double fill = plan.ok() && rates.fill_bytes_per_second > 0
                    ? static_cast<double>(plan->total_bytes) / rates.fill_bytes_per_second
                    : 0;
  if (config.weight_format) {
    const std::size_t f = FormatIndex(*config.weight_format);
    const double params = static_cast<double>(config.preset.ParameterCount());
    if (rates.quant_fill_params_per_second[f] > 0) {
      // Creation is per weight drawn and quantized (the arena's other
      // buffers are a small part of a quantized model's plan).
      fill = params / rates.quant_fill_params_per_second[f];
    } else if (plan.ok() && rates.fill_bytes_per_second > 0) {
      // Uncalibrated: each weight as dear as a bf16 one.
      const double weights = plan->CategoryBytes(kernels::BufferCategory::kWeights);
      fill = (static_cast<double>(plan->total_bytes) - weights + 2.0 * params) / rates.fill_bytes_per_second;
    }
    if (config.kind == WorkloadKind::kDecode && rates.quant_bytes_per_second[f] > 0) {
      // The calibrated pace is a whole quantized decode step's (GEMVs,
      // attention, head), not the prefill GEMMs' FLOP/s.
      memory = step.bytes / rates.quant_bytes_per_second[f];
      compute = 0;
    }
  }
  return rates.point_overhead_seconds + fill + (warmup_steps + repetitions) * std::max(compute, memory);
}

DeviceRates AssumedGpuRates(double peak_flops, double bandwidth) {
  DeviceRates r;
  r.flops_per_second = 0.5 * peak_flops;   // our GEMMs at half the dense peak
  r.bytes_per_second = 0.7 * bandwidth;    // decode streaming at 70% of the bus
  r.fill_bytes_per_second = 0.5 * bandwidth;  // seeded weights written on the device
  r.point_overhead_seconds = 0.05;         // allocation, events, NVML, graph setup
  return r;
}

absl::StatusOr<DeviceRates> Calibrate(kernels::Backend& backend, const std::vector<kernels::QuantFormat>& quantized) {
  using Clock = std::chrono::steady_clock;
  kernels::WorkloadConfig c;
  c.preset = CalibrationModel();
  c.precision = kernels::DType::kBF16;
  c.batch = 1;
  DeviceRates r;
  auto time_step = [&](kernels::WorkloadConfig config, double* create_seconds) -> absl::StatusOr<double> {
    const auto t0 = Clock::now();
    auto workload = kernels::Workload::Create(backend, config);
    if (!workload.ok()) return workload.status();
    if (absl::Status s = backend.device().Synchronize(); !s.ok()) return s;
    const auto t1 = Clock::now();
    if (absl::Status s = (*workload)->Step(); !s.ok()) return s;  // warm-up
    if (absl::Status s = backend.device().Synchronize(); !s.ok()) return s;
    const auto t2 = Clock::now();
    if (absl::Status s = (*workload)->Step(); !s.ok()) return s;
    if (absl::Status s = backend.device().Synchronize(); !s.ok()) return s;
    const auto t3 = Clock::now();
    if (create_seconds) *create_seconds = std::chrono::duration<double>(t1 - t0).count();
    (void)t2;
    return std::chrono::duration<double>(t3 - t2).count();
  };
  c.kind = WorkloadKind::kPrefill;
  c.prompt_tokens = 128;
  double create = 0;
  auto prefill = time_step(c, &create);
  if (!prefill.ok()) return prefill.status();
  r.flops_per_second = EstimateStep(c).flops / std::max(*prefill, 1e-6);
  auto plan = kernels::PlanMemory(c);
  if (!plan.ok()) return plan.status();
  r.fill_bytes_per_second = static_cast<double>(plan->total_bytes) / std::max(create, 1e-6);
  c.kind = WorkloadKind::kDecode;
  c.prompt_tokens = 16;
  c.generated_tokens = 4;
  auto decode = time_step(c, nullptr);
  if (!decode.ok()) return decode.status();
  r.bytes_per_second = EstimateStep(c).bytes / std::max(*decode, 1e-6);
  // Quantized decode, per format the suite runs. Best effort: a backend
  // without quantized kernels (Unimplemented), or a memory limit too tight
  // for the model, leaves the format uncalibrated (the bf16 rates stand in).
  for (kernels::QuantFormat f : quantized) {
    kernels::WorkloadConfig q = c;
    q.preset = QuantCalibrationModel();
    q.weight_format = f;
    double q_create = 0;
    auto q_decode = time_step(q, &q_create);
    if (!q_decode.ok()) continue;
    r.quant_fill_params_per_second[FormatIndex(f)] =
        static_cast<double>(q.preset.ParameterCount()) / std::max(q_create, 1e-6);
    r.quant_bytes_per_second[FormatIndex(f)] = EstimateStep(q).bytes / std::max(*q_decode, 1e-6);
  }
  r.point_overhead_seconds = backend.device().kind() == kernels::DeviceKind::kCpu ? 0.02 : 0.05;
  return r;
}

absl::StatusOr<SuiteEstimate> EstimateSuite(const Suite& suite, std::uint64_t memory_budget_bytes,
                                            const DeviceRates& rates, double budget_seconds) {
  SuiteEstimate e;
  e.budget_seconds = budget_seconds;
  const int warmup = static_cast<int>(suite.warmup_steps);
  const int reps = static_cast<int>(suite.repetitions);
  for (const SuiteItem& item : Expand(suite)) {
    SweepEstimate s;
    s.item = item;
    auto config = ConfigOf(item);
    if (!config.ok()) return config.status();
    s.config = *config;
    const std::int64_t cap = suite.max_batch > 0 ? suite.max_batch : (std::int64_t{1} << 20);
    auto max_batch = kernels::MaxBatchForBudget(s.config, memory_budget_bytes, cap);
    if (!max_batch.ok()) return max_batch.status();
    s.planned_max_batch = *max_batch;
    s.essential = item.shape.kind == v1::WORKLOAD_KIND_PREFILL || item.shape.kind == v1::WORKLOAD_KIND_DECODE;
    // The batches the sweep visits when the plan is right (kernels/src/sweep.cc).
    if (!suite.batches.empty()) {
      for (auto b : suite.batches) {
        if (b <= s.planned_max_batch) s.batches.push_back(b);
      }
    } else if (s.planned_max_batch > 0) {
      std::int64_t b = 1;
      for (; b <= s.planned_max_batch; b *= 2) s.batches.push_back(b);
      if (s.batches.back() != s.planned_max_batch) s.batches.push_back(s.planned_max_batch);
      if (s.planned_max_batch < cap) s.batches.push_back(s.planned_max_batch + 1);  // must fail to allocate
    }
    for (std::int64_t b : s.batches) {
      kernels::WorkloadConfig c = s.config;
      c.batch = b;
      const bool oom_probe = b > s.planned_max_batch;
      s.point_seconds.push_back(oom_probe ? rates.point_overhead_seconds
                                          : EstimatePointSeconds(c, rates, warmup, reps));
      e.unbounded_seconds += s.point_seconds.back();
    }
    e.sweeps.push_back(std::move(s));
  }
  // Reserve batch 1 of every essential sweep; while the reservations alone
  // exceed the budget, the last (largest) reserved sweep gives way.
  auto first = [](const SweepEstimate& s) { return s.point_seconds.empty() ? 0.0 : s.point_seconds[0]; };
  // Deferred templates' reservations give way before any other.
  double reserved = 0;
  for (const auto& s : e.sweeps) {
    if (s.essential) reserved += first(s);
  }
  for (bool deferred : {true, false}) {
    for (auto it = e.sweeps.rbegin(); it != e.sweeps.rend() && reserved > budget_seconds; ++it) {
      if (!it->essential || it->batches.empty() || it->item.shape.deferred != deferred) continue;
      reserved -= first(*it);
      it->skipped_for_time = true;
    }
  }
  // The first pass: batch 1 of every essential doubling sweep, preset by
  // preset, before any sweep goes further, so the answer for every model
  // comes before any threshold; deferred templates' batch 1 in a second
  // round. (An explicit batch list runs as listed.)
  double t = 0;
  for (bool deferred : {false, true}) {
    for (auto& s : e.sweeps) {
      if (s.item.shape.deferred != deferred) continue;
      s.batch_one_first = s.essential && !s.skipped_for_time && suite.batches.empty() && !s.batches.empty();
      if (!s.batch_one_first) continue;
      t += first(s);
      s.batch_one_end_seconds = t;
      s.points_in_budget = 1;
      ++e.points;
    }
  }
  // Then every sweep in order runs its other points while they end before
  // its deadline: the budget less the reservations still pending after it
  // (none once the first pass has run them).
  std::vector<double> later(e.sweeps.size() + 1, 0.0);
  for (std::size_t i = e.sweeps.size(); i-- > 0;) {
    const auto& s = e.sweeps[i];
    later[i] = later[i + 1] + (s.essential && !s.skipped_for_time && !s.batch_one_first ? first(s) : 0.0);
  }
  for (std::size_t i = 0; i < e.sweeps.size(); ++i) {
    auto& s = e.sweeps[i];
    s.deadline_seconds = budget_seconds - later[i + 1];
    if (s.skipped_for_time) {
      ++e.points_skipped_for_time;
      continue;
    }
    for (std::size_t k = s.batch_one_first ? 1 : 0; k < s.batches.size(); ++k) {
      const double margin = s.batch_one_first ? kExtraPointMargin : 1.0;
      if (t + margin * s.point_seconds[k] > s.deadline_seconds) {
        ++e.points_skipped_for_time;
        break;
      }
      t += s.point_seconds[k];
      ++s.points_in_budget;
      ++e.points;
    }
  }
  e.total_seconds = t;
  return e;
}

std::string DescribeEstimate(const SuiteEstimate& e) {
  std::string out = "estimate: about " + FormatDuration(e.total_seconds) + " for " + std::to_string(e.points) +
                    " points (time budget " + FormatDuration(e.budget_seconds) + "; every point would take " +
                    FormatDuration(e.unbounded_seconds) + ")\n";
  for (const auto& s : e.sweeps) {
    std::string what = s.item.preset + " " + std::string(WorkloadName(s.item.shape.kind));
    // Quantized sweeps name their format (a preset has bf16 and 4/8-bit decode).
    if (s.config.weight_format) what += " " + std::string(kernels::QuantFormatName(*s.config.weight_format));
    if (s.planned_max_batch == 0) {
      out += "  " + what + ": won't fit in the memory budget at batch 1\n";
    } else if (s.skipped_for_time) {
      out += "  " + what + ": skipped for time (batch 1 alone would take about " +
             FormatDuration(s.point_seconds[0]) + "; it still runs if the presets before it leave that long)\n";
    } else if (s.points_in_budget == 0) {
      out += "  " + what + ": skipped for time (the budget is spent before it)\n";
    } else if (s.batch_one_first && s.batch_one_end_seconds > 0.75 * e.budget_seconds) {
      // Late in the first pass: a machine slower than its calibration (a
      // shared one) makes this batch 1 give way; say how much slower.
      const double slack = e.budget_seconds / s.batch_one_end_seconds - 1;
      out += "  " + what + ": batch 1 only if the run is at most " + std::to_string(static_cast<int>(slack * 100)) +
             "% slower than calibrated (it would end at " + FormatDuration(s.batch_one_end_seconds) +
             "), else skipped for time; OOM threshold planned at " + std::to_string(s.planned_max_batch) + "\n";
    } else if (s.points_in_budget < static_cast<int>(s.batches.size())) {
      out += "  " + what + ": batches " + std::to_string(s.batches.front()) + ".." +
             std::to_string(s.batches[static_cast<std::size_t>(std::max(0, s.points_in_budget - 1))]) +
             " measured, then skipped for time; OOM threshold planned at " +
             std::to_string(s.planned_max_batch) + "\n";
    }
  }
  return out;
}

}  // namespace localbench::agent
