// The quantized-weights benchmark (issue 15; scripts/bench-quant.sh runs it):
// the CPU decode GEMV over a preset's layer projections, as weight bytes per
// second (scales included), against the memory-copy bandwidth measured in
// the same run on the same threads. Decode reads every weight once per
// token, so bytes/s over copy bandwidth says how close the kernel runs to
// the memory system; the target is >= 0.6.
//
//   localbench_bench_quant [--preset NAME] [--formats q4_0,q8_0,nf4]
//                          [--layers N] [--threads N] [--reps N]
//                          [--decode q4_0] (also: the whole decode workload
//                          of the preset, batch 1, prompt 64, 4 new tokens)
//
// Prints one Markdown row per figure: the medians of --reps timed passes.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "cpu/thread_pool.h"
#include "localbench/kernels/cpu_backend.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/presets.h"
#include "localbench/kernels/workload.h"
#include "localbench/kernels/quant.h"

namespace lk = localbench::kernels;

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU seconds this process has used (all threads): on a shared machine the
// wall time of a kernel includes time slices other processes took, so the
// kernels are also compared by the CPU time they consumed.
double CpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One projection of the preset: W [out, in].
struct Matrix {
  std::int64_t out, in;
  std::vector<std::uint8_t> q;
};

}  // namespace

int main(int argc, char** argv) {
  std::string preset_name = "llama-3.1-8b", formats = "q4_0,q8_0,nf4", decode;
  int layers = 2, threads = 2, reps = 15;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--preset") preset_name = value;
    else if (flag == "--formats") formats = value;
    else if (flag == "--layers") layers = std::atoi(value.c_str());
    else if (flag == "--threads") threads = std::atoi(value.c_str());
    else if (flag == "--reps") reps = std::atoi(value.c_str());
    else if (flag == "--decode") decode = value;
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  auto preset = lk::FindPreset(preset_name);
  if (!preset.ok() || layers < 1 || threads < 1 || reps < 1) {
    std::fprintf(stderr, "usage: %s [--preset NAME] [--formats q4_0,q8_0,nf4] [--layers N] [--threads N] [--reps N]\n",
                 argv[0]);
    return 2;
  }
  const lk::ModelPreset& p = *preset;
  lk::ThreadPool pool(threads);

  // Copy bandwidth: a buffer larger than any cache copied over the same
  // threads, counted read + write (the STREAM copy convention, as the
  // kernels benchmark counts it): what the memory system moves per second.
  const std::size_t copy_bytes = std::size_t{512} << 20;
  std::vector<char> src(copy_bytes, 1), dst(copy_bytes, 0);
  auto copy_pass = [&] {
    const double t0 = Now();
    pool.For(static_cast<std::int64_t>(copy_bytes >> 20), [&](std::int64_t a, std::int64_t b) {
      std::memcpy(dst.data() + (a << 20), src.data() + (a << 20), static_cast<std::size_t>(b - a) << 20);
    });
    return Now() - t0;
  };

  // Per format: `layers` layers of the preset's projections, quantized from
  // seeded values.
  struct Format {
    std::string name;
    lk::QuantFormat format;
    std::vector<Matrix> mats;
    std::uint64_t bytes = 0;
    std::vector<double> seconds, ratio, cpu_seconds;
  };
  std::vector<Format> fmts;
  std::int64_t max_in = 0, max_out = 0;
  std::string rest = formats;
  while (!rest.empty()) {
    const std::string name = rest.substr(0, rest.find(','));
    rest = rest.find(',') == std::string::npos ? "" : rest.substr(rest.find(',') + 1);
    auto format = lk::ParseQuantFormat(name);
    if (!format.ok()) {
      std::fprintf(stderr, "%s\n", std::string(format.status().message()).c_str());
      return 2;
    }
    Format f{name, *format, {}, 0, {}, {}, {}};
    for (int l = 0; l < layers; ++l) {
      for (auto [out, in] : {std::pair{p.q_dim(), p.hidden}, std::pair{p.kv_dim(), p.hidden},
                             std::pair{p.kv_dim(), p.hidden}, std::pair{p.hidden, p.q_dim()},
                             std::pair{p.intermediate, p.hidden}, std::pair{p.intermediate, p.hidden},
                             std::pair{p.hidden, p.intermediate}}) {
        Matrix m{out, in, std::vector<std::uint8_t>(lk::QuantizedBytes(*format, out, in))};
        std::vector<float> w(static_cast<std::size_t>(out * in));
        std::uint32_t s = 12345u + static_cast<std::uint32_t>(f.mats.size());
        for (float& v : w) {
          s = s * 1664525u + 1013904223u;
          v = (static_cast<float>(s >> 8) / 16777216.0f - 0.5f) * 0.04f;
        }
        lk::Quantize(*format, w.data(), out, in, m.q.data());
        f.bytes += m.q.size();
        max_in = std::max(max_in, in);
        max_out = std::max(max_out, out);
        f.mats.push_back(std::move(m));
      }
    }
    fmts.push_back(std::move(f));
  }
  std::vector<float> x(static_cast<std::size_t>(max_in), 0.01f), y(static_cast<std::size_t>(max_out));

  // Interleaved: every repetition times the copy and then each format, so a
  // machine whose load changes (shared cores) moves all figures together;
  // the ratio is taken within each repetition, then the median.
  std::vector<double> copy_s;
  for (int r = 0; r < reps + 1; ++r) {
    const double c = copy_pass();
    for (Format& f : fmts) {
      const double t0 = Now(), c0 = CpuNow();
      for (const Matrix& m : f.mats) lk::QuantGemv(f.format, x.data(), 1, m.q.data(), m.out, m.in, y.data(), &pool);
      const double t = Now() - t0, cpu = CpuNow() - c0;
      if (r == 0) continue;  // the first repetition warms up
      f.seconds.push_back(t);
      f.cpu_seconds.push_back(cpu);
      f.ratio.push_back((static_cast<double>(f.bytes) / t) / (2.0 * static_cast<double>(copy_bytes) / c));
    }
    if (r > 0) copy_s.push_back(c);
  }
  std::printf("| figure | preset | threads | value | unit |\n|---|---|---|---|---|\n");
  std::printf("| memcpy bandwidth (read + write) | - | %d | %.2f | GB/s |\n", threads,
              2.0 * static_cast<double>(copy_bytes) / Median(copy_s) / 1e9);
  for (const Format& f : fmts) {
    std::printf("| %s decode GEMV weight bytes/s (%d layers, %.0f MB) | %s | %d | %.2f | GB/s |\n", f.name.c_str(),
                layers, static_cast<double>(f.bytes) / 1e6, p.name.c_str(), threads,
                static_cast<double>(f.bytes) / Median(f.seconds) / 1e9);
    std::printf("| %s GEMV / memcpy (median of per-repetition ratios) | %s | %d | %.2f | x |\n", f.name.c_str(),
                p.name.c_str(), threads, Median(f.ratio));
    std::printf("| %s GEMV CPU time per weight byte (all threads) | %s | %d | %.3f | ns/B |\n", f.name.c_str(),
                p.name.c_str(), threads, Median(f.cpu_seconds) / static_cast<double>(f.bytes) * 1e9);
  }

  if (!decode.empty()) {
    // The whole decode workload, as the agent runs it: seeded weights
    // quantized at creation, 4 tokens per step after a 64-token prompt.
    auto format = lk::ParseQuantFormat(decode);
    if (!format.ok()) {
      std::fprintf(stderr, "%s\n", std::string(format.status().message()).c_str());
      return 2;
    }
    lk::WorkloadConfig c;
    c.kind = lk::WorkloadKind::kDecode;
    c.preset = p;
    c.precision = lk::DType::kBF16;
    c.weight_format = *format;
    c.batch = 1;
    c.prompt_tokens = 64;
    c.generated_tokens = 4;
    lk::CpuDeviceOptions options;
    options.threads = threads;
    lk::CpuBackend backend(options);
    const double t0 = Now();
    auto w = lk::Workload::Create(backend, c);
    if (!w.ok()) {
      std::fprintf(stderr, "decode workload: %s\n", std::string(w.status().message()).c_str());
      return 1;
    }
    const double create_s = Now() - t0;
    std::vector<double> step_s;
    for (int r = 0; r < 3; ++r) {
      const double s0 = Now();
      if (auto st = (*w)->Step(); !st.ok()) {
        std::fprintf(stderr, "decode step: %s\n", std::string(st.message()).c_str());
        return 1;
      }
      if (r > 0) step_s.push_back(Now() - s0);
    }
    std::printf("| %s decode workload tokens/s (batch 1, p64+g4; arena %.2f GB, creation %.0f s) | %s | %d | %.2f | tok/s |\n",
                decode.c_str(), static_cast<double>((*w)->arena().capacity_bytes()) / 1e9, create_s, p.name.c_str(),
                threads, 4.0 / Median(step_s));
  }
  return 0;
}
