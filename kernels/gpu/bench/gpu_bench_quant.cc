// localbench_gpu_bench's quantized section (`--quant` runs only it): the
// GPU's quantized decode (issue 15) against the device's limits and
// llama.cpp's published figures.
//
//   GEMV weight bytes/s (scales included), batch 1, Llama 2 7B's shapes, per
//   format  / copy bandwidth of our own streaming kernel, same run (>= 0.6)
//   Llama 2 7B Q4_0 decode tokens/s, batch 1, 128 tokens from a 1-token
//   prompt (llama-bench's tg128)  / llama.cpp's published Q4_0 tg128 on the
//   same card where the table below knows it (>= 1.0)
//
// Timing: device events after warm-up, median of the repetitions; the
// decode step replays as a graph where capture works. Prints Markdown for
// docs/BENCHMARKS.md.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "localbench/kernels/gpu/gpu_backend.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/presets.h"
#include "localbench/kernels/quant.h"
#include "localbench/kernels/workload.h"

#include "gpu_bench_quant.h"

namespace localbench_gpu_bench {
namespace lk = localbench::kernels;
namespace gpu = localbench::kernels::gpu;

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "localbench_gpu_bench --quant: %s\n", what.c_str());
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

// llama.cpp's published Llama 2 7B Q4_0 tg128 (tokens/s, CUDA backend,
// community scoreboard figures quoted in issue 15), by device name; 0 when
// no figure is known for the card.
double PublishedQ4Tg128(const std::string& name) {
  auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  if (has("H100")) return 268;     // 268-281 reported; the lower end
  if (has("RTX 4090")) return 186; // 186-189 reported
  return 0;
}

// The product shapes of one Llama 2 7B layer and its head: [n, k].
struct Shape {
  const char* what;
  std::int64_t n, k;
};

}  // namespace

void RunQuantBench(gpu::GpuBackend& backend, int reps) {
  gpu::GpuBackend* b = &backend;
  lk::Device& dev = b->device();
  const lk::DeviceInfo& info = dev.info();
  std::printf("## quantized decode on %s (%s, %u SMs, driver %s, runtime %s)\n\n", info.name.c_str(), b->name().c_str(),
              info.multiprocessor_count, info.driver_version.c_str(), info.runtime_version.c_str());

  // ---- copy bandwidth: the denominator ----
  const std::uint64_t copy_bytes = 1ull << 30;
  void* src = Must(dev.Allocate(copy_bytes), "allocate copy source");
  void* dst = Must(dev.Allocate(copy_bytes), "allocate copy destination");
  Must(b->FillRandomUniform(lk::Tensor::Of(src, lk::DType::kF32, {static_cast<std::int64_t>(copy_bytes / 4)}), 1, 1.f),
       "fill");
  const double copy_s = TimeMedian(dev, 2, reps, [&] { return b->CopyKernel(dst, src, copy_bytes); });
  const double copy_bw = 2.0 * static_cast<double>(copy_bytes) / copy_s;  // read + write
  dev.Free(src);
  dev.Free(dst);
  std::printf("| figure | value | limit (same run) | ratio |\n|---|---|---|---|\n");
  std::printf("| copy kernel, 1 GiB (read + write) | %.0f GB/s | - | - |\n", copy_bw / 1e9);

  // ---- the fused GEMV, batch 1, per format and shape ----
  const Shape shapes[] = {{"wq/wk/wv/wo 4096x4096", 4096, 4096},
                          {"w_gate/w_up 11008x4096", 11008, 4096},
                          {"w_down 4096x11008", 4096, 11008},
                          {"lm_head 32000x4096", 32000, 4096}};
  for (lk::QuantFormat f : {lk::QuantFormat::kQ4_0, lk::QuantFormat::kQ8_0, lk::QuantFormat::kNf4}) {
    for (const Shape& s : shapes) {
      const std::uint64_t bytes = lk::QuantizedBytes(f, s.n, s.k);
      void* w = Must(dev.Allocate(bytes), "allocate weights");
      void* x = Must(dev.Allocate(static_cast<std::uint64_t>(s.k) * 4), "allocate x");
      void* y = Must(dev.Allocate(static_cast<std::uint64_t>(s.n) * 4), "allocate y");
      const lk::Tensor tx = lk::Tensor::Of(x, lk::DType::kF32, {1, s.k});
      const lk::Tensor ty = lk::Tensor::Of(y, lk::DType::kF32, {1, s.n});
      Must(b->FillRandomQuantized(f, w, s.n, s.k, 3, 0.02f), "fill weights");
      Must(b->FillRandomUniform(tx, 4, 1.f), "fill x");
      const double t = TimeMedian(dev, 3, reps, [&] {
        return b->QuantLinear(f, true, tx, w, s.n, s.k, 0.f, ty, lk::Tensor{});
      });
      const double bw = static_cast<double>(bytes) / t;
      std::printf("| GEMV %s %s, batch 1 | %.0f GB/s of weights (%.1f us) | copy %.0f GB/s | **%.2f** |\n",
                  std::string(lk::QuantFormatName(f)).c_str(), s.what, bw / 1e9, t * 1e6, copy_bw / 1e9,
                  bw / copy_bw);
      dev.Free(w);
      dev.Free(x);
      dev.Free(y);
    }
  }

  // ---- Llama 2 7B Q4_0 decode, llama-bench's tg128 shape ----
  {
    lk::WorkloadConfig c;
    c.kind = lk::WorkloadKind::kDecode;
    c.preset = Must(lk::FindPreset("llama-2-7b"), "preset");
    c.precision = lk::DType::kBF16;
    c.weight_format = lk::QuantFormat::kQ4_0;
    c.batch = 1;
    c.prompt_tokens = 1;
    c.generated_tokens = 128;
    auto w = Must(lk::Workload::Create(*b, c), "decode workload");
    const double eager_s = TimeMedian(dev, 1, reps, [&] { return w->Step(); });
    double graph_s = 0;
    auto graph = b->Capture([&] { return w->Step(); });
    if (graph.ok()) {
      graph_s = TimeMedian(dev, 1, reps, [&] { return (*graph)->Launch(); });
    } else {
      std::printf("| decode graph | unavailable: %s | | |\n", graph.status().ToString().c_str());
    }
    const double step_s = graph_s > 0 ? std::min(graph_s, eager_s) : eager_s;
    const double tok_s = static_cast<double>(c.generated_tokens) / step_s;
    const double weights = static_cast<double>(w->plan().CategoryBytes(lk::BufferCategory::kWeights));
    const double published = PublishedQ4Tg128(info.name);
    std::printf("| decode llama-2-7b q4_0, batch 1, 1+128 tokens (%s) | %.1f tok/s (%.0f GB/s of weights) | %s | %s |\n",
                graph_s > 0 && graph_s <= eager_s ? "graph" : "eager", tok_s, tok_s * weights / 1e9,
                published > 0 ? ("llama.cpp tg128 " + std::to_string(static_cast<int>(published)) + " tok/s").c_str()
                              : "no published llama.cpp figure for this card",
                published > 0 ? ("**" + std::to_string(tok_s / published).substr(0, 4) + "**").c_str() : "-");
  }
  std::printf("\n");
}

}  // namespace localbench_gpu_bench
