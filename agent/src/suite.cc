#include "localbench/agent/suite.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "localbench/common/crypto.h"
#include "localbench/common/names.h"
#include "localbench/kernels/presets.h"
#include "suite_scoped.h"

namespace localbench::agent {
namespace {

constexpr std::uint64_t kMiB = 1024ull * 1024;

bool UsesPrompt(v1::WorkloadKind k) { return k == v1::WORKLOAD_KIND_PREFILL || k == v1::WORKLOAD_KIND_DECODE; }
bool IsTraining(v1::WorkloadKind k) {
  return k == v1::WORKLOAD_KIND_TRAIN_LORA || k == v1::WORKLOAD_KIND_TRAIN_FULL;
}

// Default lengths for a kind the suite has no template of (asked for with
// --workloads): the shortest the suite uses elsewhere, or small fixed ones.
SuiteTemplate DefaultTemplate(v1::WorkloadKind kind, v1::Precision precision) {
  SuiteTemplate t;
  t.kind = kind;
  t.precision = precision;
  if (UsesPrompt(kind)) t.prompt_tokens = 128;
  if (kind == v1::WORKLOAD_KIND_DECODE) t.generated_tokens = 16;
  if (IsTraining(kind)) t.sequence_tokens = 128;
  if (kind == v1::WORKLOAD_KIND_TRAIN_LORA) t.lora_rank = 8;
  return t;
}

}  // namespace

std::string Suite::CanonicalText() const {
  std::ostringstream out;
  out << "localbench-suite-v1\n"
      << "name=" << name << "\nversion=" << version << "\n"
      << "repetitions=" << repetitions << "\nwarmup_steps=" << warmup_steps << "\n"
      << "max_batch=" << max_batch << "\ncpu_memory_limit_bytes=" << cpu_memory_limit_bytes << "\n";
  // Suites with the sized-to-the-machine rule state it (older suites' text,
  // and so their hashes, stay as they were).
  if (cpu_memory_margin_fraction > 0 || cpu_memory_margin_min_bytes > 0) {
    out << "cpu_memory_rule=MemAvailable minus max(" << cpu_memory_margin_fraction << " x MemAvailable, "
        << cpu_memory_margin_min_bytes << " bytes)\n";
  }
  // The time rule as stated: the runner enforces the reservation by running
  // those batch-1 points first, then the other batches in what time is left
  // (runner.cc). The order points run in defines no point (nor does
  // --budget), so the text, and the hash of 2026.12, stay as first stated.
  if (time_budget_seconds > 0) {
    out << "time_budget_rule=default " << time_budget_seconds
        << " s; batch 1 of prefill and decode reserved per preset, largest presets give way first; "
           "points past the budget recorded as skipped_for_time; a threshold not proven is marked planned\n"
        << "sweep_rule=double until a batch fails past the plan, then bisect to an adjacent bracket\n";
  }
  out
      << "batches=";
  for (std::size_t i = 0; i < batches.size(); ++i) out << (i ? "," : "") << batches[i];
  out << "\n";
  for (const auto& name_ : presets) {
    out << "preset " << name_;
    // The shape, not only the name: a corrected shape is a different suite.
    if (auto p = kernels::FindPreset(name_); p.ok()) {
      out << " vocab=" << p->vocab << " hidden=" << p->hidden << " intermediate=" << p->intermediate
          << " layers=" << p->layers << " heads=" << p->heads << " kv_heads=" << p->kv_heads
          << " head_dim=" << p->head_dim << " rope_theta=" << p->rope_theta
          << " tied=" << p->tied_embeddings << " qkv_bias=" << p->qkv_bias << " rms_eps=" << p->rms_eps;
    }
    out << "\n";
  }
  for (const auto& t : templates) out << CanonicalWorkload(t) << "\n";
  out << CanonicalScoped(*this);
  return out.str();
}

std::string Suite::Hash() const { return Sha256Hex(CanonicalText()); }

std::uint64_t CpuMemoryBudget(const Suite& suite, std::uint64_t available_bytes) {
  if (suite.cpu_memory_limit_bytes != 0) return suite.cpu_memory_limit_bytes;
  const auto margin = std::max<std::uint64_t>(
      static_cast<std::uint64_t>(suite.cpu_memory_margin_fraction * static_cast<double>(available_bytes)),
      suite.cpu_memory_margin_min_bytes);
  // A machine with less than the margin free still gets a small budget, so
  // the run says "won't fit" instead of failing to start.
  return available_bytes > margin + 64 * kMiB ? available_bytes - margin : 64 * kMiB;
}

std::uint64_t AvailableMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  std::string name, unit;
  std::uint64_t kib = 0;
  while (in >> name >> kib >> unit) {
    if (name == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

Suite CpuSuite() {
  // Sized to the machine: the memory budget is what the OS can give without
  // swapping, less a margin, so "will it run without a GPU" is answered for
  // the presets people care about; the time budget (10 min by default)
  // decides how far each sweep goes. Batch 1 of prefill and decode of every
  // preset that fits is reserved first; the doubling sweep and the OOM
  // bracket use what time is left, and a threshold it cannot prove in time
  // is reported as planned.
  Suite s;
  s.name = "cpu";
  s.version = "2026.12-cpu";
  s.presets = {"qwen2.5-0.5b", "llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b"};
  s.templates = {
      {v1::WORKLOAD_KIND_PREFILL, v1::PRECISION_BF16, 64, 0, 0, 0, {}},
      {v1::WORKLOAD_KIND_DECODE, v1::PRECISION_BF16, 64, 4, 0, 0, {}},
      {v1::WORKLOAD_KIND_TRAIN_LORA, v1::PRECISION_BF16, 0, 0, 32, 8, {}},
  };
  s.max_batch = 0;
  s.repetitions = 2;
  s.warmup_steps = 1;
  s.cpu_memory_margin_fraction = 0.10;
  s.cpu_memory_margin_min_bytes = 1024 * kMiB;
  s.time_budget_seconds = 600;
  return s;
}

Suite GpuSuite() {
  // Sized for a 24 GB card in about ten minutes (docs/BENCHMARKS.md); smaller
  // cards run the presets that fit and record the others as not fitting.
  // No batch cap: every sweep doubles past the plan and bisects until the
  // OOM bracket is proven, or the time budget says stop.
  Suite s;
  s.name = "gpu";
  s.version = "2026.12-gpu";
  s.presets = {"qwen2.5-0.5b", "llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b", "qwen2.5-7b", "mistral-7b-v0.3"};
  s.templates = {
      {v1::WORKLOAD_KIND_PREFILL, v1::PRECISION_BF16, 512, 0, 0, 0, {}},
      {v1::WORKLOAD_KIND_DECODE, v1::PRECISION_BF16, 512, 64, 0, 0, {}},
      {v1::WORKLOAD_KIND_TRAIN_LORA, v1::PRECISION_BF16, 0, 0, 512, 16, {}},
      {v1::WORKLOAD_KIND_TRAIN_FULL, v1::PRECISION_BF16, 0, 0, 512, 0, {}},
  };
  s.max_batch = 0;
  s.repetitions = 3;
  s.warmup_steps = 1;
  s.time_budget_seconds = 600;
  return s;
}

Suite StandardSuite(v1::Backend backend) {
  return backend == v1::BACKEND_CPU ? CpuSuite2027() : GpuSuite2027();
}

absl::StatusOr<Suite> SuiteFor(std::string_view version, v1::Backend backend) {
  if (version.empty() || version == "2027.01") return StandardSuite(backend);
  if (version == "2026.12") return backend == v1::BACKEND_CPU ? CpuSuite() : GpuSuite();
  return absl::InvalidArgumentError("--suite: unknown suite version \"" + std::string(version) +
                                    "\" (known: 2026.12, 2027.01)");
}

absl::StatusOr<Suite> ApplyOptions(const Suite& standard, const RunOptions& o) {
  Suite s = standard;
  if (!o.presets.empty()) {
    s.presets.clear();
    for (const auto& name : o.presets) {
      if (auto p = kernels::FindPreset(name); !p.ok()) return absl::InvalidArgumentError(p.status().message());
      if (std::find(s.presets.begin(), s.presets.end(), name) == s.presets.end()) s.presets.push_back(name);
    }
  }
  std::vector<SuiteTemplate> templates = s.templates;
  if (!o.workloads.empty()) {
    templates.clear();
    for (auto kind : o.workloads) {
      bool found = false;
      for (const auto& t : s.templates) {
        if (t.kind == kind) {
          templates.push_back(t);
          found = true;
        }
      }
      if (!found) {
        templates.push_back(DefaultTemplate(kind, s.templates.empty() ? v1::PRECISION_FP32 : s.templates[0].precision));
      }
    }
  }
  // Each list option replaces its field in every template that uses it; the
  // product of the lists is what runs (a sweep over sequence length too).
  auto expand = [&](auto applies, auto set, const auto& values) {
    if (values.empty()) return;
    std::vector<SuiteTemplate> out;
    for (const auto& t : templates) {
      if (!applies(t)) {
        out.push_back(t);
        continue;
      }
      for (auto v : values) {
        SuiteTemplate copy = t;
        set(copy, v);
        out.push_back(copy);
      }
    }
    templates = std::move(out);
  };
  expand([](const SuiteTemplate&) { return true; },
         [](SuiteTemplate& t, v1::Precision p) { t.precision = p; }, o.precisions);
  expand([](const SuiteTemplate& t) { return UsesPrompt(t.kind); },
         [](SuiteTemplate& t, std::uint32_t v) { t.prompt_tokens = v; }, o.prompt_tokens);
  expand([](const SuiteTemplate& t) { return t.kind == v1::WORKLOAD_KIND_DECODE; },
         [](SuiteTemplate& t, std::uint32_t v) { t.generated_tokens = v; }, o.generated_tokens);
  expand([](const SuiteTemplate& t) { return IsTraining(t.kind); },
         [](SuiteTemplate& t, std::uint32_t v) { t.sequence_tokens = v; }, o.sequence_tokens);
  // Training dimensions (one value each) replace the field in every
  // training template; templates that become equal run once.
  for (auto& t : templates) {
    if (!IsTraining(t.kind)) continue;
    if (o.activation_precision) {
      // A run over quantized weights computes in bf16 (QLoRA): bf16 there.
      const v1::Precision run16 = IsQuantized(t.precision) ? v1::PRECISION_BF16 : t.precision;
      if (*o.activation_precision != v1::PRECISION_FP32 && *o.activation_precision != run16) {
        return absl::InvalidArgumentError("--activation-precision must be fp32 or the run's precision (" +
                                          std::string(PrecisionName(run16)) + ")");
      }
      t.train.activation_precision =
          *o.activation_precision == v1::PRECISION_FP32 ? v1::PRECISION_UNSPECIFIED : *o.activation_precision;
    }
    if (o.gradient_checkpointing) t.train.gradient_checkpointing = *o.gradient_checkpointing;
    if (o.accumulation_steps) t.train.accumulation_steps = *o.accumulation_steps == 1 ? 0 : *o.accumulation_steps;
    if (o.loss_chunks) t.train.loss_chunks = *o.loss_chunks;
    if (o.full_accounting && t.kind == v1::WORKLOAD_KIND_TRAIN_FULL) t.train.full_finetune_accounting = *o.full_accounting;
  }
  // Duplicates (e.g. two templates collapsed onto one precision) run once;
  // `deferred` is a scheduling hint, not part of the shape, so a shape kept
  // both deferred and not runs once, not deferred.
  s.templates.clear();
  for (const auto& t : templates) {
    auto same_shape = [&t](const SuiteTemplate& u) {
      SuiteTemplate a = t, b = u;
      a.deferred = b.deferred = false;
      return a == b;
    };
    auto it = std::find_if(s.templates.begin(), s.templates.end(), same_shape);
    if (it == s.templates.end()) {
      s.templates.push_back(t);
    } else {
      it->deferred = it->deferred && t.deferred;
    }
  }
  if (!o.batches.empty()) {
    std::set<std::uint32_t> sorted(o.batches.begin(), o.batches.end());
    s.batches.assign(sorted.begin(), sorted.end());
    s.max_batch = 0;
  }
  if (o.max_batch != 0) {
    s.max_batch = o.max_batch;
    s.batches.clear();
  }
  if (o.repetitions != 0) s.repetitions = o.repetitions;
  if (o.memory_limit_bytes != 0) s.cpu_memory_limit_bytes = o.memory_limit_bytes;
  NarrowScoped(standard, o, s);
  if (s.presets.empty() || s.templates.empty()) {
    return absl::InvalidArgumentError("the selection leaves nothing to run");
  }
  if (s.CanonicalText() != standard.CanonicalText()) {
    s.name = "custom";
    s.version = standard.version + "+custom";
  }
  return s;
}

std::vector<SuiteItem> Expand(const Suite& suite) {
  std::vector<SuiteItem> items;
  for (const auto& preset : suite.presets) {
    for (const auto& t : suite.templates) items.push_back({preset, t});
    AppendScoped(suite, preset, items);
  }
  for (const auto& preset : ScopedOnlyPresets(suite)) AppendScoped(suite, preset, items);
  return items;
}

}  // namespace localbench::agent
