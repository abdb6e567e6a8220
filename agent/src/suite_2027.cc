// Suites 2027.01: the 2026.12 suites (their rules, presets and inference
// templates, inherited by copying, so fixes to 2026.12's rules carry over)
// plus new blocks per issue. Each block below is separate so the merges of
// parallel work stay a union of blocks.
#include <string>
#include <vector>

#include "localbench/agent/suite.h"

namespace localbench::agent {
namespace {

// ---- Training block (issue 13): training as people run it. A 16-bit run
// saves its activations in its own precision (norm statistics, softmax and
// loss in fp32), as mixed-precision trainers do; full fine-tuning uses the
// common mixed-precision accounting (fp32 master weights and gradients);
// the GPU suite measures LoRA with per-layer checkpointing on and off.
void AddTrainingDimensions(Suite& s, bool gpu) {
  std::vector<SuiteTemplate> out;
  for (SuiteTemplate t : s.templates) {
    const bool lora = t.kind == v1::WORKLOAD_KIND_TRAIN_LORA;
    const bool full = t.kind == v1::WORKLOAD_KIND_TRAIN_FULL;
    if (!lora && !full) {
      out.push_back(t);
      continue;
    }
    if (t.precision == v1::PRECISION_BF16 || t.precision == v1::PRECISION_FP16) {
      t.train.activation_precision = t.precision;
    }
    if (full) t.train.full_finetune_accounting = v1::FULL_FINETUNE_ACCOUNTING_MIXED;
    out.push_back(t);
    if (lora && gpu) {
      t.train.gradient_checkpointing = true;
      out.push_back(t);
    }
  }
  s.templates = std::move(out);
}
// ---- end of the training block.

// ---- Quantized-weights block (issue 15): 4-bit and 8-bit decode, what most
// people run on a CPU: weights in Q4_0/Q8_0, KV cache and activations bf16.
// Llama 3.1 8B in Q4_0 needs about 5.6 GB, so the 8B point runs wherever the
// bf16 one fits. Q4_0 decode comes first in each preset's templates: the
// first pass runs batch 1 in this order, preset by preset, and when the
// reservations exceed the time budget the last ones give way, so on a CPU
// the 8B's bf16 prefill and decode (minutes each) give way before its 4-bit
// decode (seconds), the question most CPU owners ask. Q8_0 comes last and
// is deferred: its batch 1 runs after every preset's other batch-1 points,
// where time allows, and gives way first.
void AddQuantizedDecode(Suite& s) {
  std::vector<SuiteTemplate> out;
  out.push_back({v1::WORKLOAD_KIND_DECODE, v1::PRECISION_Q4_0, 64, 4, 0, 0, {}});
  for (const SuiteTemplate& t : s.templates) out.push_back(t);
  SuiteTemplate q8{v1::WORKLOAD_KIND_DECODE, v1::PRECISION_Q8_0, 64, 4, 0, 0, {}};
  q8.deferred = true;
  out.push_back(q8);
  s.templates = std::move(out);
}
// ---- end of the quantized-weights block.

// ---- GPU quantized block (issue 15, GPU half): 4-bit weights on GPUs, the
// answer to "will Llama 3.1 8B run on my 8 GB card?". Q4_0 prefill and
// decode (the bf16 templates' lengths, so the cells compare) for the 7-8B
// presets and Llama 2 7B (the model of llama.cpp's published Q4_0 figures;
// it runs only these), and QLoRA (NF4 base, fp32 adapters, the bf16 LoRA
// template's shape) for Llama 3.1 8B: the seed's RTX 4090 case. Scoped to
// those presets (Suite::scoped): the small presets need no 4-bit answer.
void AddGpuQuantized(Suite& s) {
  const std::vector<std::string> large = {"llama-3.1-8b", "qwen2.5-7b", "mistral-7b-v0.3", "llama-2-7b"};
  s.scoped.push_back({large, {v1::WORKLOAD_KIND_PREFILL, v1::PRECISION_Q4_0, 512, 0, 0, 0, {}}});
  s.scoped.push_back({large, {v1::WORKLOAD_KIND_DECODE, v1::PRECISION_Q4_0, 512, 64, 0, 0, {}}});
  s.scoped.push_back({{"llama-3.1-8b"}, {v1::WORKLOAD_KIND_TRAIN_LORA, v1::PRECISION_NF4, 0, 0, 512, 16, {}}});
}
// ---- end of the GPU quantized block.

}  // namespace

Suite CpuSuite2027() {
  Suite s = CpuSuite();
  s.version = "2027.01-cpu";
  AddTrainingDimensions(s, /*gpu=*/false);
  AddQuantizedDecode(s);
  return s;
}

Suite GpuSuite2027() {
  Suite s = GpuSuite();
  s.version = "2027.01-gpu";
  AddTrainingDimensions(s, /*gpu=*/true);
  AddGpuQuantized(s);
  return s;
}

}  // namespace localbench::agent
