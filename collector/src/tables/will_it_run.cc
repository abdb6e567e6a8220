// Will it run: measured data first, the agent's own memory plan second, and
// speed scaled from the nearest measured hardware; every figure says which.
// Also the inverse (LargestModel) and one submission's standing (StackUp).
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "localbench/collector/store.h"
#include "localbench/collector/tables.h"
#include "localbench/kernels/plan.h"
#include "localbench/kernels/presets.h"
#include "tables/cells.h"
#include "tables/common.h"

namespace localbench::collector {

using tables::Filter;
using tables::PointCell;
using tables::Reader;

namespace {

constexpr uint64_t kMiB = 1ULL << 20;
// The runtime's own memory when nothing comparable was measured: a CUDA or
// HIP context typically holds a few hundred MiB. Stated as an assumption in
// every answer that uses it, with an error band as wide as itself.
constexpr uint64_t kDefaultReserve = 512 * kMiB;

std::string GiB(double bytes) { return absl::StrFormat("%.1f GiB", bytes / double(1ULL << 30)); }

bool IsTraining(v1::WorkloadKind k) {
  return k == v1::WORKLOAD_KIND_TRAIN_LORA || k == v1::WORKLOAD_KIND_TRAIN_FULL;
}

// Fills unset lengths with the standard suite's (the GPU suite, or the CPU
// suite for CPU models), so an answer matches what the agent would measure.
void DefaultLengths(v1::Backend backend, v1::WorkloadKey* w) {
  const bool cpu = backend == v1::BACKEND_CPU;
  if (w->precision() == v1::PRECISION_UNSPECIFIED) w->set_precision(v1::PRECISION_BF16);
  switch (w->kind()) {
    case v1::WORKLOAD_KIND_DECODE:
      if (w->generated_tokens() == 0) w->set_generated_tokens(cpu ? 4 : 64);
      [[fallthrough]];
    case v1::WORKLOAD_KIND_PREFILL:
      if (w->prompt_tokens() == 0) w->set_prompt_tokens(cpu ? 64 : 512);
      break;
    case v1::WORKLOAD_KIND_TRAIN_LORA:
      if (w->lora_rank() == 0) w->set_lora_rank(cpu ? 8 : 16);
      [[fallthrough]];
    default:
      if (w->sequence_tokens() == 0) w->set_sequence_tokens(cpu ? 32 : 512);
      break;
  }
}

kernels::WorkloadConfig ConfigFor(const kernels::ModelPreset& preset, const v1::WorkloadKey& w, int64_t batch) {
  kernels::WorkloadConfig c;
  c.preset = preset;
  c.batch = batch;
  switch (w.kind()) {
    case v1::WORKLOAD_KIND_DECODE: c.kind = kernels::WorkloadKind::kDecode; break;
    case v1::WORKLOAD_KIND_TRAIN_LORA: c.kind = kernels::WorkloadKind::kTrainLora; break;
    case v1::WORKLOAD_KIND_TRAIN_FULL: c.kind = kernels::WorkloadKind::kTrainFull; break;
    default: c.kind = kernels::WorkloadKind::kPrefill; break;
  }
  c.precision = w.precision() == v1::PRECISION_FP32   ? kernels::DType::kF32
                : w.precision() == v1::PRECISION_FP16 ? kernels::DType::kF16
                                                      : kernels::DType::kBF16;
  // Quantized weights: bf16 for everything else (results.proto).
  if (w.precision() == v1::PRECISION_Q8_0) c.weight_format = kernels::QuantFormat::kQ8_0;
  if (w.precision() == v1::PRECISION_Q4_0) c.weight_format = kernels::QuantFormat::kQ4_0;
  if (w.precision() == v1::PRECISION_NF4) c.weight_format = kernels::QuantFormat::kNf4;
  if (w.kind() == v1::WORKLOAD_KIND_PREFILL || w.kind() == v1::WORKLOAD_KIND_DECODE) {
    c.prompt_tokens = w.prompt_tokens();
  }
  if (w.kind() == v1::WORKLOAD_KIND_DECODE) c.generated_tokens = w.generated_tokens();
  if (IsTraining(w.kind())) c.sequence_tokens = w.sequence_tokens();
  if (w.kind() == v1::WORKLOAD_KIND_TRAIN_LORA) c.lora_rank = w.lora_rank();
  if (IsTraining(w.kind())) {  // the training dimensions, set by DefaultTrainingDims
    c.train.activations = w.activation_precision() == v1::PRECISION_BF16   ? kernels::DType::kBF16
                          : w.activation_precision() == v1::PRECISION_FP16 ? kernels::DType::kF16
                                                                           : kernels::DType::kF32;
    c.train.gradient_checkpointing = w.gradient_checkpointing();
    c.train.accumulation_steps = std::max<uint32_t>(1, w.accumulation_steps());
    c.train.loss_chunks = w.loss_chunks();
    c.train.full_accounting = w.full_finetune_accounting() == v1::FULL_FINETUNE_ACCOUNTING_LEAN
                                  ? kernels::FullFinetuneAccounting::kLean
                                  : kernels::FullFinetuneAccounting::kMixed;
  }
  return c;
}

// Sets the training dimensions a request leaves unset to what the agent runs
// by default (the kernels' TrainOptions: fp32 activations, no checkpointing,
// no accumulation, whole loss, MIXED accounting), so the plan and the
// measured cells it is compared with are the same workload.
void DefaultTrainingDims(v1::WorkloadKey* w) {
  if (!IsTraining(w->kind())) return;
  if (!w->has_activation_precision()) w->set_activation_precision(v1::PRECISION_FP32);
  if (!w->has_gradient_checkpointing()) w->set_gradient_checkpointing(false);
  if (!w->has_accumulation_steps()) w->set_accumulation_steps(1);
  if (!w->has_loss_chunks()) w->set_loss_chunks(0);
  if (w->kind() == v1::WORKLOAD_KIND_TRAIN_FULL && !w->has_full_finetune_accounting()) {
    w->set_full_finetune_accounting(v1::FULL_FINETUNE_ACCOUNTING_MIXED);
  }
}

// The runtime's memory beyond the plan, and how it is known.
struct Overhead {
  uint64_t bytes = kDefaultReserve;
  uint64_t band = kDefaultReserve;
  std::string how;
};

Overhead MeasuredOverhead(Reader& rd, v1::Backend backend, const std::string& slug, const v1::WorkloadKey& w) {
  Overhead o;
  const char* backend_name = backend == v1::BACKEND_HIP ? "hip" : backend == v1::BACKEND_CPU ? "cpu" : "cuda";
  for (const auto& r : rd.Plain("plan_residual", rd.version(), std::string(backend_name), slug, w.model_preset(),
                                std::string(KindName(w.kind())))) {
    const int64_t machines = r[1].as<int64_t>();
    if (machines == 0 || r[2].is_null()) continue;
    const double median = std::max(0.0, r[2].as<double>());
    const double p75 = std::max(median, r[3].as<double>());
    o.bytes = static_cast<uint64_t>(median);
    o.band = static_cast<uint64_t>(p75 - median);
    o.how = absl::StrCat("runtime overhead ", GiB(median), " beyond the plan: median over ", machines,
                         " machine(s) ", r[0].as<std::string>() == "model" ? "of this device model" : "of this backend",
                         " of process memory minus planned bytes at batch 1 on this workload (error band: to their "
                         "upper quartile)");
    return o;
  }
  o.how = absl::StrCat("runtime overhead assumed ", GiB(kDefaultReserve),
                       " beyond the plan (a typical GPU runtime context; nothing comparable measured yet), "
                       "error band as wide");
  return o;
}

// Largest value in [1, hi] for which `fits` holds (fits is monotone); 0 if none.
int64_t LargestFitting(int64_t hi, const std::function<bool(int64_t)>& fits) {
  if (!fits(1)) return 0;
  int64_t lo = 1;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo + 1) / 2;
    if (fits(mid)) lo = mid; else hi = mid - 1;
  }
  return lo;
}

v1::Figure Predicted(double value, std::string method, double band) {
  v1::Figure f;
  f.set_value(value);
  f.set_basis(v1::BASIS_PREDICTED);
  f.set_method(std::move(method));
  f.set_error_band(band);
  return f;
}

}  // namespace

absl::StatusOr<v1::WillItRunAnswer> TableService::WillItRun(const v1::WillItRunRequest& request) {
  if (request.device_model().empty() && request.memory_bytes() == 0) {
    return absl::InvalidArgumentError("device_model: required (or memory_bytes)");
  }
  if (!request.device_model().empty() && request.memory_bytes() != 0) {
    return absl::InvalidArgumentError("memory_bytes: give device_model or memory_bytes, not both");
  }
  if (request.memory_bytes() > (1ULL << 50)) return absl::InvalidArgumentError("memory_bytes: out of range");
  if (!request.device_model().empty()) {
    if (auto ok = tables::CheckSlug(request.device_model(), "device_model"); !ok.ok()) return ok;
  }
  Filter check;
  if (auto ok = tables::BindWorkload(request.workload(), "workload", true, &check); !ok.ok()) return ok;
  auto preset = kernels::FindPreset(request.workload().model_preset());
  if (!preset.ok()) return absl::NotFoundError(absl::StrCat("workload.model_preset: ", preset.status().message()));
  if (request.batch_size() > 4096) return absl::InvalidArgumentError("batch_size: at most 4096");
  const uint32_t batch = request.batch_size() == 0 ? 1 : request.batch_size();

  return tables::Read<v1::WillItRunAnswer>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<v1::WillItRunAnswer> {
    if (auto ok = rd.At(request.read().as_of()); !ok.ok()) return ok;
    auto dir = tables::LoadDirectory(rd, directory_.get());
    if (!dir.ok()) return dir.status();
    v1::WillItRunAnswer out;
    *out.mutable_version() = rd.Version();
    v1::DeviceModel model;
    if (!request.device_model().empty()) {
      auto m = tables::FindModel(**dir, request.device_model(), "device_model");
      if (!m.ok()) return m.status();
      model = *m;
      if (model.memory_bytes() == 0) {
        return absl::InvalidArgumentError(
            "device_model: a CPU model has no memory of its own; give memory_bytes for the host instead");
      }
    } else {
      model.set_slug("memory-only");
      model.set_name(absl::StrCat(GiB(static_cast<double>(request.memory_bytes())), " of device memory"));
      model.set_backend(v1::BACKEND_CUDA);
      model.set_memory_bytes(request.memory_bytes());
    }
    *out.mutable_device_model() = model;
    v1::WorkloadKey w = request.workload();
    DefaultLengths(model.backend(), &w);
    DefaultTrainingDims(&w);
    if (auto plan = kernels::PlanMemory(ConfigFor(*preset, w, 1)); !plan.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("workload: the memory plan rejects these settings: ",
                                                     plan.status().message()));
    }
    const uint64_t memory = model.memory_bytes();
    const bool named = !request.device_model().empty();

    // --- The plan: exact buffer-by-buffer, the same code the agent runs.
    const Overhead overhead = MeasuredOverhead(rd, model.backend(), named ? model.slug() : "", w);
    auto plan_at = [&](int64_t b, const v1::WorkloadKey& key) -> uint64_t {
      auto p = kernels::PlanMemory(ConfigFor(*preset, key, b));
      return p.ok() ? p->total_bytes : UINT64_MAX;
    };
    // A batch the plan rejects (e.g. too large to size) never fits: no wrap-around.
    auto need_at = [&](int64_t b) {
      const uint64_t p = plan_at(b, w);
      return p == UINT64_MAX ? UINT64_MAX : p + overhead.bytes;
    };
    const uint64_t need = need_at(batch);
    if (need == UINT64_MAX) return absl::InvalidArgumentError("workload: the memory plan rejects these settings");
    out.set_margin_bytes(static_cast<int64_t>(memory) - static_cast<int64_t>(need));
    *out.mutable_required_bytes() =
        Predicted(static_cast<double>(need), absl::StrCat("memory plan (same code as the agent) plus ", overhead.how),
                  static_cast<double>(overhead.band));
    v1::Fit fit = out.margin_bytes() < 0                                          ? v1::FIT_DOES_NOT_FIT
              : static_cast<uint64_t>(out.margin_bytes()) < overhead.band ? v1::FIT_TIGHT
                                                                             : v1::FIT_FITS;
    auto fits_in = [&](uint64_t budget) {
      return [&, budget](int64_t b) { return need_at(b) <= budget; };
    };
    const int64_t largest = LargestFitting(1 << 16, fits_in(memory));
    const int64_t largest_safe = LargestFitting(1 << 16, fits_in(memory > overhead.band ? memory - overhead.band : 0));
    *out.mutable_largest_batch() = Predicted(static_cast<double>(largest), "memory plan (same code as the agent)",
                                             static_cast<double>(largest - largest_safe));
    auto length_fits = [&](uint64_t budget) {
      return [&, budget](int64_t len) {
        v1::WorkloadKey k = w;
        if (IsTraining(k.kind())) k.set_sequence_tokens(static_cast<uint32_t>(len));
        else k.set_prompt_tokens(static_cast<uint32_t>(len));
        const uint64_t p = plan_at(batch, k);
        return p != UINT64_MAX && p + overhead.bytes <= budget;
      };
    };
    const int64_t longest = LargestFitting(1 << 20, length_fits(memory));
    const int64_t longest_safe =
        LargestFitting(1 << 20, length_fits(memory > overhead.band ? memory - overhead.band : 0));
    *out.mutable_longest_sequence_tokens() =
        Predicted(static_cast<double>(longest),
                  absl::StrCat("memory plan at batch ", batch, IsTraining(w.kind()) ? " (sequence length)" : " (prompt length)"),
                  static_cast<double>(longest - longest_safe));

    // --- Measurements on this device model override the plan's verdict.
    Filter f;
    if (auto ok = tables::BindWorkload(w, "workload", true, &f); !ok.ok()) return ok;
    std::string measured_note;
    if (named) {
      f.slugs = model.slug();
      for (const v1::OomRow& row : tables::OomRows(rd, f, **dir)) {
        if (tables::KeyString(row.workload()) != tables::KeyString(w) || !row.has_largest_ok_batch()) continue;
        v1::Figure* lb = out.mutable_largest_batch();
        lb->set_value(row.largest_ok_batch().median());
        lb->set_basis(v1::BASIS_MEASURED);
        lb->set_machine_count(row.support().machine_count());
        lb->set_method(absl::StrCat("measured: median over ", row.support().machine_count(),
                                    " machine(s) of the largest batch that ran"));
        lb->set_error_band((row.largest_ok_batch().p75() - row.largest_ok_batch().p25()) / 2);
        if (batch <= row.largest_ok_batch().median()) {
          fit = fit == v1::FIT_DOES_NOT_FIT ? v1::FIT_TIGHT : fit;
        } else if (row.has_smallest_failed_batch() && batch >= row.smallest_failed_batch().median()) {
          fit = v1::FIT_DOES_NOT_FIT;
        }
        measured_note = absl::StrCat("fit checked against measurements of ", row.support().machine_count(),
                                     " machine(s) of this device model");
      }
    }
    out.set_fit(fit);

    // --- Speed: measured here, else scaled from the nearest measured model.
    // This model's own cell first (cheap); every model's only when it has none.
    f.batch_size = batch;
    std::vector<PointCell> cells;
    auto collect = [&] {
      for (PointCell& c : tables::PointCells(rd, f)) {
        if (tables::KeyString(c.workload) == tables::KeyString(w) && c.tokens_per_second) cells.push_back(std::move(c));
      }
    };
    if (named) collect();
    if (cells.empty()) {
      f.slugs.clear();
      collect();
    }
    v1::Figure* tps = out.mutable_tokens_per_second();
    const bool bandwidth_bound = w.kind() == v1::WORKLOAD_KIND_DECODE;
    auto figure_of = [&](const v1::DeviceModel& m) {
      if (bandwidth_bound) return m.memory_bandwidth_bytes_per_second();
      return w.precision() == v1::PRECISION_FP32 ? m.fp32_tflops() : m.bf16_tflops();
    };
    const char* figure_name = bandwidth_bound ? "memory bandwidth" : "compute";
    const PointCell* own = nullptr;
    for (const auto& c : cells) {
      if (named && c.slug == model.slug()) own = &c;
    }
    if (own != nullptr) {
      tps->set_value(own->tokens_per_second->median());
      tps->set_basis(v1::BASIS_MEASURED);
      tps->set_machine_count(static_cast<uint32_t>(own->machines));
      tps->set_method(absl::StrCat("measured: median over ", own->machines, " machine(s) of each machine's median"));
      tps->set_error_band((own->tokens_per_second->p75() - own->tokens_per_second->p25()) / 2);
    } else if (named && figure_of(model) > 0) {
      const PointCell* nearest = nullptr;
      double best = 0;
      for (const auto& c : cells) {
        const double theirs = figure_of(tables::ModelOf(**dir, c.slug));
        if (theirs <= 0) continue;
        const double distance = std::fabs(std::log(theirs / figure_of(model)));
        if (nearest == nullptr || distance < best) {
          nearest = &c;
          best = distance;
        }
      }
      if (nearest != nullptr) {
        const double ratio = figure_of(model) / figure_of(tables::ModelOf(**dir, nearest->slug));
        tps->set_value(nearest->tokens_per_second->median() * ratio);
        tps->set_basis(v1::BASIS_PREDICTED);
        tps->set_machine_count(static_cast<uint32_t>(nearest->machines));
        tps->set_method(absl::StrFormat(
            "scaled from %s (%d machine(s)) by %s (%g -> %g %s); assumes speed follows that figure linearly",
            nearest->slug, nearest->machines, figure_name,
            figure_of(tables::ModelOf(**dir, nearest->slug)) / (bandwidth_bound ? 1e9 : 1.0),
            figure_of(model) / (bandwidth_bound ? 1e9 : 1.0), bandwidth_bound ? "GB/s" : "TFLOP/s"));
        tps->set_error_band((nearest->tokens_per_second->p75() - nearest->tokens_per_second->p25()) / 2 * ratio);
      }
    }
    if (tps->basis() == v1::BASIS_UNSPECIFIED) {
      tps->set_method(named ? absl::StrCat("unknown: no measurement of this workload at batch ", batch,
                                           " on this or comparable hardware with a published ", figure_name, " figure")
                            : "unknown: name a device model to predict speed");
    }

    // --- Gradient accumulation: the same effective batch in smaller steps.
    if (fit == v1::FIT_DOES_NOT_FIT && batch > 1) {
      for (uint32_t micro = batch - 1; micro >= 1; --micro) {
        if (batch % micro != 0 || need_at(micro) > memory) continue;
        if (IsTraining(w.kind())) {
          out.set_suggested_micro_batch(micro);
          out.set_suggested_accumulation_steps(batch / micro);
          out.set_advice(absl::StrFormat(
              "batch %d does not fit (needs %s of %s); use batch %d x accumulation %d for the same effective "
              "batch of %d (batch %d needs %s)",
              batch, GiB(static_cast<double>(need)), GiB(static_cast<double>(memory)), micro, batch / micro, batch,
              micro, GiB(static_cast<double>(need_at(micro)))));
        } else {
          out.set_advice(absl::StrFormat("batch %d does not fit; batch %d does (%s), in %d steps", batch, micro,
                                         GiB(static_cast<double>(need_at(micro))), batch / micro));
        }
        break;
      }
    }

    // --- What the answer assumes, and how to measure it for real.
    out.add_assumptions(absl::StrCat("precision ", PrecisionName(w.precision()),
                                     " (weights, activations and KV cache stored at it; compute in fp32)"));
    if (IsTraining(w.kind())) {
      out.add_assumptions(absl::StrCat("sequence length ", w.sequence_tokens(), " tokens"));
      out.add_assumptions(w.gradient_checkpointing()
                              ? "gradient checkpointing per layer: each layer's input is kept and the rest "
                                "recomputed in the backward pass"
                              : "no activation checkpointing: every activation is kept for the backward pass");
      out.add_assumptions(w.activation_precision() == v1::PRECISION_FP32
                              ? std::string("saved activations in fp32")
                              : absl::StrCat("saved activations in ", PrecisionName(w.activation_precision()),
                                             " (norm statistics, softmax and loss in fp32)"));
      if (w.accumulation_steps() > 1) {
        out.add_assumptions(absl::StrCat("gradient accumulation over ", w.accumulation_steps(),
                                         " micro-batches of the batch size (effective batch ",
                                         batch * w.accumulation_steps(), "); memory is one micro-batch's"));
      }
      if (w.loss_chunks() > 0) {
        out.add_assumptions(absl::StrCat("cross-entropy in ", w.loss_chunks(), " chunks of token rows"));
      }
      out.add_assumptions(w.kind() == v1::WORKLOAD_KIND_TRAIN_LORA
                              ? absl::StrCat("LoRA rank ", w.lora_rank(), ", AdamW on the adapters only")
                          : w.full_finetune_accounting() == v1::FULL_FINETUNE_ACCOUNTING_LEAN
                              ? "AdamW on every weight, lean: weights and gradients in the run's precision, fp32 "
                                "moments, no master copy (12 bytes per parameter for 16-bit weights)"
                              : "AdamW on every weight, mixed precision: fp32 master weights, gradients and "
                                "moments (18 bytes per parameter for 16-bit weights)");
    } else {
      out.add_assumptions(absl::StrCat("prompt length ", w.prompt_tokens(), " tokens"));
      if (w.generated_tokens()) out.add_assumptions(absl::StrCat(w.generated_tokens(), " generated tokens per sequence"));
    }
    out.add_assumptions(absl::StrCat("device memory ", GiB(static_cast<double>(memory)),
                                     named ? (model.in_catalogue() ? " (catalogue)" : " (largest reported)") : " (given)"));
    out.add_assumptions(overhead.how);
    if (!measured_note.empty()) out.add_assumptions(measured_note);
    const char* device = model.backend() == v1::BACKEND_HIP ? "hip" : model.backend() == v1::BACKEND_CPU ? "cpu" : "cuda";
    out.set_measure_command(tables::MeasureCommand(w, batch, device));
    return out;
  });
}

absl::StatusOr<v1::LargestModelAnswer> TableService::LargestModel(const v1::LargestModelRequest& request) {
  if (!v1::WorkloadKind_IsValid(request.kind()) || request.kind() == v1::WORKLOAD_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError("kind: required");
  }
  if (!v1::Precision_IsValid(request.precision())) return absl::InvalidArgumentError("precision: unknown precision");
  if (!(request.min_tokens_per_second() >= 0) || std::isinf(request.min_tokens_per_second())) {
    return absl::InvalidArgumentError("min_tokens_per_second: must be a finite number >= 0");
  }
  auto version = tables::Read<int64_t>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<int64_t> {
    if (auto ok = rd.At(request.read().as_of()); !ok.ok()) return ok;
    return rd.version();
  });
  if (!version.ok()) return version.status();
  // Real presets, largest first (the tiny test shapes are not answers).
  std::vector<kernels::ModelPreset> presets;
  for (const auto& p : kernels::AllPresets()) {
    if (p.name.rfind("tiny-", 0) != 0) presets.push_back(p);
  }
  std::stable_sort(presets.begin(), presets.end(), [](const auto& a, const auto& b) {
    return a.ParameterCount() > b.ParameterCount();
  });
  v1::LargestModelAnswer out;
  for (const auto& p : presets) {
    v1::WillItRunRequest q;
    q.mutable_read()->set_as_of(*version);
    q.set_device_model(request.device_model());
    q.set_memory_bytes(request.memory_bytes());
    q.mutable_workload()->set_model_preset(p.name);
    q.mutable_workload()->set_kind(request.kind());
    q.mutable_workload()->set_precision(request.precision() == v1::PRECISION_UNSPECIFIED ? v1::PRECISION_BF16
                                                                                        : request.precision());
    q.set_batch_size(request.batch_size());
    auto answer = WillItRun(q);
    if (!answer.ok()) return answer.status();
    if (!out.has_version()) *out.mutable_version() = answer->version();
    const bool fits = answer->fit() != v1::FIT_DOES_NOT_FIT;
    const bool fast = request.min_tokens_per_second() == 0 ||
                      (answer->tokens_per_second().basis() != v1::BASIS_UNSPECIFIED &&
                       answer->tokens_per_second().value() >= request.min_tokens_per_second());
    if (fits && fast && out.model_preset().empty()) out.set_model_preset(p.name);
    *out.add_candidates() = *std::move(answer);
  }
  return out;
}

absl::StatusOr<v1::StackUpAnswer> TableService::StackUp(const v1::StackUpRequest& request) {
  if (auto ok = tables::CheckUuid(request.submission_id(), "submission_id"); !ok.ok()) return ok;
  return tables::Read<v1::StackUpAnswer>(pool_, verify_, [&](Reader& rd) -> absl::StatusOr<v1::StackUpAnswer> {
    if (auto ok = rd.At(request.read().as_of()); !ok.ok()) return ok;
    auto sub = rd.Plain("submission", rd.version(), request.submission_id());
    const bool stored = !sub.empty() && sub[0][2].as<int64_t>() <= rd.version();
    const bool hidden = stored && !sub[0][3].is_null() && sub[0][3].as<std::string>() != "restore";
    if (!stored || hidden) {
      return absl::NotFoundError(absl::StrCat("submission_id: no public submission ", request.submission_id(),
                                              " at data version ", rd.version()));
    }
    v1::StackUpAnswer out;
    *out.mutable_version() = rd.Version();
    out.set_submission_id(request.submission_id());
    out.set_device_model(sub[0][5].as<std::string>());
    for (const auto& r : rd.Plain("stack_up", rd.version(), request.submission_id())) {
      v1::StackUpRow* row = out.add_rows();
      *row->mutable_workload() = tables::WorkloadAt(r, 0);
      constexpr int k = tables::kKeyColumns;  // columns after the key: see stack_up.sql
      row->set_batch_size(r[k].as<uint32_t>());
      row->set_tokens_per_second(r[k + 1].as<double>());
      const double n = r[k + 2].as<double>();
      row->set_machine_count(r[k + 2].as<uint32_t>());
      row->set_percentile(100.0 * (r[k + 3].as<double>() + 0.5 * r[k + 4].as<double>()) / n);
    }
    return out;
  });
}

}  // namespace localbench::collector
