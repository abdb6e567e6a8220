// Kernels benchmark: every figure is a ratio against a baseline measured in
// the same run on the same machine.
//   1. GEMM GFLOP/s of Backend::Gemm vs OpenBLAS cblas_sgemm called directly.
//   2. Decode GEMV weight-bytes/s vs multi-threaded memory-copy bandwidth.
//   3. tokens/s of prefill, decode and a LoRA step on a model preset's shapes.
// Usage: localbench_bench_kernels [--preset NAME] [--quick] [--only gemm|decode-bw|prefill|decode|lora]
//                                 [--threads N]   (ours and the baselines use N threads)
//                                 [--profile]     (per-op time of one decode and prefill step, op_profile.h)
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cpu/isa.h"
#include "localbench/kernels/cpu_backend.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/sweep.h"
#include "localbench/kernels/version.h"
#include "localbench/kernels/workload.h"
#include "op_profile.h"

namespace lk = localbench::kernels;

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best of `reps` timings of fn (seconds).
template <typename Fn>
double Best(int reps, Fn&& fn) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    const double t0 = Now();
    fn();
    best = std::min(best, Now() - t0);
  }
  return best;
}

lk::Tensor Make(lk::CpuBackend& b, lk::DType dtype, std::initializer_list<std::int64_t> dims, std::uint64_t seed) {
  lk::Tensor t = lk::Tensor::Of(nullptr, dtype, dims);
  t.data = *b.device().Allocate(std::max<std::uint64_t>(t.bytes(), 1));
  if (!b.FillRandomUniform(t, seed, 1.0f).ok()) std::abort();
  return t;
}

void Check(const absl::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.ToString().c_str());
    std::exit(1);
  }
}

void BenchGemm(lk::CpuBackend& b, std::int64_t m, std::int64_t n, std::int64_t k, lk::DType wtype) {
  // y[m, n] = x[m, k] W[n, k]^T, the shape of every projection.
  lk::Tensor x = Make(b, lk::DType::kF32, {m, k}, 1);
  lk::Tensor w = Make(b, wtype, {n, k}, 2);
  lk::Tensor w32 = Make(b, lk::DType::kF32, {n, k}, 2);
  lk::Tensor y = Make(b, lk::DType::kF32, {m, n}, 3);
  const std::uint64_t ws_bytes = lk::GemmWorkspaceBytes(m, n, k, lk::DType::kF32, wtype, lk::DType::kF32);
  lk::Tensor ws = Make(b, lk::DType::kF32, {static_cast<std::int64_t>(ws_bytes / 4) + 1}, 4);
  const double flops = 2.0 * static_cast<double>(m * n * k);
  // Baseline and ours alternate, best of each, so load from other processes
  // hits both alike. The baseline is OpenBLAS with its own threads (the
  // backend sets it to one thread and splits the work itself).
  const int threads = static_cast<int>(b.device().info().multiprocessor_count);
  double t_blas = 1e30, t_ours = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    openblas_set_num_threads(threads);
    t_blas = std::min(t_blas, Best(1, [&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n),
                  static_cast<int>(k), 1.0f, static_cast<float*>(x.data), static_cast<int>(k),
                  static_cast<float*>(w32.data), static_cast<int>(k), 0.0f, static_cast<float*>(y.data),
                  static_cast<int>(n));
    }));
    openblas_set_num_threads(1);
    t_ours = std::min(t_ours, Best(1, [&] { Check(b.Gemm(false, true, 1.0f, x, w, 0.0f, y, ws)); }));
  }
  std::printf("| gemm %lldx%lldx%lld, W %s | %.1f | %.1f | %.2fx |\n", static_cast<long long>(m),
              static_cast<long long>(n), static_cast<long long>(k), std::string(lk::DTypeName(wtype)).c_str(),
              flops / t_ours * 1e-9, flops / t_blas * 1e-9, t_blas / t_ours);
  for (void* p : {x.data, w.data, w32.data, y.data, ws.data}) b.device().Free(p);
}

void BenchDecodeBandwidth(lk::CpuBackend& b, int threads) {
  // A weight far larger than the last-level cache, read once per product.
  const std::int64_t n = 32768, k = 4096;  // 256 MiB in bf16
  lk::Tensor x = Make(b, lk::DType::kF32, {1, k}, 1);
  lk::Tensor w = Make(b, lk::DType::kBF16, {n, k}, 2);
  lk::Tensor y = Make(b, lk::DType::kF32, {1, n}, 3);
  const std::uint64_t ws_bytes = lk::GemmWorkspaceBytes(1, n, k, lk::DType::kF32, lk::DType::kBF16, lk::DType::kF32);
  lk::Tensor ws = Make(b, lk::DType::kF32, {static_cast<std::int64_t>(ws_bytes / 4) + 1}, 4);
  const double weight_bytes = static_cast<double>(w.bytes());
  // GEMV and copy alternate, best of each (see BenchGemm).
  const std::size_t bytes = w.bytes();
  std::vector<char> src(bytes, 1), dst(bytes, 0);
  auto copy = [&] {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const std::size_t b0 = bytes * static_cast<std::size_t>(t) / static_cast<std::size_t>(threads);
        const std::size_t b1 = bytes * static_cast<std::size_t>(t + 1) / static_cast<std::size_t>(threads);
        std::memcpy(dst.data() + b0, src.data() + b0, b1 - b0);
      });
    }
    for (std::thread& th : pool) th.join();
  };
  double t_gemv = 1e30, t_copy = 1e30;
  for (int rep = 0; rep < 7; ++rep) {
    t_gemv = std::min(t_gemv, Best(1, [&] { Check(b.Gemm(false, true, 1.0f, x, w, 0.0f, y, ws)); }));
    t_copy = std::min(t_copy, Best(1, copy));  // traffic: read + write (the STREAM convention)
  }
  const double gemv_bw = weight_bytes / t_gemv, copy_bw = 2.0 * static_cast<double>(bytes) / t_copy;
  std::printf("| decode GEMV 1x%lldx%lld bf16 weight read | %.2f GB/s | copy %.2f GB/s | %.2fx |\n",
              static_cast<long long>(n), static_cast<long long>(k), gemv_bw * 1e-9, copy_bw * 1e-9, gemv_bw / copy_bw);
  for (void* p : {x.data, w.data, y.data, ws.data}) b.device().Free(p);
}

void BenchWorkload(lk::CpuBackend& b, const lk::WorkloadConfig& c, const char* label, int repetitions) {
  lk::SweepOptions options;
  options.warmup_steps = 1;
  options.repetitions = repetitions;
  options.batches = {c.batch};
  options.prove_oom_bracket = false;
  lk::WorkloadConfig base = c;
  absl::StatusOr<lk::SweepResult> r = lk::RunSweep(b, base, options);
  Check(r.status());
  for (const lk::SweepPoint& p : r->points) {
    if (p.status != lk::PointStatus::kOk) {
      std::printf("| %s | batch %lld | %s: %s |\n", label, static_cast<long long>(p.batch_size),
                  std::string(lk::PointStatusName(p.status)).c_str(), p.error_message.c_str());
      continue;
    }
    std::string note;
    if (c.kind == lk::WorkloadKind::kDecode) {
      // Every generated position reads all weights once per batch step:
      // the decode workload's own weight bandwidth.
      lk::WorkloadConfig pc = c;
      pc.batch = p.batch_size;
      const double weights = static_cast<double>(lk::PlanMemory(pc)->CategoryBytes(lk::BufferCategory::kWeights));
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2f GB/s weights",
                    weights * p.tokens_per_second_median / static_cast<double>(p.batch_size) * 1e-9);
      note = buf;
    }
    std::printf("| %s | %lld | %.2f | %.2f-%.2f | %.3f | %.2f GiB | %s |\n", label,
                static_cast<long long>(p.batch_size), p.tokens_per_second_median, p.tokens_per_second_min,
                p.tokens_per_second_max, p.step_seconds_median, static_cast<double>(p.arena_peak_bytes) / (1 << 30),
                note.c_str());
  }
  std::fflush(stdout);
}

// Per-op breakdown of `steps` steps of one workload after a warm-up step:
// where a decode token's time goes between the GEMVs.
void ProfileWorkload(lk::CpuBackend& b, const lk::WorkloadConfig& c, const char* label, int steps) {
  lk::bench::ProfilingBackend profiler(b);
  absl::StatusOr<std::unique_ptr<lk::Workload>> w = lk::Workload::Create(profiler, c);
  Check(w.status());
  Check((*w)->Step());
  profiler.Reset();
  const double t0 = Now();
  for (int i = 0; i < steps; ++i) Check((*w)->Step());
  const double per_step = (Now() - t0) / steps;
  std::printf("\nprofile: %s, batch %lld: %.2f ms/step, %.2f tokens/s (with timers)\n", label,
              static_cast<long long>(c.batch), per_step * 1e3,
              static_cast<double>((*w)->tokens_per_step()) / per_step);
  profiler.Print(static_cast<double>(steps));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string preset_name = "llama-3.2-1b";
  bool quick = false;
  std::string only;
  int threads = 0;  // 0: all hardware threads
  bool profile = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--preset" && i + 1 < argc) {
      preset_name = argv[++i];
    } else if (arg == "--profile") {
      profile = true;
    } else if (arg == "--quick") {
      quick = true;
    } else if (arg == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (arg == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--preset NAME] [--quick] [--only gemm|decode-bw|prefill|decode|lora] [--threads N] [--profile]\n",
                   argv[0]);
      return 2;
    }
  }
  auto want = [&](const char* part) { return only.empty() || only == part; };
  absl::StatusOr<lk::ModelPreset> preset = lk::FindPreset(preset_name);
  Check(preset.status());
  lk::CpuDeviceOptions device_options;
  device_options.threads = threads;
  lk::CpuBackend backend(device_options);
  const lk::DeviceInfo& info = backend.device().info();
  std::printf("device: %s, %u threads, memory limit %.1f GiB; kernel source hash %s\n", info.name.c_str(),
              info.multiprocessor_count, static_cast<double>(info.memory_total_bytes) / (1 << 30),
              std::string(lk::KernelSourceHash()).substr(0, 16).c_str());
  // Which instruction set the kernels picked (run-time dispatch) and from
  // which CPU flags: figures from different hosts are only comparable with it.
  std::printf("%s\n\n", localbench::kernels::cpu::IsaReport().c_str());

  if (want("gemm")) {
    std::printf("| GEMM (y = x W^T) | ours GFLOP/s | OpenBLAS sgemm GFLOP/s | ratio |\n|---|---|---|---|\n");
    BenchGemm(backend, 512, 2048, 2048, lk::DType::kF32);
    BenchGemm(backend, 512, 2048, 2048, lk::DType::kBF16);
    BenchGemm(backend, 512, 8192, 2048, lk::DType::kBF16);
    BenchGemm(backend, 512, 2048, 8192, lk::DType::kBF16);
  }
  if (want("decode-bw")) {
    std::printf("\n| decode | ours | baseline | ratio |\n|---|---|---|---|\n");
    BenchDecodeBandwidth(backend, static_cast<int>(info.multiprocessor_count));
  }

  if (profile) {
    lk::WorkloadConfig pc;
    pc.preset = *preset;
    pc.precision = lk::DType::kBF16;
    pc.seed = 1;
    pc.batch = 1;
    pc.kind = lk::WorkloadKind::kDecode;
    pc.prompt_tokens = 128;
    pc.generated_tokens = quick ? 4 : 16;
    if (want("decode")) ProfileWorkload(backend, pc, "decode P=128", 2);
    pc.kind = lk::WorkloadKind::kPrefill;
    pc.generated_tokens = 0;
    pc.prompt_tokens = quick ? 32 : 128;
    if (want("prefill")) ProfileWorkload(backend, pc, quick ? "prefill P=32" : "prefill P=128", 1);
    return 0;
  }
  if (!want("prefill") && !want("decode") && !want("lora")) return 0;
  std::printf("\n| workload (%s, bf16) | batch | tokens/s median | min-max | step s | arena | note |\n|---|---|---|---|---|---|---|\n",
              preset_name.c_str());
  lk::WorkloadConfig c;
  c.preset = *preset;
  c.precision = lk::DType::kBF16;
  c.seed = 1;
  c.kind = lk::WorkloadKind::kPrefill;
  c.batch = 1;
  c.prompt_tokens = quick ? 32 : 128;
  const int reps = quick ? 2 : 3;
  if (want("prefill")) BenchWorkload(backend, c, quick ? "prefill P=32" : "prefill P=128", reps);
  c.kind = lk::WorkloadKind::kDecode;
  c.prompt_tokens = 128;
  c.generated_tokens = quick ? 4 : 16;
  if (want("decode")) BenchWorkload(backend, c, quick ? "decode P=128 G=4" : "decode P=128 G=16", reps);
  if (!quick && want("decode")) {
    c.batch = 4;
    BenchWorkload(backend, c, "decode P=128 G=16", reps);
  }
  c.kind = lk::WorkloadKind::kTrainLora;
  c.batch = 1;
  c.prompt_tokens = 0;
  c.generated_tokens = 0;
  c.sequence_tokens = quick ? 32 : 64;
  c.lora_rank = 16;
  if (want("lora")) BenchWorkload(backend, c, quick ? "LoRA step T=32 r=16" : "LoRA step T=64 r=16", 2);
  return 0;
}
