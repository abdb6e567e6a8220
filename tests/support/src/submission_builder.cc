#include "localbench/test_support/submission_builder.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace localbench::test_support {
namespace {

std::string Hex(std::mt19937_64& rng, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) absl::StrAppendFormat(&out, "%02x", static_cast<unsigned>(rng() & 0xff));
  return out;
}

constexpr int64_t kStartedAt = 1748779200;  // 2025-06-01T12:00:00Z

}  // namespace

std::string UuidFor(uint64_t seed) {
  std::mt19937_64 rng(seed * 0x9e3779b97f4a7c15ULL + 1);
  std::string h = Hex(rng, 16);
  h[12] = '4';                                   // version 4 layout
  h[16] = "89ab"[static_cast<unsigned char>(h[16]) % 4];  // RFC 4122 variant
  return absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4), "-", h.substr(16, 4), "-",
                      h.substr(20, 12));
}

std::string FingerprintFor(uint64_t seed) {
  std::mt19937_64 rng(seed * 0xbf58476d1ce4e5b9ULL + 7);
  return Hex(rng, 32);
}

v1::Submission MakeSubmission(uint64_t seed, int sweeps, int points_per_sweep) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> jitter(0.97, 1.03);
  v1::Submission s;
  s.set_submission_id(UuidFor(seed));
  s.set_machine_fingerprint(FingerprintFor(seed));
  v1::Device* d = s.mutable_hardware()->mutable_device();
  d->set_backend(v1::BACKEND_CUDA);
  d->set_vendor(v1::VENDOR_NVIDIA);
  d->set_name("NVIDIA GeForce RTX 4090");
  d->set_memory_total_bytes(25757220864ULL);
  d->set_memory_free_at_start_bytes(25210650624ULL);
  d->set_driver_version("580.65.06");
  d->set_runtime_version("13.0");
  d->set_compute_capability("8.9");
  d->set_multiprocessor_count(128);
  d->set_pcie_link("gen4 x16");
  v1::Host* h = s.mutable_hardware()->mutable_host();
  h->set_cpu_model("AMD Ryzen 9 7950X 16-Core Processor");
  h->set_cpu_physical_cores(16);
  h->set_cpu_logical_cores(32);
  h->set_ram_total_bytes(64ULL << 30);
  h->set_os_name("Debian GNU/Linux 12 (bookworm)");
  h->set_os_kernel("6.1.0-26-amd64");
  v1::Software* sw = s.mutable_software();
  sw->set_agent_version("v0.1.0-3-gabcdef0");
  sw->set_kernel_source_hash(std::string(64, 'a'));
  sw->set_suite_version("2026.11");
  sw->set_suite_hash(std::string(64, 'b'));
  s.mutable_started_at()->set_seconds(kStartedAt);
  s.mutable_finished_at()->set_seconds(kStartedAt + 600 + static_cast<int64_t>(seed % 600));

  static constexpr v1::WorkloadKind kKinds[] = {v1::WORKLOAD_KIND_DECODE, v1::WORKLOAD_KIND_PREFILL,
                                                v1::WORKLOAD_KIND_TRAIN_LORA, v1::WORKLOAD_KIND_TRAIN_FULL};
  static constexpr v1::Precision kPrecisions[] = {v1::PRECISION_FP16, v1::PRECISION_BF16, v1::PRECISION_FP32};
  for (int i = 0; i < sweeps; ++i) {
    v1::Sweep* sweep = s.add_sweeps();
    v1::Workload* w = sweep->mutable_workload();
    w->set_model_preset("llama-3.2-1b");
    w->set_kind(kKinds[i % 4]);
    w->set_precision(kPrecisions[i % 3]);
    switch (w->kind()) {
      case v1::WORKLOAD_KIND_DECODE:
        w->set_prompt_tokens(512);
        w->set_generated_tokens(128);
        break;
      case v1::WORKLOAD_KIND_PREFILL:
        w->set_prompt_tokens(512);
        break;
      case v1::WORKLOAD_KIND_TRAIN_LORA:
        w->set_sequence_tokens(1024);
        w->set_lora_rank(16);
        break;
      default:
        w->set_sequence_tokens(1024);
        break;
    }
    // Above the weights of llama-3.2-1b even in fp32 (4.9 GB): plausibility
    // flags a peak below the weights alone.
    const uint64_t base_bytes = (5ULL << 30) + static_cast<uint64_t>(i) * (256ULL << 20);
    const uint64_t per_sequence = 96ULL << 20;
    uint32_t largest_ok = 0;
    uint32_t smallest_failed = 0;
    for (int k = 0; k < points_per_sweep; ++k) {
      const auto batch = static_cast<uint32_t>((k + 1) * (k + 1));
      v1::Point* p = sweep->add_points();
      p->set_batch_size(batch);
      p->set_planned_bytes(base_bytes + per_sequence * batch);
      p->set_reproduce_command(absl::StrFormat(
          "localbench-agent run --preset llama-3.2-1b --kind %s --batch %d",
          v1::WorkloadKind_Name(w->kind()), batch));
      const bool oom = points_per_sweep >= 2 && k == points_per_sweep - 1;
      if (oom) {
        p->set_status(v1::POINT_STATUS_OOM);
        p->set_error_message(absl::StrFormat("cudaMalloc failed: out of memory (%d bytes requested)",
                                             per_sequence * batch));
        smallest_failed = batch;
        continue;
      }
      p->set_status(v1::POINT_STATUS_OK);
      p->set_repetitions(20);
      p->set_warmup_steps(3);
      // Throughput grows sublinearly with batch, as bandwidth-bound decode
      // turns compute-bound.
      const double tps = 180.0 * batch / (1.0 + 0.02 * batch) * jitter(rng);
      p->set_tokens_per_second_median(tps);
      p->set_tokens_per_second_min(tps * 0.95);
      p->set_tokens_per_second_max(tps * 1.04);
      // Step times agree with tokens/s as the agent derives them
      // (kernels/src/sweep.cc): tokens per step / step seconds.
      const double tokens = static_cast<double>(batch) *
                            (w->kind() == v1::WORKLOAD_KIND_DECODE    ? w->generated_tokens()
                             : w->kind() == v1::WORKLOAD_KIND_PREFILL ? w->prompt_tokens()
                                                                      : w->sequence_tokens());
      const double step = tokens / tps;
      p->set_step_seconds_median(step);
      p->set_step_seconds_min(tokens / p->tokens_per_second_max());
      p->set_step_seconds_max(tokens / p->tokens_per_second_min());
      p->set_step_seconds_mean(step * 1.01);
      const uint64_t used = p->planned_bytes() + (static_cast<uint64_t>(rng() % 64) << 20);
      p->set_arena_peak_bytes(p->planned_bytes());
      p->set_device_delta_bytes(used);
      p->set_process_memory_bytes(used + (400ULL << 20));
      p->set_sm_clock_mhz(2520);
      largest_ok = batch;
    }
    sweep->set_largest_ok_batch(largest_ok);
    sweep->set_smallest_failed_batch(smallest_failed);
    sweep->set_planned_max_batch(largest_ok);
  }
  return s;
}

}  // namespace localbench::test_support
