// Training-options benchmark (issue 13; docs/BENCHMARKS.md, "Training").
//
// 1. Calibration: the memory plan, by category, at the settings of published
//    measurements (the seed's page, litgpt's resource table, torchtune's
//    recipe), so docs/BENCHMARKS.md can set them side by side.
// 2. The LoRA step on Llama 3.2 1B shapes at 512 tokens on the CPU: step time
//    with gradient checkpointing off/on and fp32/bf16 saved activations, and
//    the planned activation memory of the whole 16-layer model.
//
// Usage: localbench_bench_train [--layers N (default 2: the timed model's
//        depth; per-layer work is the real model's)] [--steps N (default 2)]
//        [--plan-only] [--threads N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "localbench/kernels/cpu_backend.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/workload.h"

namespace lk = localbench::kernels;

namespace {

double GiB(std::uint64_t b) { return static_cast<double>(b) / (1ull << 30); }
double GB(std::uint64_t b) { return static_cast<double>(b) / 1e9; }

// Llama 2 7B (for litgpt's table): not a suite preset, its published shape.
lk::ModelPreset Llama2_7b() {
  return {"llama-2-7b", 32000, 4096, 11008, 32, 32, 32, 128, 10000.0f, false, false, 1e-5f};
}

lk::WorkloadConfig Lora(const lk::ModelPreset& p, std::int64_t batch, std::int64_t tokens, std::int64_t rank) {
  lk::WorkloadConfig c;
  c.kind = lk::WorkloadKind::kTrainLora;
  c.preset = p;
  c.precision = lk::DType::kBF16;
  c.batch = batch;
  c.sequence_tokens = tokens;
  c.lora_rank = rank;
  c.train.activations = lk::DType::kBF16;
  return c;
}

void PlanRow(const char* label, const lk::WorkloadConfig& c) {
  const lk::MemoryPlan plan = *lk::PlanMemory(c);
  using C = lk::BufferCategory;
  std::printf("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f GB = %.2f GiB |\n", label,
              GiB(plan.CategoryBytes(C::kWeights)), GiB(plan.CategoryBytes(C::kActivationsSaved)),
              GiB(plan.CategoryBytes(C::kGradients)), GiB(plan.CategoryBytes(C::kOptimizerState)),
              GiB(plan.CategoryBytes(C::kLogits)), GiB(plan.CategoryBytes(C::kWorkspace)),
              GiB(plan.CategoryBytes(C::kKvCache)), GB(plan.total_bytes), GiB(plan.total_bytes));
}

void Calibration() {
  std::printf("## Calibration: the plan at published settings (GiB by category)\n\n");
  std::printf("| setting | weights | saved activations | gradients | optimizer | logits | workspace | kv | total |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  const lk::ModelPreset l31 = *lk::FindPreset("llama-3.1-8b");
  // Seed: HF + PEFT style, r 16, 512 tokens, bf16, no checkpointing.
  for (std::int64_t b : {1, 4}) {
    lk::WorkloadConfig c = Lora(l31, b, 512, 16);
    PlanRow(b == 1 ? "seed: 3.1 8B LoRA r16, 512 tok, batch 1" : "seed: same, batch 4", c);
  }
  {
    lk::WorkloadConfig c = Lora(l31, 1, 512, 16);
    c.train.accumulation_steps = 4;
    PlanRow("seed: batch 1 x accumulation 4", c);
    c = Lora(l31, 1, 512, 16);
    c.train.activations = lk::DType::kF32;
    PlanRow("seed: batch 1, fp32 activations (suite 2026.12)", c);
  }
  // torchtune llama3_1/8B_lora_single_device on a 4090: batch 2, packed 2048,
  // activation checkpointing, chunked cross-entropy (8 chunks), rank 8.
  {
    lk::WorkloadConfig c = Lora(l31, 2, 2048, 8);
    c.train.gradient_checkpointing = true;
    c.train.loss_chunks = 8;
    PlanRow("torchtune: 3.1 8B LoRA r8, batch 2 x 2048, ckpt, 8 loss chunks", c);
    c.train.loss_chunks = 0;
    PlanRow("same without chunked loss", c);
  }
  // litgpt resource table: Llama 2 7B LoRA, bf16-true, Alpaca padded to the
  // longest sample (1,304 tokens), micro-batch 1 / 2 / 4, r 8.
  for (std::int64_t b : {1, 2, 4}) {
    const std::string label = "litgpt: Llama 2 7B LoRA r8, 1304 tok, micro-batch " + std::to_string(b);
    PlanRow(label.c_str(), Lora(Llama2_7b(), b, 1304, 8));
  }
  // The same table's QLoRA row (bnb.nf4-dq: NF4 base with double-quantized
  // scales, bf16 compute), micro-batch 1.
  {
    lk::WorkloadConfig c = Lora(Llama2_7b(), 1, 1304, 8);
    c.weight_format = lk::QuantFormat::kNf4;
    PlanRow("litgpt: Llama 2 7B QLoRA nf4-dq r8, 1304 tok, micro-batch 1", c);
  }
  std::printf("\n");
}

double TimeSteps(const lk::WorkloadConfig& c, int steps, int threads, double* loss) {
  lk::CpuDeviceOptions options;
  options.threads = threads;
  lk::CpuBackend backend(options);
  auto w = lk::Workload::Create(backend, c);
  if (!w.ok()) {
    std::fprintf(stderr, "%s\n", std::string(w.status().message()).c_str());
    std::exit(1);
  }
  if (!(*w)->Step().ok()) std::exit(1);  // warm-up
  std::vector<double> times;
  for (int i = 0; i < steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!(*w)->Step().ok()) std::exit(1);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  *loss = *(*w)->last_loss();
  return times[times.size() / 2];
}

void StepTimes(int layers, int steps, int threads) {
  lk::ModelPreset timed = *lk::FindPreset("llama-3.2-1b");
  const lk::ModelPreset full = timed;
  timed.layers = layers;
  std::printf("## LoRA step, Llama 3.2 1B shapes, batch 1 x 512 tokens, r 16, bf16 weights (CPU, %d threads)\n\n",
              threads);
  std::printf("Timed on %d of the 16 layers (per-layer work and the vocabulary head are the real model's); "
              "memory planned for the whole model.\n\n",
              layers);
  std::printf("| checkpointing | activations | step s (median of %d) | vs off/fp32 | planned saved activations "
              "(16 layers) | vs off/fp32 | planned total | loss |\n|---|---|---|---|---|---|---|---|\n",
              steps);
  double base_time = 0, base_act = 0;
  for (lk::DType act : {lk::DType::kF32, lk::DType::kBF16}) {
    for (bool ckpt : {false, true}) {
      lk::WorkloadConfig c = Lora(timed, 1, 512, 16);
      c.train.activations = act;
      c.train.gradient_checkpointing = ckpt;
      double loss = 0;
      const double t = TimeSteps(c, steps, threads, &loss);
      lk::WorkloadConfig whole = c;
      whole.preset = full;
      const lk::MemoryPlan plan = *lk::PlanMemory(whole);
      const double saved = static_cast<double>(plan.CategoryBytes(lk::BufferCategory::kActivationsSaved));
      if (base_time == 0) {
        base_time = t;
        base_act = saved;
      }
      std::printf("| %s | %s | %.2f | %.2fx | %.0f MiB | %.2fx | %.2f GiB | %.4f |\n", ckpt ? "on" : "off",
                  act == lk::DType::kF32 ? "fp32" : "bf16", t, t / base_time, saved / (1 << 20), saved / base_act,
                  GiB(plan.total_bytes), loss);
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int layers = 2, steps = 2, threads = 0;
  bool plan_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--layers" && i + 1 < argc) {
      layers = std::atoi(argv[++i]);
    } else if (arg == "--steps" && i + 1 < argc) {
      steps = std::atoi(argv[++i]);
    } else if (arg == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (arg == "--plan-only") {
      plan_only = true;
    } else {
      std::fprintf(stderr, "usage: %s [--layers N] [--steps N] [--threads N] [--plan-only]\n", argv[0]);
      return 2;
    }
  }
  if (layers < 1 || layers > 16 || steps < 1) {
    std::fprintf(stderr, "--layers must be in [1, 16] and --steps at least 1\n");
    return 2;
  }
  Calibration();
  if (!plan_only) StepTimes(layers, steps, threads);
  return 0;
}
