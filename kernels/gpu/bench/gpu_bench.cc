// localbench_gpu_bench: how close our GPU kernels come to the device's limits.
//
//   decode bytes/s     / copy bandwidth of our own streaming kernel (>= 0.8)
//   portable GEMM      / cuBLASLt on the same shapes (>= 0.5; vendor ~ 1.0)
//   prefill, LoRA step / dense bf16 peak of the device (MFU, from a table)
//   quantized decode   / copy bandwidth; llama.cpp's published Q4_0 tg128
//                        (gpu_bench_quant.cc; `--quant` runs only this part)
//
// Every ratio's denominator is measured in the same run (the peak excepted,
// which is a datasheet number). Timing: device events after warm-up, median
// of the repetitions. Prints Markdown for docs/BENCHMARKS.md. Exits 0 with a
// "no GPU" line where there is none.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gpu_bench_quant.h"
#include "localbench/kernels/gpu/gpu_backend.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/presets.h"
#include "localbench/kernels/workload.h"

namespace lk = localbench::kernels;
namespace gpu = localbench::kernels::gpu;

namespace {

struct Options {
  std::string model = "llama-3.2-1b";
  int reps = 5;
  int warmup = 2;
  bool quant_only = false;  // --quant: the quantized decode figures only
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "localbench_gpu_bench: %s\n", what.c_str());
  std::exit(1);
}

template <typename T>
T Must(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) Die(std::string(what) + ": " + v.status().ToString());
  return std::move(*v);
}
void Must(const absl::Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

// Median seconds of `reps` timed runs of fn after `warmup` untimed ones.
double TimeMedian(lk::Device& dev, int warmup, int reps, const std::function<absl::Status()>& fn) {
  for (int i = 0; i < warmup; ++i) Must(fn(), "warm-up");
  Must(dev.Synchronize(), "synchronize");
  auto timer = Must(dev.CreateTimer(), "timer");
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    Must(timer->RecordStart(), "timer start");
    Must(fn(), "timed run");
    Must(timer->RecordStop(), "timer stop");
    t.push_back(Must(timer->ElapsedSeconds(), "timer elapsed"));
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Dense bf16 tensor-core peak (fp32 accumulation, no sparsity), TFLOP/s, at
// boost clock, from the vendors' datasheets. 0 when unknown.
double PeakBf16Tflops(const lk::DeviceInfo& info) {
  const std::string& n = info.name;
  auto has = [&](const char* s) { return n.find(s) != std::string::npos; };
  if (has("H200")) return 989;
  if (has("H100")) return has("PCIe") ? 756 : (has("NVL") ? 835 : 989);
  if (has("GH200")) return 989;
  if (has("A100")) return 312;
  if (has("L40S")) return 362;
  if (has("L40")) return 181;
  if (has("L4")) return 121;
  if (has("A10")) return 125;
  if (has("RTX 6000 Ada")) return 364;
  if (has("RTX 4090")) return 165;
  if (has("RTX 4080")) return 97;
  if (has("RTX 3090")) return 71;
  if (has("RTX 3080")) return 59;
  if (has("RTX A6000")) return 155;
  if (info.gfx_target == "gfx90a") return 383;  // MI250X (per package); MI210: 181
  if (info.gfx_target == "gfx942") return 1307; // MI300X
  if (info.gfx_target == "gfx1030") return 0;   // RDNA2: no matrix cores
  return 0;
}

// Forward FLOPs of one pass over `tokens` tokens of sequences of length
// `seq` (causal attention), with the LM head on `head_tokens` rows.
double ForwardFlops(const lk::ModelPreset& p, double tokens, double seq, double head_tokens) {
  const double per_layer_params = static_cast<double>(p.hidden) * p.q_dim() + 2.0 * p.hidden * p.kv_dim() +
                                  static_cast<double>(p.q_dim()) * p.hidden + 3.0 * p.hidden * p.intermediate;
  const double dense = 2.0 * per_layer_params * p.layers * tokens;
  // QK^T and PV, causal: on average seq/2 keys per query.
  const double attention = 2.0 * 2.0 * tokens * (seq / 2.0) * p.q_dim() * p.layers;
  const double head = 2.0 * static_cast<double>(p.vocab) * p.hidden * head_tokens;
  return dense + attention + head;
}

struct GemmShape {
  const char* what;
  int m, n, k;
};

void PrintTelemetry(gpu::GpuBackend& b, const char* when) {
  const gpu::GpuTelemetry t = b.Telemetry();
  if (t.source.empty()) {
    std::printf("- telemetry %s: unavailable (%s)\n", when, t.unavailable_reason.c_str());
    return;
  }
  std::printf("- telemetry %s (%s): SM clock %s MHz, throttle %s, process memory %s MiB\n", when, t.source.c_str(),
              t.has_sm_clock_mhz ? std::to_string(t.sm_clock_mhz).c_str() : "?",
              t.has_throttle ? t.throttle_reasons.c_str() : "?",
              t.has_process_used_bytes ? std::to_string(t.process_used_bytes >> 20).c_str() : "?");
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--model=", 0) == 0) {
      opt.model = a.substr(8);
    } else if (a.rfind("--reps=", 0) == 0) {
      opt.reps = std::max(1, std::atoi(a.c_str() + 7));
    } else if (a == "--quant") {
      opt.quant_only = true;
    } else {
      std::fprintf(stderr, "usage: %s [--model=PRESET] [--reps=N] [--quant]\n", argv[0]);
      return 2;
    }
  }

  // ---- find a GPU ----
  std::unique_ptr<gpu::GpuBackend> b;
  std::string why_all;
#if LOCALBENCH_WITH_CUDA
  {
    std::string why;
    if (lk::cuda::DeviceCount(&why) > 0) b = Must(lk::cuda::CreateBackend(0), "open cuda:0");
    if (!b) why_all += "CUDA: " + why + "; ";
  }
#endif
#if LOCALBENCH_WITH_HIP
  if (!b) {
    std::string why;
    if (lk::hip::DeviceCount(&why) > 0) b = Must(lk::hip::CreateBackend(0), "open hip:0");
    if (!b) why_all += "HIP: " + why + "; ";
  }
#endif
  if (!b) {
    std::printf("no GPU: nothing to benchmark (%s)\n", why_all.empty() ? "no GPU backend compiled in" : why_all.c_str());
    return 0;
  }
  if (opt.quant_only) {
    localbench_gpu_bench::RunQuantBench(*b, opt.reps);
    return 0;
  }
  lk::Device& dev = b->device();
  const lk::DeviceInfo& info = dev.info();
  const lk::ModelPreset preset = Must(lk::FindPreset(opt.model), "preset");
  std::printf("## %s (%s, %s%s, %u SMs, %.1f GiB, driver %s, runtime %s)\n\n", info.name.c_str(), b->name().c_str(),
              info.compute_capability.empty() ? info.gfx_target.c_str() : "sm_",
              info.compute_capability.c_str(), info.multiprocessor_count,
              static_cast<double>(info.memory_total_bytes) / (1u << 30), info.driver_version.c_str(),
              info.runtime_version.c_str());
  PrintTelemetry(*b, "at start");

  // ---- copy bandwidth: the denominator of decode ----
  const std::uint64_t copy_bytes = 1ull << 30;
  void* src = Must(dev.Allocate(copy_bytes), "allocate copy source");
  void* dst = Must(dev.Allocate(copy_bytes), "allocate copy destination");
  Must(b->FillRandomUniform(lk::Tensor::Of(src, lk::DType::kF32, {static_cast<std::int64_t>(copy_bytes / 4)}), 1, 1.f),
       "fill");
  const double copy_s = TimeMedian(dev, opt.warmup, opt.reps, [&] { return b->CopyKernel(dst, src, copy_bytes); });
  const double copy_bw = 2.0 * static_cast<double>(copy_bytes) / copy_s;  // read + write
  dev.Free(src);
  dev.Free(dst);
  std::printf("\n| figure | value | limit (same run) | ratio |\n|---|---|---|---|\n");
  std::printf("| copy kernel, 1 GiB (read + write) | %.0f GB/s | - | - |\n", copy_bw / 1e9);

  // ---- decode: bytes/s against copy bandwidth ----
  {
    lk::WorkloadConfig c;
    c.kind = lk::WorkloadKind::kDecode;
    c.preset = preset;
    c.precision = lk::DType::kBF16;
    c.batch = 1;
    c.prompt_tokens = 512;
    c.generated_tokens = 32;
    auto w = Must(lk::Workload::Create(*b, c), "decode workload");
    const double eager_s = TimeMedian(dev, opt.warmup, opt.reps, [&] { return w->Step(); });
    double graph_s = 0;
    auto graph = b->Capture([&] { return w->Step(); });
    if (graph.ok()) {
      graph_s = TimeMedian(dev, opt.warmup, opt.reps, [&] { return (*graph)->Launch(); });
    } else {
      std::printf("| decode graph | unavailable: %s | | |\n", graph.status().ToString().c_str());
    }
    const double step_s = graph_s > 0 ? std::min(graph_s, eager_s) : eager_s;
    // Bytes one token reads: every weight once (tied: the LM head reads the
    // embedding table) plus the KV cache up to the mean context length.
    const double weights = static_cast<double>(w->plan().CategoryBytes(lk::BufferCategory::kWeights));
    const double mean_ctx = c.prompt_tokens + (c.generated_tokens + 1) / 2.0;
    const double kv = 2.0 * preset.layers * preset.kv_dim() * 2.0 * mean_ctx;
    const double tok_s = static_cast<double>(c.generated_tokens) / step_s;
    const double bytes_s = tok_s * (weights + kv);
    std::printf("| decode %s bf16, batch 1, ctx 512+32 (%s) | %.1f tok/s = %.0f GB/s | copy %.0f GB/s | **%.2f** |\n",
                preset.name.c_str(), graph_s > 0 && graph_s <= eager_s ? "graph" : "eager", tok_s, bytes_s / 1e9,
                copy_bw / 1e9, bytes_s / copy_bw);
    std::printf("| decode step without graph | %.2f ms/token | graph %.2f ms/token | %.2f |\n",
                eager_s * 1e3 / c.generated_tokens, graph_s * 1e3 / c.generated_tokens,
                graph_s > 0 ? eager_s / graph_s : 0.0);
  }

  // ---- GEMM: portable and SIMT against cuBLASLt ----
  const GemmShape shapes[] = {
      {"prefill qkv-like", 4096, static_cast<int>(preset.q_dim() + 2 * preset.kv_dim()), static_cast<int>(preset.hidden)},
      {"prefill mlp up", 4096, static_cast<int>(preset.intermediate), static_cast<int>(preset.hidden)},
      {"prefill mlp down", 4096, static_cast<int>(preset.hidden), static_cast<int>(preset.intermediate)},
      {"square 4096", 4096, 4096, 4096},
      {"odd 4095x4097x1000", 4095, 4097, 1000},
  };
  for (const GemmShape& s : shapes) {
    // y = x W^T with x [M, K], W [N, K] bf16, y fp32: the workloads' layout.
    const std::uint64_t a_bytes = 2ull * s.m * s.k, b_bytes = 2ull * s.n * s.k, c_bytes = 4ull * s.m * s.n;
    void* a = Must(dev.Allocate(a_bytes), "gemm a");
    void* w = Must(dev.Allocate(b_bytes), "gemm b");
    void* y = Must(dev.Allocate(c_bytes), "gemm c");
    lk::Tensor ta = lk::Tensor::Of(a, lk::DType::kBF16, {s.m, s.k});
    lk::Tensor tb = lk::Tensor::Of(w, lk::DType::kBF16, {s.n, s.k});
    lk::Tensor tc = lk::Tensor::Of(y, lk::DType::kF32, {s.m, s.n});
    Must(b->FillRandomUniform(ta, 2, 1.f), "fill");
    Must(b->FillRandomUniform(tb, 3, 1.f), "fill");
    const double flops = 2.0 * s.m * s.n * s.k;
    double t[3] = {0, 0, 0};
    const gpu::GemmPath paths[3] = {gpu::GemmPath::kVendor, gpu::GemmPath::kPortable, gpu::GemmPath::kSimt};
    for (int i = 0; i < 3; ++i) {
      b->SetGemmPath(paths[i]);
      if (b->gemm_path() != paths[i]) continue;  // no vendor GEMM (HIP)
      t[i] = TimeMedian(dev, opt.warmup, opt.reps,
                        [&] { return b->Gemm(false, true, 1.f, ta, tb, 0.f, tc, lk::Tensor{}); });
    }
    b->SetGemmPath(gpu::GemmPath::kVendor);
    const double ref = t[0] > 0 ? t[0] : 0;
    for (int i = 0; i < 3; ++i) {
      if (t[i] == 0) continue;
      std::printf("| GEMM %s %dx%dx%d bf16, %s | %.1f TFLOP/s | %s | %s |\n", s.what, s.m, s.n, s.k,
                  gpu::GemmPathName(paths[i]), flops / t[i] / 1e12,
                  ref > 0 ? ("cuBLASLt " + std::to_string(static_cast<int>(flops / ref / 1e12)) + " TFLOP/s").c_str()
                          : "no vendor GEMM",
                  ref > 0 ? (std::string(i == 0 ? "" : "**") + std::to_string(ref / t[i]).substr(0, 4) +
                             (i == 0 ? "" : "**"))
                                .c_str()
                          : "-");
    }
    dev.Free(a);
    dev.Free(w);
    dev.Free(y);
  }

  // ---- prefill and LoRA step MFU ----
  const double peak = PeakBf16Tflops(info) * 1e12;
  auto mfu = [&](double flops_per_s) {
    return peak > 0 ? std::to_string(flops_per_s / peak).substr(0, 5) : std::string("peak unknown");
  };
  {
    lk::WorkloadConfig c;
    c.kind = lk::WorkloadKind::kPrefill;
    c.preset = preset;
    c.precision = lk::DType::kBF16;
    c.batch = 4;
    c.prompt_tokens = 512;
    auto w = Must(lk::Workload::Create(*b, c), "prefill workload");
    const double s = TimeMedian(dev, opt.warmup, opt.reps, [&] { return w->Step(); });
    const double flops = ForwardFlops(preset, 4.0 * 512, 512, 4);
    std::printf("| prefill %s bf16, 4 x 512 tokens | %.0f tok/s, %.0f TFLOP/s | bf16 peak %.0f TFLOP/s | **%s** |\n",
                preset.name.c_str(), 2048 / s, flops / s / 1e12, peak / 1e12, mfu(flops / s).c_str());
  }
  {
    lk::WorkloadConfig c;
    c.kind = lk::WorkloadKind::kTrainLora;
    c.preset = preset;
    c.precision = lk::DType::kBF16;
    c.batch = 2;
    c.sequence_tokens = 512;
    c.lora_rank = 16;
    auto w = Must(lk::Workload::Create(*b, c), "LoRA workload");
    const double s = TimeMedian(dev, 1, std::max(2, opt.reps / 2), [&] { return w->Step(); });
    // Frozen base: forward plus the backward's activation gradients, about
    // twice the forward (adapters and their weight gradients are negligible).
    const double flops = 2.0 * ForwardFlops(preset, 2.0 * 512, 512, 2.0 * 512);
    std::printf("| LoRA step %s bf16, r=16, 2 x 512 tokens | %.0f tok/s, %.0f TFLOP/s | bf16 peak %.0f TFLOP/s | **%s** |\n",
                preset.name.c_str(), 1024 / s, flops / s / 1e12, peak / 1e12, mfu(flops / s).c_str());
  }
  std::printf("\n");
  localbench_gpu_bench::RunQuantBench(*b, opt.reps);
  PrintTelemetry(*b, "at end");
  return 0;
}
